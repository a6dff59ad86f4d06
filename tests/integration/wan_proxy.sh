#!/usr/bin/env bash
# build/tools/wan_proxy, the WAN of the async tests and `make bench`: first alone in front of a
# python echo server (bytes intact and in order; the delay and the rate cap as LOWER bounds only;
# stall, heal, reset, cut, a client that resets, a clean exit), then under a real sync pair whose
# replication link goes through it with 10 ms each way: fio --verify at the primary, the link
# stalled like pair_faults.sh's iptables DROP (the same outcomes: fence never goes on alone in
# PSUE, fence data fails with EIO, the secondary refuses with EROFS), healed, resynced, identical;
# then both connections reset (SIGHUP), and the link cut (--usr1 cut) with the stall's outcomes.
. "$(dirname "$0")/lib.sh"
[ -x "$WAN" ] || { fail "wan_proxy is built" "$WAN missing: make build/tools/wan_proxy"; finish; }

ECHO_PORT=$PORT_W PROXY_PORT=$((PORT_A + 7))
cat > "$WORK/echo.py" <<'PY'
import socket, sys, threading
def serve(conn):
    buf = bytearray(1 << 20)
    try:
        while True:
            n = conn.recv_into(buf)
            if n == 0:
                break
            conn.sendall(memoryview(buf)[:n])
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    conn.close()
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen(16)
while True:
    conn, _ = server.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
PY
# wan_check.py MODE PORT PROXY_PID LOG [ARGS]: one check through the proxy; prints what it saw,
# exits 0 if it holds. Signals are sent here and followed by a wait for the proxy's log line.
cat > "$WORK/wan_check.py" <<'PY'
import hashlib, os, signal, socket, struct, sys, threading, time
mode, port, pid, log = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
args = sys.argv[5:]

def connect():
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def signal_and_wait(sig, word):
    before = open(log).read().count(": " + word)
    os.kill(pid, sig)
    for _ in range(200):
        if open(log).read().count(": " + word) > before:
            return
        time.sleep(0.05)
    sys.exit("the proxy never logged '%s'" % word)

def echo(mib):  # mib MiB of varied bytes through the echo, sent and received at once
    s = connect()
    block = os.urandom(1 << 20)
    sent = hashlib.sha256()
    def send():
        for i in range(mib):
            chunk = block[i % 4093:] + block[:i % 4093]
            sent.update(chunk)
            s.sendall(chunk)
        s.shutdown(socket.SHUT_WR)
    start = time.monotonic()
    sender = threading.Thread(target=send)
    sender.start()
    got, count, buf = hashlib.sha256(), 0, bytearray(1 << 20)
    while True:
        n = s.recv_into(buf)
        if n == 0:
            break
        got.update(memoryview(buf)[:n])
        count += n
    sender.join()
    seconds = time.monotonic() - start
    return count == mib << 20 and got.digest() == sent.digest(), count, seconds

def round_trip(s, text):
    start = time.monotonic()
    s.sendall(text)
    answer = b""
    while len(answer) < len(text):
        answer += s.recv(100)
    return (time.monotonic() - start) * 1000, answer == text

def nothing_within(s, seconds):  # a stall: nothing may come back (a slow machine cannot fail this)
    s.settimeout(seconds)
    try:
        s.recv(100)  # bytes or the end: either way something came through
        return False
    except socket.timeout:
        return True
    finally:
        s.settimeout(30)

def is_reset(s):  # the connection ends (RST or EOF) instead of answering
    try:
        s.sendall(b"x")
        return s.recv(100) == b""
    except OSError:
        return True

if mode == "echo":
    intact, count, seconds = echo(int(args[0]))
    print("%d bytes back, intact and in order: %s, %.0f MB/s both ways at once" % (count, intact, count / seconds / 1e6))
    sys.exit(0 if intact else 1)
if mode == "rtt":  # every round trip lasts at least MIN_MS
    s = connect()
    times = [round_trip(s, b"ping %d" % i) for i in range(3)]
    print("round trips (ms):", " ".join("%.1f" % t for t, _ in times))
    sys.exit(0 if all(ok and t >= float(args[0]) for t, ok in times) else 1)
