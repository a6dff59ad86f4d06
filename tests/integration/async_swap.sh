#!/usr/bin/env bash
# The four-role swap of async pairs (issue 13 part 5) between two real sites, their replication
# link through the WAN proxy (5 ms each way):
# - planned swap (`takeover --group app` at b while a answers): numbered fsync'd records written
#   at a across the group's two volumes; after the takeover every acknowledged record is at b
#   (zero loss), b is the primary with the master journal, a refuses writes, and b's writes reach
#   a through the journal; back again with `takeover db` at a (one pair moves its whole group);
# - unplanned takeover: records written at a while the link is stalled (never shipped), a killed
#   -9, `takeover --group app` at b: SSWS and writable, the RPO line says what was lost; a
#   restarted does not write on its own (outdated; its old batches refused by generation, b's
#   writes intact); `resync --group app --swap` at b: identical copies (a's unshipped records
#   overwritten), PAIR with b the primary, b's writes journaled to a.
# - asyncrest: the takeover's RPO is in b's display (rpo_* fields, the RPO column) and survives a
#   restart of b; the resync --swap fits the journal, so it goes through it as one batch: both
#   pairs PAIR when the command returns, a's transition log never says inconsistent, and the
#   RPO record is cleared.
# Outcomes and order only; deadlines only catch hangs.
. "$(dirname "$0")/lib.sh"

write_pair_configs 'peer_timeout_ms = 1000
[journal]
size = "16M"'
start_sites_over_wan 5
create_async_group 4M 4M

