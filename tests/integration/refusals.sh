#!/usr/bin/env bash
# Every refusal through the mount, with the errno doc/design.md gives it, and the data untouched
# after each; and what must work: same-size truncate, chown/chmod/touch, discard, reads.
. "$(dirname "$0")/lib.sh"

write_config a
must_start a
M=$WORK/mnt-a
V=$M/vm1
SIZE=$((64 * 1024 * 1024))
require "pairctl volume create vm1 64M succeeds" pairctl a volume create vm1 64M
head -c 4M /dev/urandom > "$WORK/data"
require "random data written to vm1" dd if="$WORK/data" of="$V" bs=1M conv=notrunc,fsync status=none
want=$(sum_of "$V")

# unchanged NAME: the volume's data and size are still what they were.
unchanged() {
  local size sum
  size=$(stat -c %s "$V") sum=$(sum_of "$V")
  if [ "$size" = "$SIZE" ] && [ "$sum" = "$want" ]; then pass "$1"
  else fail "$1" "size $size (want $SIZE), checksum ${sum:0:12} (want ${want:0:12})"; fi
}
# pwrite_at OFFSET [FLAGS]: one 4 KiB write at OFFSET with Python's os.pwrite.
pwrite_at() {
  python3 - "$V" "$1" "${2:-}" <<'PY'
import os, sys, mmap
flags = os.O_WRONLY | (os.O_DIRECT if sys.argv[3] == "direct" else 0)
fd = os.open(sys.argv[1], flags)
buf = mmap.mmap(-1, 4096)  # page-aligned, as O_DIRECT wants
buf.write(b"\x5a" * 4096)
os.pwrite(fd, buf, int(sys.argv[2]))
PY
}

# --- writes past the end: ENOSPC
expect_fail_with "a direct write past the end fails with ENOSPC (dd oflag=direct)" "No space left on device" \
  dd if=/dev/zero of="$V" bs=4k seek=$((SIZE / 4096)) count=1 oflag=direct conv=notrunc status=none
expect_fail_with "a buffered write 1 MiB past the end fails with ENOSPC (pwrite)" "Errno 28" pwrite_at $((SIZE + 1024 * 1024))
expect_fail_with "a direct write at the exact end fails with ENOSPC (pwrite O_DIRECT)" "Errno 28" pwrite_at "$SIZE" direct
expect_fail_with "a preallocation past the end fails with ENOSPC (fallocate)" "No space left on device" \
  fallocate -o $((SIZE - 4096)) -l 1M "$V"
unchanged "after the refused writes past the end, size and data are unchanged"

# --- namespace changes through the mount: EPERM
expect_fail_with "creating a new file in the mount fails with EPERM (touch)" "Operation not permitted" touch "$M/newfile"
expect_fail_with "creating a new file with O_CREAT|O_EXCL fails with EPERM" "Errno 1\]" \
  python3 -c "import os; os.open('$M/other', os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)"
expect_fail_with "mkdir in the mount fails with EPERM" "Operation not permitted" mkdir "$M/dir"
expect_fail_with "a symlink in the mount fails with EPERM" "Operation not permitted" ln -s vm1 "$M/link"
expect_fail_with "a hard link in the mount fails with EPERM" "Operation not permitted" ln "$V" "$M/hard"
expect_fail_with "unlink of a volume fails with EPERM (rm)" "Operation not permitted" rm -f "$V"
expect_fail_with "rename of a volume fails with EPERM (mv)" "Operation not permitted" mv "$V" "$M/vm2"
if [ "$(ls "$M")" = vm1 ]; then pass "after the refused namespace changes the mount holds exactly vm1"
else fail "after the refused namespace changes the mount holds exactly vm1" "$(ls -A "$M" | tr '\n' ' ')"; fi

# --- size changes: EPERM; a truncate to the same size is a no-op
expect_fail_with "truncate to a smaller size fails with EPERM" "Operation not permitted" truncate -s 32M "$V"
expect_fail_with "truncate to a larger size fails with EPERM" "Operation not permitted" truncate -s 128M "$V"
expect_fail_with "truncate to zero fails with EPERM" "Operation not permitted" truncate -s 0 "$V"
expect_fail_with "an open with O_TRUNC (shell > redirect) fails with EPERM" "Operation not permitted" \
  bash -c "echo hello > '$V'"
unchanged "after the refused size changes, size and data are unchanged"
check "truncate to the volume's own size succeeds" truncate -s "$SIZE" "$V"
check "ftruncate to the volume's own size on an open descriptor succeeds" \
  python3 -c "import os; fd = os.open('$V', os.O_RDWR); os.ftruncate(fd, $SIZE)"
unchanged "a truncate to the volume's own size changes nothing"

# --- delete of an open volume: refused (EBUSY), the volume stays
exec 3<>"$V"
expect_exit "pairctl volume delete of an open volume is refused (exit 1, says it is open)" 1 "open" pairctl a volume delete vm1
open_count=$(volume_field a vm1 open_count)
if [ "$open_count" = 1 ]; then pass "volume list shows the volume open once while a descriptor is held"
else fail "volume list shows the volume open once while a descriptor is held" "open_count $open_count"; fi
exec 3>&-
for _ in $(seq 20); do open_count=$(volume_field a vm1 open_count); [ "$open_count" = 0 ] && break; sleep 0.1; done
if [ "$open_count" = 0 ]; then pass "volume list shows the volume closed after the descriptor is closed"
else fail "volume list shows the volume closed after the descriptor is closed" "open_count $open_count"; fi
if [ -e "$V" ] && pairctl a volume list | grep -q '^vm1 '; then pass "a volume whose delete was refused is still there"
else fail "a volume whose delete was refused is still there" "$(ls -A "$M")"; fi
unchanged "a refused delete leaves the data as it was"

