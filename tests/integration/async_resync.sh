#!/usr/bin/env bash
# The resync of async pairs and the way back from PFUS (issue 13 part 4), two real sites whose
# link goes through the WAN proxy (capped at 8 MB/s, so a copy is slow enough to be seen):
# - a 16 MiB journal fills while the link is stalled: PAIR -> PFUL -> PFUS for the whole group,
#   no write error at the primary;
# - the primary restarted while PFUS: still PFUS and its group still suspended (durable PFUS),
#   writes still tracked;
# - healed, `resync --group` whose regions do not fit half the journal: the copy engine, the
#   secondary says inconsistent during the copy, consistent after; PAIR, identical copies;
# - split, numbered fsync'd records at the primary, `resync --group` that fits: the regions go
#   through the journal as one batch; the secondary's display never says inconsistent, and
#   killed -9 right after the resync (restarted with the link stalled, at rest) its records are
#   exactly a prefix of the primary's order;
#   identical copies after.
# Outcomes and order only; deadlines only catch hangs.
. "$(dirname "$0")/lib.sh"

write_pair_configs 'peer_timeout_ms = 5000
[journal]
size = "16M"
high_water_percent = 80'
start_sites_over_wan 2 8
create_async_group 32M 4M

lag_is_zero() { _field_is a "$1" journal_lag_bytes 0; }
caught_up() { lag_is_zero db && lag_is_zero log; }

# ---- the journal fills while the link is stalled: PFUL, PFUS, no write error ----
require "stall the link" wan_stall
for seek in 0 128 256 384; do
  check "8 MiB with fsync at a while stalled (at $((seek / 16)) MiB; 32 MiB > the 16 MiB journal)" \
    timeout 120 dd if=/dev/urandom of="$MA/db" bs=64k count=128 seek=$seek conv=notrunc,fsync status=none
done
check "a's log says the pair went PFUL" grep -q "PFUL, writes paced" "$WORK/a.log"
check "db is PFUS" _field_is a db status PFUS
check "log is PFUS (the whole group)" _field_is a log status PFUS

# ---- durable PFUS: the primary restarted while PFUS stays PFUS, its group suspended ----
stop_site a > /dev/null
must_start a
check "db is still PFUS after a's restart" _field_is a db status PFUS
check "log is still PFUS after a's restart" _field_is a log status PFUS
check "a's log says the group stays suspended" grep -q "the group stays suspended" "$WORK/a.log"
before=$(pair_field a log dirty_bytes)
check "writes to log at a after the restart succeed" \
  timeout 60 dd if=/dev/urandom of="$MA/log" bs=64k count=4 seek=20 conv=notrunc,fsync status=none
check "they are tracked in log's dirty bitmap ($before -> more)" \
  test "$(pair_field a log dirty_bytes)" -gt "${before:-0}"
check "log is still PFUS (its write was not journaled)" _field_is a log status PFUS
expect_exit "resync of one pair of a suspended group is refused (the group comes back whole)" 1 \
  "resync --group app" pairctl a resync db

# ---- heal; resync --group that does not fit the journal: the copy engine, inconsistent ----
require "heal the link" wan_heal
check "the journal drains to b (journal_lag_bytes 0)" wait_until 30 caught_up
dirty=$(pair_field a db dirty_bytes)
check "db's dirty regions ($dirty bytes) are more than half the journal" test "${dirty:-0}" -gt $((8 << 20))
check "resync --group app (copy engine)" pairctl a resync --group app
b_inconsistent() { _field_is b db consistent false && [[ "$(pairctl b display db)" == *inconsistent* ]]; }
check "b says db is inconsistent during the copy (display --json and the text view)" \
  wait_until 10 b_inconsistent
check "db back in PAIR" pairctl a wait db --status PAIR --timeout 60
check "log back in PAIR" pairctl a wait log --status PAIR --timeout 60
check "b says db is consistent after the copy" wait_until 10 _field_is b db consistent true
check "writes at a are journaled again (the group resumed)" \
  timeout 60 dd if=/dev/urandom of="$MA/log" bs=64k count=8 conv=notrunc,fsync status=none
check "log stays in PAIR" _field_is a log status PAIR
check "caught up after the resync" wait_until 30 caught_up
identical "db identical after PFUS, restart and resync" db
identical "log identical after PFUS, restart and resync" log

# ---- split, records, resync --group that fits: one journal batch, b consistent throughout ----
RECORDS_PY="$ROOT/tests/tools/async_records.py"  # the writer and the prefix check
require "split --group app" pairctl a split --group app
check "records 1..400 at a while split (tracked)" python3 "$RECORDS_PY" write "$MA" 1 400 "$WORK/acked.log"
python3 "$RECORDS_PY" write "$MA" 401 1600 "$WORK/acked.log" 2> "$WORK/records.err" &
WRITER=$!
on_cleanup "kill $WRITER"
( while kill -0 "$WRITER" 2>/dev/null; do
    pairctl b --json display db 2>/dev/null | json "d[0]['consistent']" >> "$WORK/b-consistent.log"
    sleep 0.1
  done ) &
WATCH=$!
on_cleanup "kill $WATCH"
inconsistent_before=$(grep -c "secondary COPY.*inconsistent" "$WORK/b.log")
check "resync --group app while the records go on (through the journal)" pairctl a resync --group app
check "b never saved itself inconsistent during it (its log of transitions)" \
  test "$(grep -c "secondary COPY.*inconsistent" "$WORK/b.log")" = "$inconsistent_before"
check "db in PAIR at once (no copy)" _field_is a db status PAIR
check "log in PAIR at once (no copy)" _field_is a log status PAIR
check "a's log says the resync went through the journal as one batch" \
  grep -q "resync batch of" "$WORK/a.log"
sleep 0.3   # b is receiving and applying the batch and what follows it: kill it there
kill9_site b
# b restarted with the link stalled applies what its restore journal holds (a batch only whole,
# also one cut by the kill) and nothing more arrives: its images are then at rest.
require "stall the link" wan_stall
must_start b
# At rest: everything it holds applied, or (a batch cut by the kill stays unapplied) its applied
# sequence the same a second later.
b_at_rest() {
  local applied
  applied=$(pair_field b db applied_sequence)
  [ "$applied" = "$(pair_field b db sent_sequence)" ] && return 0
  sleep 1
  [ -n "$applied" ] && [ "$applied" = "$(pair_field b db applied_sequence)" ]
}
check "b applies what it holds after its restart" wait_until 30 b_at_rest
if out=$(python3 "$RECORDS_PY" prefix "$WORK/b" 2000); then
  pass "b killed -9 during the resync's batch: its records are a prefix of a's order ($out)"
else
  fail "b killed -9 during the resync's batch: its records are a prefix of a's order" "$out"
fi
require "heal the link" wan_heal
wait_exit "$WRITER" 120
rc=$?
if [ $rc -eq 0 ]; then pass "the record writer at a finished without an error"; else fail "the record writer at a finished without an error" "exit $rc: $(tail -2 "$WORK/records.err")"; fi
wait "$WATCH" 2>/dev/null
check "b's display said consistent throughout ($(sort "$WORK/b-consistent.log" | uniq -c | tr '\n' ' '))" \
  eval '! grep -q false "$WORK/b-consistent.log"'
check "caught up after the fitting resync" wait_until 30 caught_up
check "b's records are all 2000 after catch-up" python3 "$RECORDS_PY" prefix "$WORK/b" 2000
identical "db identical after the journaled resync" db
identical "log identical after the journaled resync" log
finish