# records.py MOUNT COUNT ACKED_LOG TAG: record k (TAG + k) alternates between db and log, one
# 4 KiB block each, fsync'd; k goes to ACKED_LOG once acknowledged.
cat > "$WORK/records.py" <<'PY'
import os, sys
mount, count, log, tag = sys.argv[1], int(sys.argv[2]), open(sys.argv[3], "w"), sys.argv[4].encode()
fds = [os.open(mount + "/db", os.O_WRONLY), os.open(mount + "/log", os.O_WRONLY)]
for k in range(1, count + 1):
    fd = fds[k % 2]
    os.pwrite(fd, (tag + b"%08d" % k).ljust(4096, b"."), (k // 2) * 4096)
    os.fsync(fd)
    log.write("%d\n" % k)
    log.flush()
PY
# present.py DATA_DIR TAG COUNT: prints how many of records 1..COUNT the site's images hold and
# the first missing one; exit 0 if all.
cat > "$WORK/present.py" <<'PY'
import sys
data, tag, count = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
images = [open(data + "/volumes/db.img", "rb").read(), open(data + "/volumes/log.img", "rb").read()]
present = [images[k % 2][(k // 2) * 4096:(k // 2) * 4096 + len(tag) + 8] == tag + b"%08d" % k
           for k in range(1, count + 1)]
missing = [k + 1 for k in range(count) if not present[k]]
print("%d of %d present%s" % (count - len(missing), count, "; first missing %d" % missing[0] if missing else ""))
sys.exit(1 if missing else 0)
PY
acked() { wc -l < "$WORK/$1"; }
caught_up_at() { _field_is "$1" db journal_lag_bytes 0 && _field_is "$1" log journal_lag_bytes 0; }

# ---- planned swap a -> b: zero loss ----
require "stall the link (a backlog in a's master journal)" wan_stall
check "400 fsync'd records at a while the link is stalled" \
  timeout 60 python3 "$WORK/records.py" "$MA" 400 "$WORK/acked1.log" ONE
n=$(acked acked1.log)
lag=$(pair_field a db journal_lag_bytes)
check "a's journal holds records b lacks ($lag bytes)" test "${lag:-0}" -gt 0
require "heal the link" wan_heal
check "takeover --group app at b (a answers: the four-role swap)" pairctl b takeover --group app
check "b's records: all $n acknowledged at a (zero loss)" python3 "$WORK/present.py" "$WORK/b" ONE "$n"
check "b is the primary of db" _field_is b db role primary
check "b is the primary of log" _field_is b log role primary
check "a is the secondary of db, PAIR" eval '_field_is a db role secondary && _field_is a db status PAIR'
check "a is the secondary of log" _field_is a log role secondary
check "b's journal is the master journal (its log)" grep -q "group app: the journal here is now the master journal" "$WORK/b.log"
check "a's journal is the restore journal (its log)" grep -q "group app: the journal here is now the restore journal" "$WORK/a.log"
expect_fail_with "a refuses writes after the swap (EROFS)" "read-only" \
  dd if=/dev/urandom of="$MA/db" bs=4k count=1 conv=notrunc,fsync status=none
check "300 fsync'd records at b, the new primary" \
  timeout 60 python3 "$WORK/records.py" "$MB" 300 "$WORK/acked2.log" TWO
check "b's writes are journaled and applied at a (journal_lag_bytes 0 at b)" wait_until 30 caught_up_at b
check "a holds every record b acknowledged" python3 "$WORK/present.py" "$WORK/a" TWO 300
identical "db identical after the swap" db
identical "log identical after the swap" log

# ---- planned swap back: `takeover db` at a moves its whole group ----
check "takeover db at a (its group moves with it)" pairctl a takeover db
check "a is the primary of db" _field_is a db role primary
check "a is the primary of log too (the group moved)" _field_is a log role primary
check "b is the secondary of log" _field_is b log role secondary
check "writes at a again" timeout 60 dd if=/dev/urandom of="$MA/log" bs=64k count=8 conv=notrunc,fsync status=none
check "caught up at a" wait_until 30 caught_up_at a
identical "log identical after the swap back" log

# ---- a crash at a step of the swap (node/FORMAT.md "The four-role swap"), then takeover again ----
# restart_armed SITE POINT: SITE restarted with the test fault point armed (pairfs(8) ENVIRONMENT);
# called in this shell, not in a command substitution, so that its PID is the one recorded.
restart_armed() {
  stop_site "$1" > /dev/null
  PAIRFS_FAULT=$2 start_site "$1" > "$WORK/start-$1.out" 2>&1
}
# died_at SITE POINT: SITE's pairfs killed itself at POINT; its dead mount cleared.
died_at() {
  local pid_var="PID_$1"
  wait_exit "${!pid_var}" 30 2> /dev/null
  local rc=$?
  umount "$WORK/mnt-$1" 2> /dev/null || umount -l "$WORK/mnt-$1" 2> /dev/null || true
  [ "$rc" -eq 137 ] && grep -q "PAIRFS_FAULT=$2" "$WORK/$1.log"
}
no_primary_writes() {  # neither mount takes a write: no two primaries, and no one writing alone
  ! dd if=/dev/zero of="$MA/db" bs=4k count=1 conv=notrunc,fsync status=none 2> /dev/null &&
    ! dd if=/dev/zero of="$MB/db" bs=4k count=1 conv=notrunc,fsync status=none 2> /dev/null
}
restart_armed a async-swap-demoted-drained || { fail "a restarts with PAIRFS_FAULT=async-swap-demoted-drained" "$(tail -3 "$WORK/start-a.out")"; finish; }
check "100 fsync'd records at a" timeout 60 python3 "$WORK/records.py" "$MA" 100 "$WORK/acked4.log" FOUR
# (`takeover db`: one command for the whole group; with --group, the pairs after a failed one
# would each take over anew, and with a dead by then that is SSWS, as for sync groups)
{  # (stderr: bash reports a's SIGKILL here)
  expect_exit "takeover db at b while a dies after its drain, before its journal turns" 4 "stopped answering" \
    pairctl b takeover db
} 2> /dev/null
# (died_at runs in this shell: wait_exit needs the daemon to be its child)
if died_at a async-swap-demoted-drained; then pass "a died at the fault point"; else fail "a died at the fault point"; fi
check "b's takeover failed: b still the secondary" _field_is b db role secondary
must_start a
check "after a's restart (demoted, master journal kept) nobody takes writes" no_primary_writes
check "takeover --group app at b again finishes the swap" pairctl b takeover --group app
check "b holds every record a acknowledged (zero loss)" python3 "$WORK/present.py" "$WORK/b" FOUR 100
check "b is the primary of log" _field_is b log role primary
restart_armed a async-swap-after-flip || { fail "a restarts with PAIRFS_FAULT=async-swap-after-flip" "$(tail -3 "$WORK/start-a.out")"; finish; }
check "100 fsync'd records at b" timeout 60 python3 "$WORK/records.py" "$MB" 100 "$WORK/acked5.log" FIVE
pairctl a takeover --group app > "$WORK/takeover-crash.out" 2>&1 &
TAKEOVER=$!
if died_at a async-swap-after-flip; then
  pass "a dies at takeover, after its journal turned master, before its pairs"
else
  fail "a dies at takeover, after its journal turned master, before its pairs"
fi
kill "$TAKEOVER" 2> /dev/null  # its answer never comes: no need to sit out pairctl's timeout
wait "$TAKEOVER" 2> /dev/null
must_start a
check "after a's restart (master journal, pairs secondary) nobody takes writes" no_primary_writes
check "takeover --group app at a again finishes the swap" pairctl a takeover --group app
check "a holds every record b acknowledged (zero loss)" python3 "$WORK/present.py" "$WORK/a" FIVE 100
check "a is the primary of db" _field_is a db role primary
check "writes at a after the finished swap" timeout 60 dd if=/dev/urandom of="$MA/db" bs=64k count=4 conv=notrunc,fsync status=none
check "caught up at a after the crash steps" wait_until 30 caught_up_at a
identical "db identical after the crash steps" db
identical "log identical after the crash steps" log

# ---- unplanned takeover: a killed -9 with records never shipped ----
require "stall the link" wan_stall
check "300 fsync'd records at a while the link is stalled" \
  timeout 60 python3 "$WORK/records.py" "$MA" 300 "$WORK/acked3.log" SIX
kill9_site a
if out=$(python3 "$WORK/present.py" "$WORK/b" SIX 300); then
  fail "some of a's records never reached b" "$out"
else
  pass "some of a's records never reached b ($out)"
fi
check "takeover --group app at b without a" pairctl b takeover --group app
check "the takeover's answer said what was lost (RPO)" grep -q "lost at most" <<< "$(pairctl b display db; grep 'takeover without' "$WORK/b.log")"
check "b's log has the RPO line" grep -q "takeover without site a: group app: lost at most" "$WORK/b.log"
# rpo_of SITE NAME: "WRITES BYTES SET" from display --json (SET: rpo_takeover_unix_ms is not null)
rpo_of() {
  pairctl "$1" --json display "$2" |
    json '"%s %s %s" % (d[0]["rpo_lost_writes"], d[0]["rpo_lost_bytes"], d[0]["rpo_takeover_unix_ms"] is not None)'
}
rpo_line=$(grep -o "group app: lost at most [0-9]* writes" "$WORK/b.log" | tail -1)
rpo_writes=${rpo_line//[^0-9]/}
rpo_db=$(rpo_of b db)
check "b's display of db has the takeover's RPO ($rpo_db; the log: $rpo_line)" \
  eval '[[ "$rpo_db" == "$rpo_writes "*" True" ]]'
check "log has the same RPO (the group's)" test "$(rpo_of b log)" = "$rpo_db"
check "b's text display has the RPO column (${rpo_writes}w/...)" \
  eval 'pairctl b display db | grep -Eq "^db .* ${rpo_writes}w/[^ ]+ +plain\$"'
stop_site b > /dev/null
must_start b
check "the RPO survives a restart of b ($(rpo_of b db))" \
  eval '[ "$(rpo_of b db)" = "$rpo_db" ] && [[ "$rpo_db" == *" True" ]]'
check "b is still SSWS after its restart" _field_is b db status SSWS
check "b is SSWS (db)" _field_is b db status SSWS
check "b is SSWS (log)" _field_is b log status SSWS
cat > "$WORK/mark.py" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.pwrite(fd, b"SSWS-AT-B".ljust(65536, b"!"), 0)
os.fsync(fd)
PY
check "b is writable in SSWS (over a's unshipped records)" python3 "$WORK/mark.py" "$MB/db"
require "heal the link" wan_heal
must_start a
check "a restarted finds itself outdated (PSUE)" wait_field a db status PSUE 10
expect_fail_with "a does not write on its own (EROFS)" "read-only" \
  dd if=/dev/urandom of="$MA/db" bs=4k count=1 conv=notrunc,fsync status=none
check "b refused a's old batches by generation (its log)" \
  wait_until 10 grep -q "older than this copy's" "$WORK/b.log"
check "b's SSWS write is intact" eval 'head -c 9 "$WORK/b/volumes/db.img" | grep -q SSWS-AT-B'
inconsistent_before=$(grep -c "secondary COPY.*inconsistent" "$WORK/a.log")
check "resync --group app --swap at b" eval 'pairctl b resync --group app --swap > "$WORK/swap.out"'
check "its answer: both pairs went through the journal ($(tr '\n' ' ' < "$WORK/swap.out"))" \
  test "$(grep -c "resynced through the journal" "$WORK/swap.out")" = 2
# (journaled: both sides saved PAIR before the command answers; a copy engine this small may
# be done by then too: the batch line in b's log is what tells them apart)
check "db is PAIR when the command returns" _field_is b db status PAIR
check "log is PAIR when the command returns" _field_is b log status PAIR
check "the regions went through the journal as one batch (b's log)" \
  grep -q "group app: resync batch of" "$WORK/b.log"
check "db in PAIR, b the primary" eval 'pairctl b wait db --status PAIR --timeout 60 > /dev/null && _field_is b db role primary'
check "log in PAIR" pairctl b wait log --status PAIR --timeout 60
check "a applied the batch (journal_lag_bytes 0 at b)" wait_until 30 caught_up_at b
check "a never saved itself inconsistent during the resync --swap (its log of transitions)" \
  test "$(grep -c "secondary COPY.*inconsistent" "$WORK/a.log")" = "$inconsistent_before"
check "a says db is consistent" _field_is a db consistent true
check "the RPO record is cleared by resync --swap ($(rpo_of b db))" test "$(rpo_of b db)" = "None None False"
identical "db identical after resync --swap (a's unshipped records overwritten)" db
identical "log identical after resync --swap" log
if python3 "$WORK/present.py" "$WORK/a" SIX 300 > /dev/null; then
  fail "a's unshipped records are gone at a" "still all there"
else
  pass "a's unshipped records are gone at a ($(python3 "$WORK/present.py" "$WORK/a" SIX 300))"
fi
check "writes at b after the swap" timeout 60 dd if=/dev/urandom of="$MB/db" bs=64k count=8 seek=10 conv=notrunc,fsync status=none
check "b's writes reach a through the journal" wait_until 30 caught_up_at b
identical "db identical at the end" db
finish
