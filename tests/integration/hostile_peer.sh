#!/usr/bin/env bash
# A hostile peer (doc/design.md "Security": nothing a peer sends is trusted for size or shape): a client
# holding the other site's CURVE key (an authenticated peer: the sites run [security] with keys
# from pairctl keygen) sends a live sync pair zero-length, oversized, out-of-range and
# wrong-generation writes, pair commands with hostile values (region size 1, 70 KB group names,
# epochs near 2^64), and mutated valid frames of every site-to-site type, for a bounded time. Both
# daemons stay up, the pair stays in PAIR at its generation, the data is unchanged and identical
# (cmp, verify), both restart with every volume, and the refusals are counted in the logs.
# Also: pairctl refuses a 70 KB or invalid UTF-8 --group, and --json never aborts.
#
# The sender is wire_send with the claimed site's secret key and the receiver's public key.
# The mutations are seeded: PAIRFS_TEST_SEED repeats a run; PAIRFS_HOSTILE_SECONDS (default 8 s,
# ~7,000 frames each way here; longer by hand after a decoder or a handler changed) bounds the
# mutated-frame storm.
. "$(dirname "$0")/lib.sh"

# send SITE ENDPOINT MODE ARGS...: wire_send authenticated as SITE towards the other site.
send() {
  local as=$1 to=b; [ "$1" = b ] && to=a
  timeout 60 "$TOOLS/wire_send" --key "$K/$as.key" --server-key "$K/$to.pub" "${@:2}"
}
SEED=${PAIRFS_TEST_SEED:-$RANDOM}
SECONDS_OF_STORM=${PAIRFS_HOSTILE_SECONDS:-8}
echo "hostile seed $SEED (set PAIRFS_TEST_SEED to repeat)"

write_pair_configs 'peer_timeout_ms = 1000'
require "CURVE keys from pairctl keygen in both configs" secure_pair_configs
K=$WORK/keys
MA=$WORK/mnt-a MB=$WORK/mnt-b
must_start a
must_start b
require "volume create vm 16M" pairctl a volume create vm 16M
require "create vm --fence never" pairctl a create vm --mode sync --fence never
require "vm in PAIR" pairctl a wait vm --status PAIR --timeout 60
head -c $((4 << 20)) /dev/urandom > "$WORK/reference"
check "the link is authenticated (CURVE)" test "$(pair_field a vm link_authenticated)" = true
require "4 MiB written at a" dd if="$WORK/reference" of="$MA/vm" bs=1M conv=notrunc,fsync status=none
gen=$(pair_field a vm generation) gsite=$(pair_field a vm generation_site)
echo "pair vm at generation $gen/$gsite"

alive() { kill -0 "$PID_a" 2>/dev/null && kill -0 "$PID_b" 2>/dev/null; }

# ---- the input-crash bugs, one at a time (each aborted both daemons before) ----
check "a replica write of length 0 at the pair's generation sent to b (as a)" \
  send a "tcp://127.0.0.1:$PORT_B" write a replica vm "$gen" "$gsite" 4096 0 0
check "a forwarded write of length 0 at the pair's generation sent to a (as b)" \
  send b "tcp://127.0.0.1:$PORT_A" write b forwarded vm "$gen" "$gsite" 4096 0 0
check "a replica write whose data is shorter than its length" \
  send a "tcp://127.0.0.1:$PORT_B" write a replica vm "$gen" "$gsite" 0 4096 17
check "a replica write past the end of any volume" \
  send a "tcp://127.0.0.1:$PORT_B" write a replica vm "$gen" "$gsite" 18446744073709547520 4096 4096
sleep 1
check "both daemons still run after the zero-length and lying writes" alive

