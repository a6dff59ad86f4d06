#!/usr/bin/env bash
# Async pairs (issue 13 parts 1-3) between two real sites whose replication link goes through the
# WAN proxy with 20 ms each way: `create --mode async --group` for two volumes of one group (a
# journal per site, display's async fields); fsync'd writes at the primary complete while the link
# is stalled (no round trip: the journal is the write-ahead log) and reach the secondary once it is
# healed; a writer of numbered fsync'd records across both volumes while the link is cut and
# healed and the secondary is killed -9: the secondary's records are exactly a prefix of the
# primary's acknowledged order; the primary killed -9 during writes, restarted (journal replayed):
# identical copies after catch-up. Outcomes and order only; deadlines only catch hangs.
. "$(dirname "$0")/lib.sh"
[ -x "$WAN" ] || { fail "wan_proxy is built" "$WAN missing: make build/tools/wan_proxy"; finish; }

write_pair_configs 'peer_timeout_ms = 1000
[journal]
size = "16M"
high_water_percent = 80'
require "a's and b's peer endpoints point at the proxy" route_peers_through_wan
start_wan 20 > "$WORK/start-wan.out" 2>&1 || { fail "wan_proxy starts" "$(tail -3 "$WORK/start-wan.out")"; finish; }
must_start a
must_start b
MA=$WORK/mnt-a MB=$WORK/mnt-b

require "volume create db 8M" pairctl a volume create db 8M
require "volume create log 8M" pairctl a volume create log 8M
check "create db --mode async --group app" pairctl a create db --mode async --group app
check "create log --mode async --group app" pairctl a create log --mode async --group app
require "db in PAIR" pairctl a wait db --status PAIR --timeout 60
require "log in PAIR" pairctl a wait log --status PAIR --timeout 60
check "a has the group's master journal" test -f "$WORK/a/journals/app.journal"
check "b has the group's restore journal" test -f "$WORK/b/journals/app.journal"
check "display --json: mode async" _field_is a db mode async
check "display --json: group app" _field_is a db group app
check "display --json: journal_size_bytes is [journal] size" _field_is a db journal_size_bytes 16777216
check "display --json at b: mode async" _field_is b log mode async
require "volume create other 4M" pairctl a volume create other 4M
expect_exit "an async group that is no name is refused" 1 "group" \
  pairctl a create other --mode async --group 'a/b'
expect_fail_with "the async secondary refuses writes (EROFS)" "read-only" \
  dd if=/dev/urandom of="$MB/db" bs=4k count=1 conv=notrunc,fsync status=none

lag_is_zero() { _field_is a "$1" journal_lag_bytes 0; }
caught_up() { lag_is_zero db && lag_is_zero log; }

# ---- a stalled link: fsync'd writes complete, the journal holds them ----
require "stall the link (wan_proxy SIGUSR1)" wan_stall
check "fsync'd writes at a complete while the link is stalled" \
  timeout 60 dd if=/dev/urandom of="$MA/db" bs=64k count=32 seek=3 conv=notrunc,fsync status=none
check "oflag=dsync writes at a complete while the link is stalled" \
  timeout 60 dd if=/dev/urandom of="$MA/log" bs=4k count=64 seek=7 oflag=dsync conv=notrunc status=none
check "a stays in PAIR while the link is stalled" _field_is a db status PAIR
lag=$(pair_field a db journal_lag_bytes)
check "journal_lag_bytes counts what b lacks ($lag)" test "${lag:-0}" -ge $((32 * 65536))
check "lag_ms is reported" test "$(pair_field a db lag_ms)" -ge 0
require "heal the link (wan_proxy SIGUSR2)" wan_heal
check "after the heal b applies everything (journal_lag_bytes 0)" wait_until 30 caught_up
sent=$(pair_field a db sent_sequence)
check "applied_sequence reaches sent_sequence ($sent)" _field_is a db applied_sequence "$sent"
identical "db identical after stall and heal" db
identical "log identical after stall and heal" log

# ---- numbered fsync'd records across both volumes, cuts, b killed -9: b holds a prefix ----
RECORDS_PY="$ROOT/tests/tools/async_records.py"  # the writer and the prefix check
RECORDS=4000
acked_at_least() { [ "$(wc -l < "$WORK/acked.log")" -ge "$1" ]; }
python3 "$RECORDS_PY" write "$MA" 1 $RECORDS "$WORK/acked.log" 2> "$WORK/records.err" &
WRITER=$!
on_cleanup "kill $WRITER"
wait_until 20 acked_at_least 200
require "stall the link during the records (wan_proxy SIGUSR1)" wan_stall
wait_until 30 acked_at_least 1500   # records pile up in a's journal
require "heal the link" wan_heal
sleep 0.3                           # b is receiving and applying the backlog: kill it there
kill9_site b
if out=$(python3 "$RECORDS_PY" prefix "$WORK/b" $RECORDS); then
  pass "after a stall and b killed -9 during the records: b's are a prefix of a's order ($out; acknowledged at a by then: $(wc -l < "$WORK/acked.log"))"