if mode == "rate":  # MIB through a cap of RATE MB/s in no less than (MIB - 1 MiB of burst) / RATE
    mib, rate = int(args[0]), float(args[1])
    intact, count, seconds = echo(mib)
    floor = ((mib - 1) << 20) / (rate * 1e6)
    print("%d bytes in %.2f s (at least %.2f s at %g MB/s), intact: %s" % (count, seconds, floor, rate, intact))
    sys.exit(0 if intact and seconds >= floor else 1)
if mode == "stall":
    s = connect()
    assert round_trip(s, b"before")[1], "no echo before the stall"
    signal_and_wait(signal.SIGUSR1, "stalled")
    s.sendall(b"during")
    quiet = nothing_within(s, 0.5)
    late = connect()  # waits in the backlog
    late.sendall(b"late")
    late_quiet = nothing_within(late, 0.3)
    signal_and_wait(signal.SIGUSR2, "healed")
    kept = s.recv(100) == b"during"
    served = late.recv(100) == b"late"
    after = round_trip(s, b"after")[1]
    print("nothing back during the stall: %s (new connection: %s); bytes kept and delivered after heal: %s; "
          "the connection made during the stall served: %s; echo after heal: %s" % (quiet, late_quiet, kept, served, after))
    sys.exit(0 if quiet and late_quiet and kept and served and after else 1)
if mode == "reset":
    s = connect()
    assert round_trip(s, b"before")[1], "no echo before the reset"
    signal_and_wait(signal.SIGHUP, "reset")
    reset = is_reset(s)
    fresh = round_trip(connect(), b"fresh")[1]
    print("open connection reset: %s; a new one served: %s" % (reset, fresh))
    sys.exit(0 if reset and fresh else 1)
if mode == "cut":
    s = connect()
    assert round_trip(s, b"before")[1], "no echo before the cut"
    signal_and_wait(signal.SIGUSR1, "cut")
    reset = is_reset(s)
    try:
        refused = is_reset(connect())
    except OSError:  # the reset can come before connect() returns
        refused = True
    signal_and_wait(signal.SIGUSR2, "healed")
    fresh = round_trip(connect(), b"fresh")[1]
    print("open connection reset: %s; new one refused during the cut: %s; served after heal: %s" % (reset, refused, fresh))
    sys.exit(0 if reset and refused and fresh else 1)
if mode == "client-reset":  # a client that resets in the middle of a transfer, then a good one
    s = connect()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.sendall(os.urandom(4 << 20))
    s.close()
    fresh = round_trip(connect(), b"fresh")[1]
    print("served after a client reset mid-transfer: %s" % fresh)
    sys.exit(0 if fresh else 1)
sys.exit("unknown mode " + mode)
PY

python3 "$WORK/echo.py" "$ECHO_PORT" > "$WORK/echo.log" 2>&1 &
_PIDS+=($!)
wait_until 5 python3 -c "import socket; socket.create_connection(('127.0.0.1', $ECHO_PORT)).close()" 2> /dev/null \
  || { fail "the echo server listens" "$(cat "$WORK/echo.log")"; finish; }

# proxy_alone OPTIONS...: a wan_proxy $PROXY_PORT -> echo with OPTIONS (log $WORK/alone.log), PID in $ALONE
proxy_alone() {
  : > "$WORK/alone.log"
  "$WAN" --listen "127.0.0.1:$PROXY_PORT" --to "127.0.0.1:$ECHO_PORT" "$@" >> "$WORK/alone.log" 2>&1 &
  ALONE=$!
  on_cleanup "kill $ALONE"
  wait_until 5 grep -q 'listening on' "$WORK/alone.log"
}
alone_check() { python3 "$WORK/wan_check.py" "$1" "$PROXY_PORT" "$ALONE" "$WORK/alone.log" "${@:2}"; }
# stop_alone NAME: SIGTERM; NAME passes if the proxy exits 0.
stop_alone() {
  kill -TERM "$ALONE"
  wait_exit "$ALONE" 10
  local rc=$?
  if [ $rc -eq 0 ]; then pass "$1"; else fail "$1" "exit $rc: $(tail -2 "$WORK/alone.log" | tr '\n' ' ')"; fi
}

