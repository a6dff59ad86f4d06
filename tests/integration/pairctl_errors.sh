#!/usr/bin/env bash
# pairctl's errors and exit codes (0 done, 1 failed, 2 usage, 3 reservation conflict, 4 pairfs
# unreachable), its one-line "pairctl: ..." messages, and the --json display contract.
. "$(dirname "$0")/lib.sh"

write_config a
must_start a
M=$WORK/mnt-a
require "pairctl volume create vm1 1G succeeds" pairctl a volume create vm1 1G

# one_line NAME: the last pairctl run ($OUT) printed exactly one line starting "pairctl: ".
one_line() {
  if [ "$(wc -l <<<"$OUT")" = 1 ] && [[ "$OUT" == "pairctl: "* ]]; then pass "$1"
  else fail "$1" "got: $(tr '\n' '|' <<<"$OUT")"; fi
}
volumes() { pairctl a --json volume list | json "sorted(v['name'] for v in d)"; }

# --- unknown volume: exit 1, the message names it
expect_exit "display of an unknown volume exits 1 and names it" 1 "nosuch" pairctl a display nosuch
one_line "the unknown-volume error is one line starting 'pairctl: '"
expect_exit "volume delete of an unknown volume exits 1 and names it" 1 "nosuch" pairctl a volume delete nosuch
expect_exit "volume resize of an unknown volume exits 1 and names it" 1 "nosuch" pairctl a volume resize nosuch 2G
expect_exit "reserve of an unknown volume exits 1 and names it" 1 "nosuch" pairctl a reserve nosuch
expect_exit "release of an unknown volume exits 1 and names it" 1 "nosuch" pairctl a release nosuch
expect_exit "creating a volume that exists exits 1 and says so" 1 "exists" pairctl a volume create vm1 1G

# --- bad sizes: exit 2 (usage), nothing created
expect_exit "volume create with size 12Q exits 2 and names the size" 2 "12Q" pairctl a volume create x 12Q
one_line "the bad-size error is one line starting 'pairctl: '"
expect_exit "volume create with size 1000 (not a multiple of 4K) exits 2 and says why" 2 "multiple of 4" pairctl a volume create x 1000
expect_exit "volume create with size 0 exits 2" 2 "size" pairctl a volume create x 0
expect_exit "volume create with size -4K exits 2" 2 "size" pairctl a volume create x -4K
expect_exit "volume create with size 1.5G exits 2" 2 "size" pairctl a volume create x 1.5G
expect_exit "volume create with size 300T (over the limit) exits 2" 2 "size" pairctl a volume create x 300T
expect_exit "volume resize with size 12Q exits 2" 2 "12Q" pairctl a volume resize vm1 12Q
expect_exit "volume resize with size 4097 exits 2" 2 "multiple of 4" pairctl a volume resize vm1 4097
if [ "$(volumes)" = '["vm1"]' ] && [ "$(stat -c %s "$M/vm1")" = 1073741824 ]; then
  pass "the refused sizes created nothing and resized nothing"
else fail "the refused sizes created nothing and resized nothing" "volumes $(volumes), vm1 $(stat -c %s "$M/vm1") bytes"; fi

# --- bad names: refused with a clear message, nothing created
for bad in "a/b" ".." "a b" "$(printf 'x%.0s' $(seq 65))" "vol*"; do
  OUT=$(pairctl a volume create "$bad" 1G 2>&1); rc=$?
  if [ "$rc" -ne 0 ] && grep -qi "name" <<<"$OUT" && [[ "$OUT" == "pairctl: "* ]]; then
    pass "volume create with the bad name '${bad:0:20}' fails with a message about the name"
  else fail "volume create with the bad name '${bad:0:20}' fails with a message about the name" "exit $rc: $OUT"; fi
done
expect_exit "volume create with an empty name fails with a message about the name" 1 "name" pairctl a volume create "" 1G
if [ "$(volumes)" = '["vm1"]' ] && [ "$(ls "$M")" = vm1 ]; then pass "the refused names created nothing"
else fail "the refused names created nothing" "volumes $(volumes)"; fi
expect_exit "reserve with a bad holder name fails with a message about the name" 1 "name" pairctl a reserve vm1 --holder 'x/y'

# --- usage errors: exit 2
expect_exit "pairctl without a command exits 2" 2 "" pairctl a
expect_exit "pairctl with an unknown command exits 2" 2 "" pairctl a frobnicate vm1
expect_exit "volume resize without a size exits 2" 2 "" pairctl a volume resize vm1
expect_exit "volume create without arguments exits 2" 2 "" pairctl a volume create

# --- reservation conflict: exit 3
require "reserve vm1 --holder b succeeds" pairctl a reserve vm1 --holder b
expect_exit "reserve by this site of a volume b holds exits 3 and names b" 3 "b" pairctl a reserve vm1
one_line "the reservation-conflict error is one line starting 'pairctl: '"
expect_exit "reserve by holder c of a volume b holds exits 3" 3 "" pairctl a reserve vm1 --holder c
check "reserve by the holder itself again succeeds" pairctl a reserve vm1 --holder b
expect_exit "volume delete of a volume reserved by another holder exits 3" 3 "reserved" pairctl a volume delete vm1
if [ -e "$M/vm1" ]; then pass "the volume whose delete was refused is still there"; else fail "the volume whose delete was refused is still there" "vm1 is gone"; fi
require "release vm1 --holder b succeeds" pairctl a release vm1 --holder b

