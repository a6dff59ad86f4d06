#!/usr/bin/env bash
# Two real pairfs daemons on loopback, a synchronous pair between them: initial copy of data that
# was there before, writes at either site, an open reader at B seeing A's writes, concurrent fio
# writers at both sites over the same 8 MiB, a discard through a loop device, split and resync
# copying only what changed, reservations mirrored, a takeover with swap, dissolve, and the
# command refusals.
. "$(dirname "$0")/lib.sh"

write_pair_configs 'peer_timeout_ms = 1000'
MA=$WORK/mnt-a MB=$WORK/mnt-b

# Refusals before anything is paired.
write_config solo
must_start solo
require "solo volume create" pairctl solo volume create vm1 16M
expect_exit "create without a [peer] is refused" 1 "no \[peer\]" pairctl solo create vm1 --mode sync
must_start a
require "volume create vm1 256M at a" pairctl a volume create vm1 256M
expect_exit "create while site b is down: exit 4" 4 "unreachable" pairctl a create vm1 --mode sync
must_start b
expect_exit "create of an unknown volume: exit 1" 1 "no volume named nosuch" pairctl a create nosuch --mode sync
expect_exit "create --mode async with a group that is no name is refused" 1 "group" \
  pairctl a create vm1 --mode async --group "a/b"
expect_exit "create --fence reserve is refused without [cluster] determining_volume" 1 "determining_volume" pairctl a create vm1 --mode sync --fence reserve
require "volume create other 128M at b" pairctl b volume create other 128M
expect_exit "create against a peer volume of another size: exit 1" 1 "size mismatch" \
  pairctl a create vm1 --mode sync --peer-volume other
expect_exit "split of an unpaired volume" 1 "not in a pair" pairctl a split vm1
expect_exit "verify of an unpaired volume" 1 "not in a pair" pairctl a verify vm1

# Initial copy of data written before the pair existed.
require "64 MiB of random data written at a before pairing" \
  dd if=/dev/urandom of="$MA/vm1" bs=1M count=64 seek=100 conv=notrunc,fsync status=none
expect_exit "create vm1 --mode sync at a creates the peer volume and says so" 0 "created volume vm1" \
  pairctl a create vm1 --mode sync
