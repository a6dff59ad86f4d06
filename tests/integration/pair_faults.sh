#!/usr/bin/env bash
# Real faults under a synchronous pair: the link cut with iptables DROP during writes (fence never
# and fence data), kill -9 of the secondary and of the primary (after fsync'd writes, and in the
# middle of a stream of writes), kill -9 of both while suspended, garbage on the peer port, and a
# swap whose last step is lost. After each: resync, and both copies identical byte for byte.
. "$(dirname "$0")/lib.sh"
command -v iptables > /dev/null || { skip "pair faults" "iptables is not installed"; finish; }

write_pair_configs 'peer_timeout_ms = 1000'
MA=$WORK/mnt-a MB=$WORK/mnt-b

must_start a
must_start b
require "volume create never 64M" pairctl a volume create never 64M
require "volume create data 64M" pairctl a volume create data 64M
require "create never --fence never" pairctl a create never --mode sync --fence never
require "create data --fence data" pairctl a create data --mode sync --fence data
require "never in PAIR" pairctl a wait never --status PAIR --timeout 60
require "data in PAIR" pairctl a wait data --status PAIR --timeout 60
sleep 3  # let the activity log of the copy settle

# ---- the link cut with iptables DROP during writes ----
# The writer stays in the first 2 MiB; with the 2 MiB written below, about 4 MiB change.
(while :; do dd if=/dev/urandom of="$MA/never" bs=4k count=1 seek=$((RANDOM % 512)) conv=notrunc,fsync status=none 2>/dev/null; done) &
writer=$!
on_cleanup "kill $writer"
sleep 1
require "iptables DROP on both sites' peer ports" drop_ports "$PORT_A" "$PORT_B"
t0=$(ms_now)
check "fence never: a write at a completes while the link is cut" \
  timeout 60 dd if=/dev/urandom of="$MA/never" bs=4k count=1 seek=5 conv=notrunc,fsync status=none
report_ms "the first write after the cut (peer_timeout_ms 1000)" "$(( $(ms_now) - t0 ))"
check "fence never: the primary is PSUE" wait_field a never status PSUE 3
t0=$(ms_now)
check "fence never: more writes at a go on alone while the link is still cut" \
  timeout 60 dd if=/dev/urandom of="$MA/never" bs=64k count=32 seek=100 conv=notrunc,fsync status=none
report_ms "32 writes of 64 KiB in PSUE" "$(( $(ms_now) - t0 ))"
expect_fail_with "fence data: a write at a fails with EIO" "input/output error" \
  dd if=/dev/urandom of="$MA/data" bs=4k count=1 seek=9 conv=notrunc,fsync status=none
expect_fail_with "fence data: the next write fails with EIO too" "input/output error" \
  dd if=/dev/urandom of="$MA/data" bs=4k count=1 seek=10 conv=notrunc,fsync status=none
expect_fail_with "at b, a write that cannot reach the primary fails with EROFS" "read-only" \
  dd if=/dev/urandom of="$MB/never" bs=4k count=1 seek=11 conv=notrunc,fsync status=none
kill "$writer" 2>/dev/null; wait "$writer" 2>/dev/null
check "heal the link" heal_ports
check "b learns the pair is suspended (PSUE)" wait_field b never status PSUE 10
sleep 1
dirty=$(pair_field a never dirty_bytes)
check "resync never after the heal" pairctl a resync never
check "never back in PAIR" pairctl a wait never --status PAIR --timeout 60
copied=$(grep -o 'pair never: copying [0-9]* bytes' "$WORK/a.log" | tail -1 | cut -d' ' -f4)
echo "dirty before resync $dirty, copied $copied bytes"
if [ -n "$copied" ] && [ "$copied" -ge $((2 << 20)) ] && [ "$copied" -le $((6 << 20)) ]; then pass "resync copied about the 4 MiB that changed ($copied bytes of 64 MiB)"
else fail "resync copied about what changed" "${copied:-?} bytes"; fi
identical "fence never: identical after heal and resync" never
check "resync data after the heal" pairctl a resync data
check "data back in PAIR" pairctl a wait data --status PAIR --timeout 60
identical "fence data: identical after heal and resync" data
check "verify never" pairctl b verify never

# ---- kill -9 of the secondary during writes ----
(while :; do dd if=/dev/urandom of="$MA/never" bs=16k count=1 seek=$((RANDOM % 4000)) conv=notrunc status=none 2>/dev/null; done) &
writer=$!
on_cleanup "kill $writer"
sleep 1
kill9_site b
sleep 2
kill "$writer" 2>/dev/null; wait "$writer" 2>/dev/null
check "after kill -9 of b the primary is PSUE" wait_field a never status PSUE 5
must_start b
sleep 2
check "resync after b's restart" pairctl a resync never
check "PAIR after b's restart" pairctl a wait never --status PAIR --timeout 60
identical "kill -9 of the secondary during writes: identical after resync" never

# ---- kill -9 of the primary after fsync'd writes; takeover at b ----
require "fsync'd writes at a" dd if=/dev/urandom of="$MA/never" bs=1M count=8 seek=20 conv=notrunc,fsync status=none
want=$(sum_of "$MA/never" $((20 << 20)) $((8 << 20)))
kill9_site a
check "takeover at b while a is dead" pairctl b takeover never
check "b is SSWS" test "$(pair_field b never status)" = SSWS
if [ "$(sum_of "$MB/never" $((20 << 20)) $((8 << 20)))" = "$want" ]; then pass "every fsync'd byte is at b"
else fail "every fsync'd byte is at b" "the 8 MiB differ"; fi
check "b takes writes in SSWS" dd if=/dev/urandom of="$MB/never" bs=64k count=4 seek=7 conv=notrunc,fsync status=none
must_start a
check "a comes back outdated" wait_field a never outdated true 10
expect_fail_with "the outdated a refuses writes (EROFS)" "read-only" \
  dd if=/dev/urandom of="$MA/never" bs=4k count=1 conv=notrunc,fsync status=none