proxy_alone --delay-ms 0
check "64 MiB through the proxy and an echo come back intact and in order" alone_check echo 64
echo "throughput through the proxy at delay 0 (python echo, 256 MiB): $(alone_check echo 256)"
check "a client that resets mid-transfer does not end the proxy; the next one is served" alone_check client-reset
check "stall keeps the bytes and the connections; heal delivers them" alone_check stall
check "SIGHUP resets the open connections; new ones are served" alone_check reset
check "the proxy still runs after the peers' resets" kill -0 "$ALONE"
stop_alone "SIGTERM: the proxy exits 0"

proxy_alone --delay-ms 200
check "with --delay-ms 200 every round trip takes at least 400 ms" alone_check rtt 400
check "with --delay-ms 200 8 MiB still come back intact and in order" alone_check echo 8
stop_alone "SIGTERM with a delay: exits 0"

proxy_alone --rate-mbps 4
check "with --rate-mbps 4, 8 MiB take at least 7 MiB / 4 MB/s" alone_check rate 8 4
stop_alone "SIGTERM with a rate cap: exits 0"

proxy_alone --usr1 cut --delay-ms 5
check "--usr1 cut: SIGUSR1 resets the connections and refuses new ones until SIGUSR2" alone_check cut
stop_alone "SIGTERM after a cut: exits 0"

# ---- a sync pair through the proxy, 10 ms each way ----
write_pair_configs 'peer_timeout_ms = 1000'
require "a's and b's peer endpoints point at the proxy" route_peers_through_wan
start_wan 10 > "$WORK/start-wan.out" 2>&1 || { fail "wan_proxy starts" "$(tail -3 "$WORK/start-wan.out")"; finish; }
must_start a
must_start b
MA=$WORK/mnt-a MB=$WORK/mnt-b
require "volume create never 16M" pairctl a volume create never 16M
require "volume create data 16M" pairctl a volume create data 16M
require "create never --fence never" pairctl a create never --mode sync --fence never
require "create data --fence data" pairctl a create data --mode sync --fence data
require "never in PAIR" pairctl a wait never --status PAIR --timeout 60
require "data in PAIR" pairctl a wait data --status PAIR --timeout 60
check "a reaches b through the proxy (a connection accepted on $WAN_AB)" grep -q "accepted on 127.0.0.1:$WAN_AB" "$WORK/wan.log"
check "b reaches a through the proxy (a connection accepted on $WAN_BA)" grep -q "accepted on 127.0.0.1:$WAN_BA" "$WORK/wan.log"

check "fio randwrite 4 MiB bs=64k iodepth=8 at a with crc32c verification" \
  fio --name=wan --filename="$MA/never" --size=4M --rw=randwrite --bs=64k --ioengine=libaio --iodepth=8 \
    --direct=1 --verify=crc32c --verify_fatal=1 --verify_state_save=0 --output="$WORK/fio.out"
identical "after fio through the WAN: identical" never

require "stall the link (wan_proxy SIGUSR1)" wan_stall
check "fence never: a write at a completes while the link is stalled" \
  timeout 60 dd if=/dev/urandom of="$MA/never" bs=4k count=1 seek=5 conv=notrunc,fsync status=none
check "fence never: the primary is PSUE" wait_field a never status PSUE 3
check "fence never: more writes at a go on alone while the link is stalled" \
  timeout 60 dd if=/dev/urandom of="$MA/never" bs=64k count=32 seek=100 conv=notrunc,fsync status=none
expect_fail_with "fence data: a write at a fails with EIO" "input/output error" \
  dd if=/dev/urandom of="$MA/data" bs=4k count=1 seek=9 conv=notrunc,fsync status=none
expect_fail_with "at b, a write that cannot reach the primary fails with EROFS" "read-only" \
  dd if=/dev/urandom of="$MB/never" bs=4k count=1 seek=11 conv=notrunc,fsync status=none