else
  fail "after a stall and b killed -9 during the records: b's are a prefix of a's order" "$out"
fi
must_start b
wait_exit "$WRITER" 120
rc=$?
if [ $rc -eq 0 ]; then pass "the record writer at a finished without an error"; else fail "the record writer at a finished without an error" "exit $rc: $(tail -2 "$WORK/records.err")"; fi
check "no write error at a while b was killed" test ! -s "$WORK/records.err"
check "after b's restart everything is applied (journal_lag_bytes 0)" wait_until 30 caught_up
check "b's records are all $RECORDS after catch-up" python3 "$RECORDS_PY" prefix "$WORK/b" $RECORDS
identical "db identical after the records, cut and b's kill -9" db
identical "log identical after the records, cut and b's kill -9" log

# ---- the primary killed -9 during writes, restarted: its journal replayed ----
timeout 120 dd if=/dev/urandom of="$MA/db" bs=4k count=4000 oflag=dsync conv=notrunc status=none 2> /dev/null &
DD=$!
on_cleanup "kill $DD"
sleep 1
kill9_site a
wait "$DD" 2> /dev/null
must_start a
check "a restarted into PAIR (journal replayed)" _field_is a db status PAIR
check "a's log says it replayed its journal" grep -q "replayed entries" "$WORK/a.log"
check "after a's restart everything is applied (journal_lag_bytes 0)" wait_until 30 caught_up
identical "db identical after a's kill -9 and replay" db
identical "log identical after a's kill -9 and replay" log
check "writes at a go on after the restart" \
  timeout 60 dd if=/dev/urandom of="$MA/log" bs=64k count=8 conv=notrunc,fsync status=none
check "caught up again" wait_until 30 caught_up
identical "log identical at the end" log

# ---- hostile but well-formed journal batches at b: refused and counted, nothing stored ----
check "journal batches b may not store, sent as site a" \
  "$TOOLS/wire_send" "tcp://127.0.0.1:$PORT_B" journal-hostile a app db
check "b refused them and counted (its log)" wait_until 10 grep -q "refused a journal-batch from site a" "$WORK/b.log"
check "b still runs" kill -0 "$PID_b"
check "writes at a after the hostile batches" \
  timeout 60 dd if=/dev/urandom of="$MA/db" bs=64k count=8 seek=40 conv=notrunc,fsync status=none
check "caught up after the hostile batches" wait_until 30 caught_up
identical "db identical after the hostile batches" db

# ---- the journal fills while the link is stalled: PFUL (paced), then PFUS; no write fails ----
require "stall the link again" wan_stall
for pass_no in 1 2 3; do
  check "write 8 MiB with fsync at a while stalled (pass $pass_no of 3; 24 MiB > the 16 MiB journal)" \
    timeout 120 dd if=/dev/urandom of="$MA/db" bs=64k count=128 conv=notrunc,fsync status=none
done
check "a's log says the pair went PFUL (over high_water_percent)" grep -q "PFUL, writes paced" "$WORK/a.log"
check "the full journal suspended the pair: PFUS" _field_is a db status PFUS
check "the full journal suspended its whole group: log (no write of its own) is PFUS too" \
  _field_is a log status PFUS
check "writes to log at a succeed in PFUS (tracked, not journaled)" \
  timeout 60 dd if=/dev/urandom of="$MA/log" bs=64k count=4 conv=notrunc,fsync status=none
check "log's PFUS write is in its dirty bitmap" test "$(pair_field a log dirty_bytes)" -gt 0
check "writes at a still succeed in PFUS (tracked)" \
  timeout 60 dd if=/dev/urandom of="$MA/db" bs=64k count=16 conv=notrunc,fsync status=none
check "PFUS tracks the changes in the dirty bitmap" test "$(pair_field a db dirty_bytes)" -gt 0
require "heal the link" wan_heal
check "after the heal the journal's entries still reach b (applied_sequence = sent_sequence)" \
  wait_until 30 eval '[ "$(pair_field a db applied_sequence)" = "$(pair_field a db sent_sequence)" ] && [ "$(pair_field a db sent_sequence)" -gt 0 ]'
finish