check "vm1 appears at b" test -f "$MB/vm1"
require "wait --status PAIR at a" pairctl a wait vm1 --status PAIR --timeout 60
check "b shows vm1 secondary PAIR" bash -c "[ \"\$($PAIRCTL -c $WORK/b.toml --json display vm1 | python3 -c 'import json,sys; d=json.load(sys.stdin)[0]; print(d[\"role\"], d[\"status\"], d[\"consistent\"])')\" = 'secondary PAIR True' ]"
if [ "$(sum_of "$MA/vm1")" = "$(sum_of "$MB/vm1")" ]; then pass "after the initial copy both copies are identical (sha256)"
else fail "after the initial copy both copies are identical (sha256)" "they differ"; fi
check "verify says identical" pairctl a verify vm1
# The replication threads carry the names pairfs(8) LOGGING gives (top -H, ps -L, gdb).
names=$(cat /proc/"$PID_a"/task/*/comm 2>/dev/null | sort -u)
if grep -qx peer-worker <<<"$names" && grep -qx replicator <<<"$names"; then
  pass "a's replication threads are named (peer-worker, replicator)"
else fail "a's replication threads are named (peer-worker, replicator)" "threads: $(echo $names)"; fi
expect_exit "display --json at a: primary PAIR 100%, peer b:vm1, generation 1/a" 0 "" pairctl a --json display vm1
got=$(echo "$OUT" | json "[d[0][k] for k in ('role','status','mode','peer_site','peer_volume','copy_progress','dirty_bytes','fence','generation','generation_site','consistent','outdated')]")
if [ "$got" = '["primary", "PAIR", "sync", "b", "vm1", 100, 0, "never", 1, "a", true, false]' ]; then pass "display --json fields of the primary"
else fail "display --json fields of the primary" "$got"; fi
expect_exit "create again is refused: already in a pair" 1 "already in a pair" pairctl a create vm1 --mode sync
expect_exit "volume delete of a paired volume is refused" 1 "pair" pairctl a volume delete vm1
expect_exit "volume resize of a paired volume is refused" 1 "pair" pairctl b volume resize vm1 512M

# Writes at either site land at both.
require "write at a" dd if=/dev/urandom of="$MA/vm1" bs=64k count=16 seek=10 conv=notrunc,fsync status=none
require "write at b" dd if=/dev/urandom of="$MB/vm1" bs=4k count=16 seek=7 conv=notrunc,fsync status=none
if [ "$(sum_of "$MA/vm1")" = "$(sum_of "$MB/vm1")" ]; then pass "writes at both sites: copies identical"
else fail "writes at both sites: copies identical" "they differ"; fi

# An open reader at b sees every write made at a as soon as it returned.
cat > "$WORK/reader.py" <<'PY'
import os, subprocess, sys
a, b = sys.argv[1], sys.argv[2]
fd = os.open(b, os.O_RDONLY)          # held open across every write
bad = 0
for i in range(30):
    data = os.urandom(4096)
    offset = (i * 37 % 2000) * 4096 + (i % 3) * 512
    wfd = os.open(a, os.O_WRONLY)
    os.pwrite(wfd, data, offset)
    os.close(wfd)
    if os.pread(fd, 4096, offset) != data:
        bad += 1
print(f"{bad} of 30 writes not seen")
sys.exit(1 if bad else 0)
PY
check "a reader holding vm1 open at b sees each of 30 writes made at a" /usr/bin/python3 "$WORK/reader.py" "$MA/vm1" "$MB/vm1"

# Concurrent writers at both sites over the same 8 MiB.
fio_at() {
  fio --name="w$1" --filename="$2" --rw=randwrite --bs=4k --size=8M --offset=0 --ioengine=libaio --direct=1 \
    --iodepth=8 --time_based --runtime=5 --randrepeat=0 --output="$WORK/fio-$1.out" > /dev/null 2>&1
}
fio_at a "$MA/vm1" & fa=$!
fio_at b "$MB/vm1" & fb=$!
wait "$fa"; ra=$?
wait "$fb"; rb=$?
if [ "$ra" = 0 ] && [ "$rb" = 0 ]; then pass "fio random writers at a and at b over the same 8 MiB for 5 s"
else fail "fio random writers at a and at b over the same 8 MiB for 5 s" "exit $ra/$rb: $(tail -3 "$WORK/fio-a.out" "$WORK/fio-b.out" | tr '\n' ' ')"; fi
ios_a=$(grep -o 'issued rwts: total=[0-9]*,[0-9]*' "$WORK/fio-a.out" | cut -d, -f2)
ios_b=$(grep -o 'issued rwts: total=[0-9]*,[0-9]*' "$WORK/fio-b.out" | cut -d, -f2)
echo "fio writes: a $ios_a, b $ios_b"
if [ "${ios_a:-0}" -gt 100 ] && [ "${ios_b:-0}" -gt 100 ]; then pass "both writers made progress (no deadlock)"
else fail "both writers made progress (no deadlock)" "a ${ios_a:-0}, b ${ios_b:-0} writes"; fi
if [ "$(sum_of "$MA/vm1" 0 8388608)" = "$(sum_of "$MB/vm1" 0 8388608)" ]; then pass "after concurrent writers the 8 MiB are identical at both sites"
else fail "after concurrent writers the 8 MiB are identical at both sites" "they differ"; fi
check "verify agrees" pairctl b verify vm1

# Large writes go to the peer as parts (128 KiB each): block sizes around and across a part,
# several in flight, checked by fio at a and compared with b's copy.
check "fio with 4k..1m blocks (not multiples of a part), iodepth 8, verify at a" \
  fio --name=parts --filename="$MA/vm1" --rw=randwrite --bssplit=4k/20:100k/20:129k/20:384k/20:1m/20 \
  --offset=16M --size=32M --ioengine=libaio --direct=1 --iodepth=8 --verify=crc32c --verify_fatal=1 --verify_state_save=0 \
  --randrepeat=0 --output="$WORK/fio-parts.out"
if [ "$(sum_of "$MA/vm1" $((16 << 20)) $((32 << 20)))" = "$(sum_of "$MB/vm1" $((16 << 20)) $((32 << 20)))" ]; then
  pass "after the large writes the 32 MiB are identical at both sites"
else fail "after the large writes the 32 MiB are identical at both sites" "they differ"; fi

# A discard through a loop device at a reaches b.
require "data at 200 MiB" dd if=/dev/urandom of="$MA/vm1" bs=1M count=4 seek=200 conv=notrunc,fsync status=none
if attach_loop "$MA/vm1"; then
  check "blkdiscard of 4 MiB at 200 MiB through the loop device at a" blkdiscard -o $((200 << 20)) -l $((4 << 20)) "$LOOP"
  detach_loop "$LOOP"
  zeros=$(head -c $((4 << 20)) /dev/zero | sha256sum | cut -d' ' -f1)
  if [ "$(sum_of "$MB/vm1" $((200 << 20)) $((4 << 20)))" = "$zeros" ]; then pass "the discarded range reads as zeros at b"
  else fail "the discarded range reads as zeros at b" "it does not"; fi
else
  fail "attach a loop device to vm1 at a" "losetup failed"
fi

# Reservations are ordered at the primary and mirrored.
check "reserve vm1 at b (forwarded to the primary)" pairctl b reserve vm1
check "a shows vm1 reserved by b" bash -c "[ \"\$($PAIRCTL -c $WORK/a.toml --json display vm1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0][\"reserved_by\"])')\" = b ]"
expect_fail_with "a write at a is refused with EBADE while b holds the reservation" "exchange" \
  dd if=/dev/zero of="$MA/vm1" bs=4k count=1 conv=notrunc status=none
check "a write at b succeeds while b holds the reservation" dd if=/dev/urandom of="$MB/vm1" bs=4k count=1 seek=5 conv=notrunc,fsync status=none
expect_exit "reserve vm1 at a conflicts: exit 3" 3 "reserved by site b" pairctl a reserve vm1
check "release at a --holder b" pairctl a release vm1 --holder b
check "b shows vm1 unreserved" bash -c "[ \"\$($PAIRCTL -c $WORK/b.toml --json display vm1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0][\"reserved_by\"])')\" = None ]"

# Split, writes, resync copies only the changed regions. Writes just before the split mark whole
# 4 MiB extents of the activity log (20 of them, 80 MiB); a clean split forgets those marks.
for i in $(seq 0 19); do
  dd if=/dev/urandom of="$MA/vm1" bs=4k count=1 seek=$((i * 3 * 1024 + 7)) conv=notrunc status=none
done
check "split vm1 at a right after writes in PAIR" pairctl a split vm1
check "a is PSUS" test "$(pair_field a vm1 status)" = PSUS
check "b is PSUS" test "$(pair_field b vm1 status)" = PSUS
expect_fail_with "a write at b in PSUS fails with EROFS" "read-only" \
  dd if=/dev/zero of="$MB/vm1" bs=4k count=1 conv=notrunc status=none
for i in $(seq 0 40); do   # 41 of 4096 regions: 1%
  dd if=/dev/urandom of="$MA/vm1" bs=4k count=1 seek=$((i * 97 * 16)) conv=notrunc status=none
done
sync "$MA/vm1" 2>/dev/null
dirty=$(pair_field a vm1 dirty_bytes)
echo "dirty at a after changing 41 regions: $dirty"
if [ "$dirty" -le $((256 * 1024 * 1024 * 15 / 1000)) ] && [ "$dirty" -ge $((41 * 65536)) ]; then pass "dirty_bytes covers the 41 changed regions and stays under 1.5% of the volume (the activity log's extents are not in it)"
else fail "dirty_bytes covers the 41 changed regions and stays under 1.5% of the volume" "$dirty"; fi
dirty_b=$(pair_field b vm1 dirty_bytes)
if [ "$dirty_b" -eq 0 ]; then pass "b has no dirty regions after a clean split"
else fail "b has no dirty regions after a clean split" "$dirty_b bytes"; fi
check "resync at b (forwarded to the primary)" pairctl b resync vm1
check "wait PAIR after resync" pairctl a wait vm1 --status PAIR --timeout 60
copied=$(grep -o 'copying [0-9]* bytes' "$WORK/a.log" | tail -1 | cut -d' ' -f2)
if [ -n "$copied" ] && [ "$copied" -le $((256 * 1024 * 1024 * 15 / 1000)) ]; then pass "resync copied $copied bytes, under 1.5% of the volume"
else fail "resync copied only the changed regions" "copied ${copied:-?} bytes"; fi
if [ "$(sum_of "$MA/vm1")" = "$(sum_of "$MB/vm1")" ]; then pass "after resync both copies are identical"
else fail "after resync both copies are identical" "they differ"; fi

# split --rw, writes at both, resync --swap at b: b's copy wins.
check "split --rw at a" pairctl a split vm1 --rw
check "b is SSUS" test "$(pair_field b vm1 status)" = SSUS
check "a write at b in SSUS succeeds" dd if=/dev/urandom of="$MB/vm1" bs=64k count=3 seek=50 conv=notrunc,fsync status=none
check "a write at a in PSUS succeeds" dd if=/dev/urandom of="$MA/vm1" bs=64k count=3 seek=900 conv=notrunc,fsync status=none
want=$(sum_of "$MB/vm1" $((50 * 65536)) $((3 * 65536)))
check "resync --swap at b" pairctl b resync vm1 --swap
check "wait PAIR at b" pairctl b wait vm1 --status PAIR --timeout 60
check "b is now the primary" test "$(pair_field b vm1 role)" = primary
check "a is now the secondary" test "$(pair_field a vm1 role)" = secondary
if [ "$(sum_of "$MA/vm1" $((50 * 65536)) $((3 * 65536)))" = "$want" ]; then pass "b's writes made in SSUS are at a"
else fail "b's writes made in SSUS are at a" "they are not"; fi
check "verify after resync --swap" pairctl a verify vm1

# takeover at the secondary while the primary answers: a swap, still PAIR.
expect_exit "takeover at the primary is refused" 1 "already the primary" pairctl b takeover vm1
check "takeover at a (swap)" pairctl a takeover vm1
check "a is primary PAIR" test "$(pair_field a vm1 role) $(pair_field a vm1 status)" = "primary PAIR"
check "b is secondary PAIR" test "$(pair_field b vm1 role) $(pair_field b vm1 status)" = "secondary PAIR"
check "writes at a after the swap" dd if=/dev/urandom of="$MA/vm1" bs=4k count=8 seek=77 conv=notrunc,fsync status=none
check "verify after the swap" pairctl b verify vm1

# Pair state survives restarts of both daemons.
# Both at once: a site that outlives its peer by peer_timeout_ms suspends the pair (PSUE) and
# restarts so; one stop after the other did that on a busy machine.
kill -TERM "$PID_a" "$PID_b"
wait_exit "$PID_a" 30; wait_exit "$PID_b" 30
must_start a; must_start b
check "a is primary PAIR after a restart of both" test "$(pair_field a vm1 role) $(pair_field a vm1 status)" = "primary PAIR"
check "b is secondary PAIR after a restart of both" test "$(pair_field b vm1 role) $(pair_field b vm1 status)" = "secondary PAIR"
sleep 1   # the peer links reconnect
check "writes at b after the restart" dd if=/dev/urandom of="$MB/vm1" bs=4k count=8 seek=99 conv=notrunc,fsync status=none
check "verify after the restart" pairctl a verify vm1

check "dissolve at b" pairctl b dissolve vm1
check "a is SMPL" test "$(pair_field a vm1 status)" = SMPL
check "b is SMPL" test "$(pair_field b vm1 status)" = SMPL
check "a write at b after dissolve stays local" dd if=/dev/urandom of="$MB/vm1" bs=4k count=1 seek=3 conv=notrunc,fsync status=none
if [ "$(sum_of "$MA/vm1" 12288 4096)" != "$(sum_of "$MB/vm1" 12288 4096)" ]; then pass "after dissolve the copies are independent"
else fail "after dissolve the copies are independent" "the write reached a"; fi
check "a log has no errors" bash -c "! grep -q ' error: ' '$WORK/a.log'"
check "b log has no errors" bash -c "! grep -q ' error: ' '$WORK/b.log'"
finish
