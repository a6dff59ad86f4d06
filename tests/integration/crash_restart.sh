#!/usr/bin/env bash
# kill -9 of pairfs and a restart: fsync'd data is intact (also data acknowledged to a writer that
# was still writing when pairfs died), and everything a user set survives: owner, mode, times,
# reservations, resizes, creates and deletes.
. "$(dirname "$0")/lib.sh"

write_config a
must_start a
M=$WORK/mnt-a
MiB=$((1024 * 1024))

require "pairctl volume create vm1 256M succeeds" pairctl a volume create vm1 256M
require "pairctl volume create vm2 16M succeeds" pairctl a volume create vm2 16M
require "pairctl volume create gone 16M succeeds" pairctl a volume create gone 16M
require "pairctl volume create stream 128M succeeds" pairctl a volume create stream 128M
require "pairctl volume create meta 4M succeeds" pairctl a volume create meta 4M

# fsync'd data: dd conv=fsync, and Python writes (one with O_DIRECT) each followed by os.fsync.
head -c 8M /dev/urandom > "$WORK/a-data"
head -c 3M /dev/urandom > "$WORK/b-data"
require "8 MiB written to vm1 with dd conv=fsync" \
  dd if="$WORK/a-data" of="$M/vm1" bs=1M seek=1 conv=notrunc,fsync status=none
require "3 MiB written to vm1 with pwrite + fsync" python3 - "$M/vm1" "$WORK/b-data" <<'PY'
import os, sys, mmap
data = open(sys.argv[2], "rb").read()
fd = os.open(sys.argv[1], os.O_WRONLY)
os.pwrite(fd, data[:2 * 2**20], 100 * 2**20 + 12345)      # unaligned, buffered
os.fsync(fd)
dfd = os.open(sys.argv[1], os.O_WRONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 2**20)
buf.write(data[2 * 2**20:])
os.pwrite(dfd, buf, 200 * 2**20)                           # O_DIRECT
os.fdatasync(dfd)
PY
sum_a=$(sum_of "$WORK/a-data") sum_b1=$(sum_of "$WORK/b-data" 0 $((2 * MiB))) sum_b2=$(sum_of "$WORK/b-data" $((2 * MiB)) $MiB)

# Metadata a user changes: owner, mode, times; a reservation; a resize; a create and a delete.
require "vm2 resized to 32M" pairctl a volume resize vm2 32M
require "volume gone deleted" pairctl a volume delete gone
require "volume late created" pairctl a volume create late 8M
require "vm2 reserved by holder b" pairctl a reserve vm2 --holder b
chown 1234:5678 "$M/vm1" && chmod 640 "$M/vm1" && touch -d '2001-02-03 04:05:06 UTC' "$M/vm1"
attrs=$(stat -c '%u:%g %a %Y' "$M/vm1")
if [ "$attrs" = "1234:5678 640 981173106" ]; then pass "chown, chmod and touch -d took effect before the crash"
else fail "chown, chmod and touch -d took effect before the crash" "stat says $attrs"; fi

# A writer still running when pairfs dies (on its own volume): every 4 KiB block it had fsync'd
# (and logged as acknowledged) must be there after the restart.
python3 - "$M/stream" "$WORK/acked" <<'PY' &
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
log = open(sys.argv[2], "w")
n = 0
try:
    while n < 32768:                                       # the whole 128 MiB; block n holds byte n%251+1
        os.pwrite(fd, bytes([n % 251 + 1]) * 4096, n * 4096)
        os.fsync(fd)
        n += 1
        log.write(f"{n}\n"); log.flush()
except OSError:
    pass
PY
writer=$!
# Metadata rewritten over and over while pairfs dies: after the restart it holds the old or the new
# state, never a torn one (the volume must load).
(while chmod 600 "$M/meta" 2>/dev/null && chmod 644 "$M/meta" 2>/dev/null; do :; done) &
toggler=$!
for _ in $(seq 100); do [ -s "$WORK/acked" ] && break; sleep 0.05; done
sleep 0.3

kill9_site a
wait_exit "$writer" 10 >/dev/null 2>&1
wait_exit "$toggler" 10 >/dev/null 2>&1
acked=$(tail -1 "$WORK/acked" 2>/dev/null); acked=${acked:-0}
echo "the writer had $acked blocks acknowledged (fsync'd) when pairfs was killed"