# --- reservations: a write from this site to a volume another holder reserved is EBADE
require "pairctl reserve vm1 --holder b succeeds" pairctl a reserve vm1 --holder b
expect_fail_with "a write to a volume reserved by another holder fails with EBADE" "Invalid exchange" \
  dd if=/dev/zero of="$V" bs=4k count=1 conv=notrunc status=none
expect_fail_with "a direct write to a volume reserved by another holder fails with EBADE" "Errno 52" pwrite_at 8192 direct
expect_fail_with "a punch-hole on a volume reserved by another holder fails with EBADE" "Invalid exchange" \
  fallocate --punch-hole -o 0 -l 65536 "$V"
unchanged "writes refused by a reservation change nothing"
if [ "$(sum_of "$V")" = "$want" ]; then pass "a volume reserved by another holder can still be read"
else fail "a volume reserved by another holder can still be read" "read failed or differs"; fi
expect_exit "reserve by this site of a volume held by b exits 3 (reservation conflict)" 3 "reserved by site b" pairctl a reserve vm1
expect_exit "release by this site of b's reservation exits 3 and leaves it" 3 "" pairctl a release vm1
held=$(pairctl a --json display vm1 | json "d[0]['reserved_by']")
if [ "$held" = b ]; then pass "after the refused reserve and release, vm1 is still reserved by b"
else fail "after the refused reserve and release, vm1 is still reserved by b" "reserved_by $held"; fi
require "pairctl release vm1 --holder b succeeds" pairctl a release vm1 --holder b
check "after release by b, writes work again" dd if="$WORK/data" of="$V" bs=4k count=1 conv=notrunc,fsync status=none
require "pairctl reserve vm1 (this site) succeeds" pairctl a reserve vm1
check "a volume reserved by this site takes this site's writes" \
  dd if="$WORK/data" of="$V" bs=4k count=1 oflag=direct conv=notrunc status=none
require "pairctl release vm1 (this site) succeeds" pairctl a release vm1
unchanged "writes of the same data leave the checksum as it was"

# --- owner, mode and times can be changed
check "chown of a volume works" chown 1234:5678 "$V"
check "chmod of a volume works" chmod 640 "$V"
check "touch -d of a volume works" touch -d '2001-02-03 04:05:06 UTC' "$V"
got=$(stat -c '%u:%g %a %Y' "$V")
if [ "$got" = "1234:5678 640 981173106" ]; then pass "stat shows the new owner, mode and mtime"
else fail "stat shows the new owner, mode and mtime" "stat says $got"; fi
unchanged "chown, chmod and touch leave the data as it was"
chown 0:0 "$V"; chmod 600 "$V"

# --- discard: punch-hole and zero-range read back as zeros, the neighbours stay
check "fallocate --punch-hole inside the volume works" fallocate --punch-hole -o 131072 -l 65536 "$V"
check "fallocate --zero-range inside the volume works" fallocate --zero-range -o 524288 -l 65536 "$V"
check "fallocate --punch-hole of an unaligned range works" fallocate --punch-hole -o 1000000 -l 5000 "$V"
zeros() { cmp -s <(dd if="$V" bs=64K iflag=skip_bytes,count_bytes skip="$1" count="$2" status=none) <(head -c "$2" /dev/zero); }
same() { [ "$(sum_of "$V" "$1" "$2")" = "$(sum_of "$WORK/data" "$1" "$2")" ]; }
if zeros 131072 65536 && zeros 524288 65536 && zeros 1000000 5000; then pass "discarded ranges read back as zeros"
else fail "discarded ranges read back as zeros" "non-zero bytes in a discarded range"; fi
if same 0 131072 && same 196608 327680 && same 589824 410176 && same 1005000 $((4194304 - 1005000)); then
  pass "the data around the discarded ranges is unchanged"
else fail "the data around the discarded ranges is unchanged" "checksums differ"; fi
if [ "$(stat -c %s "$V")" = "$SIZE" ]; then pass "discard keeps the volume's size"
else fail "discard keeps the volume's size" "size $(stat -c %s "$V")"; fi

# --- reads at and past the end: end-of-file
n=$(dd if="$V" bs=4k skip=$((SIZE / 4096)) count=1 status=none | wc -c)
if [ "$n" = 0 ]; then pass "a read at the end returns end-of-file (0 bytes)"; else fail "a read at the end returns end-of-file (0 bytes)" "$n bytes"; fi
got=$(python3 -c "import os; fd = os.open('$V', os.O_RDONLY); print(len(os.pread(fd, 4096, $SIZE + 8192)), len(os.pread(fd, 4096, $SIZE - 100)))")
if [ "$got" = "0 100" ]; then pass "a read past the end returns 0 bytes, one across the end returns the bytes before it"
else fail "a read past the end returns 0 bytes, one across the end returns the bytes before it" "got $got"; fi

finish