# ---- a bounded storm of hostile and mutated frames, both ways ----
# The two directions storm side by side, each sender its own loop: each daemon gets hostile frames
# for the whole storm. Seeds: SEED + 2k as a, SEED + 2k + 1 as b.
storm() {  # storm SITE PORT SEED_OFFSET: rounds of 400 frames as SITE to PORT; prints the rounds
  local rounds=0
  while [ "$(date +%s)" -lt "$t_end" ] && alive; do
    send "$1" "tcp://127.0.0.1:$2" hostile 400 $((SEED + 2 * rounds + $3)) "$1" vm "$gen" "$gsite" > /dev/null 2>&1
    rounds=$((rounds + 1))
  done
  echo "$rounds"
}
t_end=$(( $(date +%s) + SECONDS_OF_STORM ))
storm a "$PORT_B" 0 > "$WORK/storm-a" &
storm_a=$!
on_cleanup '[ -z "$storm_a" ] || kill "$storm_a"'  # only while it runs: its PID may be reused after
storm b "$PORT_A" 1 > "$WORK/storm-b"
wait "$storm_a"
storm_a=
echo "sent $(( $(cat "$WORK/storm-a") * 400 )) hostile frames as a to b and $(( $(cat "$WORK/storm-b") * 400 )) as b to a in $SECONDS_OF_STORM s"
check "a still runs after the storm" kill -0 "$PID_a"
check "b still runs after the storm" kill -0 "$PID_b"
sleep 1  # two status exchanges (status_interval_ms 500): a copy that took a hostile status for its peer's would show it
check "vm is still PAIR at a" test "$(pair_field a vm status)" = PAIR
check "vm is still PAIR at b" test "$(pair_field b vm status)" = PAIR
check "vm is still at generation $gen/$gsite" \
  test "$(pair_field b vm generation)/$(pair_field b vm generation_site)" = "$gen/$gsite"
check "the reservation epoch did not move (no mirrored epoch near 2^64)" test "$(pair_field b vm reserve_epoch)" = 0
check "the data written before is unchanged at a" cmp -n $((4 << 20)) "$WORK/reference" "$MA/vm"
check "and at b" cmp -n $((4 << 20)) "$WORK/reference" "$MB/vm"
check "verify finds no mismatch" pairctl a verify vm
check "writes still replicate" dd if=/dev/urandom of="$MA/vm" bs=64k count=16 seek=100 conv=notrunc,fsync status=none
identical "identical after the storm" vm
refused_a=$(grep -o '([0-9]* refused so far)' "$WORK/a.log" | tail -1 | tr -dc 0-9)
refused_b=$(grep -o '([0-9]* refused so far)' "$WORK/b.log" | tail -1 | tr -dc 0-9)
echo "refusals logged: a ${refused_a:-0}, b ${refused_b:-0}"
check "refusals are counted in a's log" test "${refused_a:-0}" -gt 0
check "refusals are counted in b's log" test "${refused_b:-0}" -gt 0
# Rate-limited: one kind of refusal, 12 more times within seconds, adds at most a line or two (one
# line per kind per 10 s; the first of this kind was logged before the storm).
for _ in $(seq 12); do
  send a "tcp://127.0.0.1:$PORT_B" write a replica vm "$gen" "$gsite" 4096 0 0 > /dev/null 2>&1
done
zero_length_lines=$(grep -c 'refused a replica-write from site a: length is not' "$WORK/b.log")
check "the log is rate-limited: 13 zero-length replica writes, $zero_length_lines line(s)" \
  test "$zero_length_lines" -ge 1 -a "$zero_length_lines" -le 3
# The hostile creates name hostile-volume, with a 1-byte region or a 70 KB or invalid UTF-8 group.
# (A mutant of a valid create may make a pair of another volume: a peer may create pairs. Their
# peer volume never exists at the sender's site, or is vm, which is paired already: refused.)
check "no pair create with a hostile value made a volume at a" test -z "$(pairctl a volume list | grep hostile-volume)"
check "... nor at b" test -z "$(pairctl b volume list | grep hostile-volume)"

# ---- both restart with every volume (nothing saved that a restart cannot load) ----
# Both at once: a site that outlives its peer by peer_timeout_ms (1 s) suspends the pair (PSUE)
# and restarts so; one stop after the other did that on a busy machine.
kill -TERM "$PID_b" "$PID_a"
wait_exit "$PID_b" 30; rc=$?
check "b stops cleanly (exit $rc)" test "$rc" -eq 0
wait_exit "$PID_a" 30; rc=$?
check "a stops cleanly (exit $rc)" test "$rc" -eq 0
must_start a
must_start b
check "vm is back at a" test "$(pair_field a vm status)" = PAIR
check "vm is back at b" wait_field b vm status PAIR 10
check "the data is still there after the restart" cmp -n $((4 << 20)) "$WORK/reference" "$MB/vm"

# ---- pairctl: group names that the metadata or the JSON output could not hold ----
require "volume create g1 1M" pairctl a volume create g1 1M
long=$(head -c 70000 /dev/zero | tr '\0' g)
expect_exit "create --group with a 70 KB name is refused" 1 "group" pairctl a create g1 --mode sync --group "$long"
expect_exit "create --group with invalid UTF-8 is refused" 1 "UTF-8" pairctl a create g1 --mode sync --group $'\xff'
check "g1 is still SMPL" test "$(pair_field a g1 status)" = SMPL
check "display --json of every volume still answers" pairctl a --json display
check "a still runs" kill -0 "$PID_a"
finish