# --- the --json display contract
doc=$(pairctl a --json display)
fields=$(json "sorted(d[0].keys()) if isinstance(d, list) and len(d) == 1 else 'not one object: ' + str(d)" <<<"$doc")
missing=$(json "[f for f in 'name role status mode peer_site peer_volume size_bytes copy_progress dirty_bytes journal_lag_bytes reserved_by fence group generation consistent outdated'.split() if f not in d[0]]" <<<"$doc" 2>&1)
if [ "$missing" = "[]" ]; then pass "--json display has every field doc/design.md names"
else fail "--json display has every field doc/design.md names" "missing $missing; has $fields"; fi
got=$(json "(d[0]['name'], d[0]['role'], d[0]['status'], d[0]['size_bytes'], d[0]['reserved_by'])" <<<"$doc")
if [ "$got" = '["vm1", "simplex", "SMPL", 1073741824, null]' ]; then pass "--json display says vm1 simplex, SMPL, 1 GiB, not reserved"
else fail "--json display says vm1 simplex, SMPL, 1 GiB, not reserved" "$got"; fi
types=$(json "[type(d[0][f]).__name__ for f in ('size_bytes', 'copy_progress', 'dirty_bytes', 'journal_lag_bytes', 'generation', 'consistent', 'outdated')]" <<<"$doc")
if [ "$types" = '["int", "int", "int", "int", "int", "bool", "bool"]' ]; then pass "--json display's counters are numbers and its flags booleans"
else fail "--json display's counters are numbers and its flags booleans" "$types"; fi
progress=$(json "d[0]['copy_progress']" <<<"$doc")
if [ "$progress" -ge 0 ] && [ "$progress" -le 100 ]; then pass "--json display's copy_progress is between 0 and 100"
else fail "--json display's copy_progress is between 0 and 100" "$progress"; fi
require "reserve vm1 succeeds" pairctl a reserve vm1
held=$(pairctl a --json display vm1 | json "d[0]['reserved_by']")
if [ "$held" = a ]; then pass "--json display NAME shows reserved_by as the holding site"
else fail "--json display NAME shows reserved_by as the holding site" "$held"; fi
require "release vm1 succeeds" pairctl a release vm1
table=$(pairctl a display 2>&1)
if grep -Eq '^vm1 +simplex +SMPL ' <<<"$table"; then pass "display prints vm1 as simplex SMPL"
else fail "display prints vm1 as simplex SMPL" "$table"; fi

# --- concurrent requests: each answered, races have exactly one winner
pids=()
for i in $(seq 16); do pairctl a volume create "par$i" 1M > /dev/null 2>&1 & pids+=($!); done
ok=0; for pid in "${pids[@]}"; do wait "$pid" && ok=$((ok + 1)); done
if [ "$ok" = 16 ] && [ "$(ls "$M" | grep -c '^par')" = 16 ]; then pass "16 concurrent volume creates all succeed and all show in the mount"
else fail "16 concurrent volume creates all succeed and all show in the mount" "$ok succeeded, ls shows $(ls "$M" | grep -c '^par')"; fi
pids=()
for i in $(seq 8); do pairctl a volume create race 1M > /dev/null 2>&1 & pids+=($!); done
ok=0; for pid in "${pids[@]}"; do wait "$pid" && ok=$((ok + 1)); done
if [ "$ok" = 1 ]; then pass "of 8 concurrent creates of one name exactly one succeeds"
else fail "of 8 concurrent creates of one name exactly one succeeds" "$ok succeeded"; fi
pids=()
for i in $(seq 8); do pairctl a reserve race --holder "h$i" > "$WORK/race-$i" 2>&1 & pids+=($!); done
ok=0 conflicts=0
for i in $(seq 8); do
  wait "${pids[$((i - 1))]}"; case $? in 0) ok=$((ok + 1)); winner=h$i ;; 3) conflicts=$((conflicts + 1)) ;; esac
done
held=$(pairctl a --json display race | json "d[0]['reserved_by']")
if [ "$ok" = 1 ] && [ "$conflicts" = 7 ] && [ "$held" = "$winner" ]; then
  pass "of 8 concurrent reserves by different holders exactly one wins, the others exit 3"
else fail "of 8 concurrent reserves by different holders exactly one wins, the others exit 3" "$ok won, $conflicts exit 3, held by $held"; fi

# --- the config from the environment
if out=$(PAIRFS_CONFIG=$WORK/a.toml "$PAIRCTL" volume list 2>&1) && grep -q '^vm1 ' <<<"$out"; then
  pass "pairctl reads its config from PAIRFS_CONFIG"
else fail "pairctl reads its config from PAIRFS_CONFIG" "$out"; fi

# --- pairfs not running: exit 4
write_config z
expect_exit "pairctl for a site whose pairfs never started exits 4" 4 "not running" pairctl z volume list
one_line "the unreachable error is one line starting 'pairctl: '"
expect_exit "pairctl display for a site whose pairfs never started exits 4" 4 "" pairctl z --json display

finish