require "heal the link (wan_proxy SIGUSR2)" wan_heal
check "b learns the pair is suspended (PSUE)" wait_field b never status PSUE 10
check "resync never after the heal" pairctl a resync never
check "never back in PAIR" pairctl a wait never --status PAIR --timeout 60
identical "fence never: identical after stall, heal and resync" never
check "resync data after the heal" pairctl a resync data
check "data back in PAIR" pairctl a wait data --status PAIR --timeout 60
identical "fence data: identical after stall, heal and resync" data

# A reset of both connections (SIGHUP, a NAT or firewall flushing its table): ZeroMQ reconnects
# through the proxy; what the pair makes of it is checked by outcome only: a fsync'd write at a
# completes, and after a resync if the pair suspended, the copies are identical.
require "reset the link's connections (wan_proxy SIGHUP)" wan_reset
check "a fsync'd write at a completes after the reset" \
  timeout 60 dd if=/dev/urandom of="$MA/never" bs=64k count=16 seek=7 conv=notrunc,fsync status=none
status=$(pair_field a never status)
echo "never after the reset: $status"
if [ "$status" != PAIR ]; then
  check "resync never after the reset" pairctl a resync never
  check "never back in PAIR after the reset" pairctl a wait never --status PAIR --timeout 60
fi
identical "identical after the reset" never

# The link cut instead of stalled (--usr1 cut: every connection reset, new ones refused, like a far
# host answering RST): the same outcomes as the stall. The proxy is restarted in that mode under
# the running sites, which reconnect to it.
# both_hear: each site heard the other within the last 600 ms (statuses go every 500 ms): both
# connections through the proxy are up again. A write asked before that may meet a link still
# reconnecting (ZeroMQ backs off up to 1 s) and, at peer_timeout_ms = 1000, a suspended pair.
hears() {
  local ago
  ago=$(pair_field "$1" never peer_heard_ms_ago) && [ "$ago" -ge 0 ] && [ "$ago" -lt 600 ]
}
both_hear() { hears a && hears b; }
stop_wan
start_wan 10 "" --usr1 cut > "$WORK/start-wan.out" 2>&1 || { fail "wan_proxy --usr1 cut starts" "$(tail -3 "$WORK/start-wan.out")"; finish; }
check "both sites hear each other through the restarted proxy" wait_until 30 both_hear
check "writes at a through the restarted proxy" \
  timeout 60 dd if=/dev/urandom of="$MA/data" bs=64k count=16 seek=3 conv=notrunc,fsync status=none
require "cut the link (wan_proxy --usr1 cut, SIGUSR1)" wan_cut
check "cut: fence never: a write at a completes" \
  timeout 60 dd if=/dev/urandom of="$MA/never" bs=4k count=1 seek=6 conv=notrunc,fsync status=none
check "cut: fence never: the primary is PSUE" wait_field a never status PSUE 3
expect_fail_with "cut: fence data: a write at a fails with EIO" "input/output error" \
  dd if=/dev/urandom of="$MA/data" bs=4k count=1 seek=12 conv=notrunc,fsync status=none
check "cut: the proxy refuses the sites' reconnections" wait_until 5 grep -q "refused (cut)" "$WORK/wan.log"
require "heal the cut link (wan_proxy SIGUSR2)" wan_heal
check "cut: b learns the pair is suspended (PSUE)" wait_field b never status PSUE 10
check "cut: both sites hear each other after the heal" wait_until 30 both_hear
check "cut: resync never" pairctl a resync never
check "cut: never back in PAIR" pairctl a wait never --status PAIR --timeout 60
identical "cut: never identical after heal and resync" never
check "cut: resync data" pairctl a resync data
check "cut: data back in PAIR" pairctl a wait data --status PAIR --timeout 60
identical "cut: data identical after heal and resync" data
stop_wan
rc=$?
if [ $rc -eq 0 ]; then pass "the pair's proxy exits 0 on SIGTERM"; else fail "the pair's proxy exits 0 on SIGTERM" "exit $rc"; fi
finish