expect_exit "plain resync at a toward b in SSWS is refused" 1 "" pairctl a resync never
expect_exit "takeover at a of the outdated copy is refused without --force" 1 "" pairctl a takeover never
check "resync --swap at b" pairctl b resync never --swap
check "PAIR after the swap" pairctl b wait never --status PAIR --timeout 60
check "a is the secondary now" test "$(pair_field a never role)" = secondary
identical "after takeover and resync --swap: identical" never

# ---- kill -9 of the primary (b) in the middle of a stream of writes ----
(while :; do dd if=/dev/urandom of="$MB/never" bs=64k count=1 seek=$((RANDOM % 1000)) conv=notrunc status=none 2>/dev/null; done) &
writer=$!
on_cleanup "kill $writer"
sleep 2
kill9_site b
kill "$writer" 2>/dev/null; wait "$writer" 2>/dev/null
check "takeover at a while b is dead" pairctl a takeover never
must_start b
check "resync --swap at a" pairctl a resync never --swap
check "PAIR after resync --swap" pairctl a wait never --status PAIR --timeout 60
identical "kill -9 of the primary mid-stream, takeover, resync --swap: identical" never

# ---- kill -9 of both daemons while suspended: the dirty bitmaps survive ----
# After split --rw both sides write; each write's region is marked durably before the write, so
# the bitmaps survive kill -9 of both daemons and the resync covers every change at both sides.
check "no region marked at b after the copy (also those it found marked when it restarted as primary)" \
  wait_field b never dirty_bytes 0 5
check "split --rw at a" pairctl a split never --rw
for i in $(seq 0 9); do
  dd if=/dev/urandom of="$MA/never" bs=4k count=1 seek=$((i * 400 + 3)) conv=notrunc status=none
  dd if=/dev/urandom of="$MB/never" bs=4k count=1 seek=$((i * 400 + 203)) conv=notrunc status=none
done
dirty_a=$(pair_field a never dirty_bytes) dirty_b=$(pair_field b never dirty_bytes)
kill9_site a
kill9_site b
must_start a
must_start b
check "a's dirty bitmap ($dirty_a bytes: 10 regions written) survived kill -9" \
  test "$(pair_field a never dirty_bytes)" -eq "$dirty_a" -a "$dirty_a" -ge $((10 * 65536))
check "b's dirty bitmap ($dirty_b bytes: 10 regions written) survived kill -9" \
  test "$(pair_field b never dirty_bytes)" -eq "$dirty_b" -a "$dirty_b" -ge $((10 * 65536))
check "resync at a after both restarts" pairctl a resync never
check "PAIR after the resync" pairctl a wait never --status PAIR --timeout 60
identical "kill -9 of both sites while suspended: b's changes undone, a's copied, identical" never
check "verify after the resync" pairctl a verify never

# ---- garbage on the peer port ----
SEED=${PAIRFS_TEST_SEED:-$RANDOM}
echo "peer-garbage seed $SEED"
check "400 malformed frames claiming to be from b sent to a's peer port" \
  timeout 60 "$TOOLS/wire_send" "tcp://127.0.0.1:$PORT_A" peer-garbage 400 "$SEED" b
check "400 malformed frames claiming to be from a sent to b's peer port" \
  timeout 60 "$TOOLS/wire_send" "tcp://127.0.0.1:$PORT_B" peer-garbage 400 "$SEED" a
check "a still runs" kill -0 "$PID_a"
check "b still runs" kill -0 "$PID_b"
check "the pair is still PAIR" test "$(pair_field a never status)" = PAIR
check "writes after the garbage" dd if=/dev/urandom of="$MB/never" bs=64k count=16 seek=3 conv=notrunc,fsync status=none
identical "identical after garbage on the peer ports" never

# ---- a swap whose last step is lost: the old primary demoted, the answer never arrives ----
# As if b had asked for a swap (takeover in PAIR): a's node demotes itself into b's generation and
# answers b's node, which asked nothing. b must finish the swap on its own (primary in PAIR), not
# take itself for outdated: else nobody is primary and every resync is refused.
gen=$(pair_field a never generation)
check "a demote of never claiming to come from b, at generation $((gen + 1))/b" \
  timeout 10 "$TOOLS/wire_send" "tcp://127.0.0.1:$PORT_A" peer-command b demote never $((gen + 1)) b
check "a is a secondary now" wait_field a never role secondary 5
check "b finishes the swap: primary in PAIR" wait_field b never role primary 10
check "... at generation $((gen + 1)) of b" test "$(pair_field b never generation)/$(pair_field b never generation_site)" = "$((gen + 1))/b"
check "b's copy is not outdated" test "$(pair_field b never outdated)" = false
check "never in PAIR at a" test "$(pair_field a never status)" = PAIR
check "writes at b after the finished swap" dd if=/dev/urandom of="$MB/never" bs=64k count=16 seek=40 conv=notrunc,fsync status=none
check "writes at a (forwarded to b)" dd if=/dev/urandom of="$MA/never" bs=64k count=16 seek=80 conv=notrunc,fsync status=none
identical "identical after the finished swap" never
finish
