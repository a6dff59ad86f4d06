#!/usr/bin/env bash
# A restarted async primary whose marked regions do not fit its journal resyncs by itself (issue
# 13, the restart fallback; node/async_resync.cc RunRestartResyncs). At a restart the primary
# journals again the regions its activity log still marks (a write there may have lost its
# journal entry); when they do not fit half the journal, the group is suspended (PFUS, the marks
# become the dirty regions) and, once the peer answers and the journal has drained, resynced as
# `resync --group` would: here by the copy engine, the secondary shown inconsistent meanwhile.
# Before, the group stayed PFUS until an operator ran resync.
# How it happens here: the pair's activity marks are bounded to a quarter of the journal, so a
# kill -9 alone re-journals little; a torn page of the region file does it (node/FORMAT.md: a bit
# page whose checksum fails reads as all marked), made by spoiling page 1's checksum while a is
# down after a kill -9 under writes.
# Asserted (outcomes and order only): a's log says the regions could not be re-journaled; with no
# command, db reaches PAIR; a's log says it resynced without an operator; b's transition log
# says it was inconsistent during the copy; identical copies; writes at a go on and reach b.
. "$(dirname "$0")/lib.sh"

write_pair_configs 'peer_timeout_ms = 1000
[journal]
size = "16M"'
must_start a
must_start b
MA=$WORK/mnt-a
require "volume create db 32M" pairctl a volume create db 32M
require "create db --mode async --group app" pairctl a create db --mode async --group app
require "db in PAIR" pairctl a wait db --status PAIR --timeout 60
check "8 MiB written at a with fsync" dd if=/dev/urandom of="$MA/db" bs=64k count=128 conv=notrunc,fsync status=none
caught_up() { _field_is a db journal_lag_bytes 0; }
check "b applied them (journal_lag_bytes 0)" wait_until 30 caught_up

# ---- a killed -9 under writes, a torn page of its region file, restarted ----
dd if=/dev/urandom of="$MA/db" bs=64k count=256 seek=128 conv=notrunc status=none 2> /dev/null &
DD=$!
on_cleanup "kill $DD 2>/dev/null"
sleep 0.2  # (not a deadline: only so that the kill finds writes going)
kill9_site a
wait "$DD" 2> /dev/null
REGIONS=$WORK/a/volumes/db.regions
check "a's region file has a bit page" test "$(stat -c %s "$REGIONS")" -ge 8192
printf '\xff\xff\xff\xff\xff\xff\xff\xff' | dd of="$REGIONS" bs=1 seek=4096 conv=notrunc status=none
inconsistent_before=$(grep -c "secondary COPY.*inconsistent" "$WORK/b.log")
must_start a
check "a's log: the marked regions do not fit the journal" \
  grep -q "group app: the regions marked at the restart cannot be re-journaled" "$WORK/a.log"
check "db reaches PAIR with no command (the automatic resync)" pairctl a wait db --status PAIR --timeout 60
check "a's log: resynced without an operator" \
  wait_until 10 grep -q "group app: resynced after the restart without an operator" "$WORK/a.log"
check "b was shown inconsistent during the copy (its transition log)" \
  test "$(grep -c "secondary COPY.*inconsistent" "$WORK/b.log")" -gt "$inconsistent_before"
check "b's copy is consistent again" _field_is b db consistent true
check "caught up after the resync" wait_until 30 caught_up
identical "db identical after the automatic resync" db
check "writes at a go on (journaled)" dd if=/dev/urandom of="$MA/db" bs=64k count=16 seek=400 conv=notrunc,fsync status=none
check "a is PAIR, b applied them" eval '_field_is a db status PAIR && wait_until 30 caught_up'
identical "db identical at the end" db
finish
