#!/usr/bin/env bash
# Garbage at the control socket: raw random bytes (socat) and malformed frames (wire_send) leave
# pairfs running, answering well-formed requests, and every volume's data as it was.
. "$(dirname "$0")/lib.sh"

write_config a
must_start a
M=$WORK/mnt-a
SOCK=$WORK/a/control.sock
ENDPOINT=ipc://$SOCK
SEED=${PAIRFS_TEST_SEED:-$RANDOM}
echo "wire_send seed $SEED (set PAIRFS_TEST_SEED to repeat)"

require "pairctl volume create vm1 64M succeeds" pairctl a volume create vm1 64M
require "random data written to vm1" dd if=/dev/urandom of="$M/vm1" bs=1M count=8 conv=notrunc,fsync status=none
want=$(sum_of "$M/vm1")
require "pairctl reserve vm1 (this site) succeeds" pairctl a reserve vm1

# still_serving WHAT: pairfs runs, answers pairctl, nothing about vm1 changed.
still_serving() {
  if kill -0 "$PID_a" 2>/dev/null; then pass "pairfs still runs after $1"; else fail "pairfs still runs after $1" "it exited: $(tail -3 "$WORK/a.log")"; finish; fi
  local listed
  if listed=$(pairctl a volume list 2>&1) && grep -q '^vm1 ' <<<"$listed"; then pass "pairctl volume list still works after $1"
  else fail "pairctl volume list still works after $1" "$listed"; fi
  local state
  state=$(pairctl a --json volume list | json "[(v['name'], v['size_bytes'], v['reserved_by']) for v in d]")
  if [ "$state" = '[["vm1", 67108864, "a"]]' ]; then pass "the volume table is unchanged after $1"
  else fail "the volume table is unchanged after $1" "$state"; fi
  if [ "$(sum_of "$M/vm1")" = "$want" ]; then pass "vm1's data checksum is unchanged after $1"
  else fail "vm1's data checksum is unchanged after $1" "checksum differs"; fi
}

for i in 1 2 3; do head -c 100000 /dev/urandom | timeout 10 socat -u - "UNIX-CONNECT:$SOCK" 2>/dev/null; done
# A ZeroMQ greeting's first bytes, then noise: gets past the first check of the handshake.
{ printf '\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f\x03\x00NULL'; head -c 50000 /dev/urandom; } |
  timeout 10 socat -u - "UNIX-CONNECT:$SOCK" 2>/dev/null
still_serving "100 KB of random bytes sent with socat to its control socket"

check "wire_send sends 300 malformed frames" timeout 60 "$TOOLS/wire_send" "$ENDPOINT" garbage 300 "$SEED"
still_serving "300 malformed frames (wire_send garbage)"
check "wire_send ping gets an answer after the garbage" timeout 20 "$TOOLS/wire_send" "$ENDPOINT" ping

# Well-formed requests are answered while garbage keeps arriving.
(timeout 60 "$TOOLS/wire_send" "$ENDPOINT" garbage 200 $((SEED + 1)) > /dev/null 2>&1) &
flood=$!
answered=0
for _ in $(seq 20); do pairctl a volume list > /dev/null 2>&1 && answered=$((answered + 1)); done
wait_exit "$flood" 60 > /dev/null 2>&1
if [ "$answered" = 20 ]; then pass "every one of 20 pairctl requests is answered during a garbage flood"
else fail "every one of 20 pairctl requests is answered during a garbage flood" "$answered of 20 answered"; fi
still_serving "a garbage flood alongside pairctl requests"

finish