expect_exit "pairctl says pairfs is unreachable (exit 4) while it is down" 4 "not running" pairctl a volume list

# A crash between writing a metadata temp file and renaming it leaves the temp file behind.
printf 'half-written metadata' > "$WORK/a/volumes/vm1.meta.tmp"

must_start a
pass "pairfs restarts on the data directory of the killed one"

if [ "$(sum_of "$M/vm1" $MiB $((8 * MiB)))" = "$sum_a" ]; then pass "data written with dd conv=fsync is intact after kill -9 and restart"
else fail "data written with dd conv=fsync is intact after kill -9 and restart" "checksum differs"; fi
if [ "$(sum_of "$M/vm1" $((100 * MiB + 12345)) $((2 * MiB)))" = "$sum_b1" ] &&
   [ "$(sum_of "$M/vm1" $((200 * MiB)) $MiB)" = "$sum_b2" ]; then
  pass "data written with pwrite + fsync (buffered and O_DIRECT) is intact after kill -9 and restart"
else fail "data written with pwrite + fsync (buffered and O_DIRECT) is intact after kill -9 and restart" "checksum differs"; fi

bad=$(python3 - "$M/stream" "$acked" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
acked = int(sys.argv[2])
bad = [n for n in range(acked) if os.pread(fd, 4096, n * 4096) != bytes([n % 251 + 1]) * 4096]
print(" ".join(map(str, bad[:10])))
PY
)
if [ "$acked" -gt 0 ] && [ "$acked" -lt 32768 ] && [ -z "$bad" ]; then
  pass "all blocks fsync'd by a writer that was still writing at the kill are intact"
else fail "all blocks fsync'd by a writer that was still writing at the kill are intact" "acked $acked of 32768, bad blocks: $bad"; fi

attrs=$(stat -c '%u:%g %a %Y' "$M/vm1" 2>&1)
if [ "$attrs" = "1234:5678 640 981173106" ]; then pass "owner, mode and mtime survive kill -9 and restart"
else fail "owner, mode and mtime survive kill -9 and restart" "stat says $attrs"; fi
held=$(pairctl a --json display vm2 | json "d[0]['reserved_by']")
if [ "$held" = b ]; then pass "a reservation survives kill -9 and restart"
else fail "a reservation survives kill -9 and restart" "reserved_by $held"; fi
expect_fail_with "after the restart a write to the volume reserved by b still fails with EBADE" "Invalid exchange" \
  dd if=/dev/zero of="$M/vm2" bs=4k count=1 conv=notrunc status=none
size=$(stat -c %s "$M/vm2")
if [ "$size" = $((32 * MiB)) ]; then pass "a resize survives kill -9 and restart"
else fail "a resize survives kill -9 and restart" "vm2 is $size bytes"; fi
names=$(ls "$M" | tr '\n' ' ')
if [ "$names" = "late meta stream vm1 vm2 " ]; then pass "the volumes after the restart are exactly those before the crash"
else fail "the volumes after the restart are exactly those before the crash" "ls shows: $names"; fi
mode=$(stat -c %a "$M/meta" 2>&1)
if [ "$mode" = 600 ] || [ "$mode" = 644 ]; then pass "metadata rewritten while pairfs was killed holds the old or the new mode"
else fail "metadata rewritten while pairfs was killed holds the old or the new mode" "stat says $mode"; fi
status=$(pairctl a --json display vm1 | json "(d[0]['status'], d[0]['role'])")
if [ "$status" = '["SMPL", "simplex"]' ]; then pass "pair state (SMPL, simplex) survives kill -9 and restart"
else fail "pair state (SMPL, simplex) survives kill -9 and restart" "$status"; fi

check "a metadata update works over a temp file a crash left behind" chmod 641 "$M/vm1"
if [ "$(stat -c %a "$M/vm1")" = 641 ]; then pass "stat shows that update"; else fail "stat shows that update" "mode $(stat -c %a "$M/vm1")"; fi

# The restarted node works: release, write, read back.
check "after the restart, release of b's reservation works" pairctl a release vm2 --holder b
check "after the restart, writes work" dd if="$WORK/a-data" of="$M/vm2" bs=1M count=8 conv=notrunc,fsync status=none
if [ "$(sum_of "$M/vm2" 0 $((8 * MiB)))" = "$sum_a" ]; then pass "data written after the restart reads back"
else fail "data written after the restart reads back" "checksum differs"; fi

finish
