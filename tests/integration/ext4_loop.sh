#!/usr/bin/env bash
# ext4 on a volume through a loop device: mkfs, many files, umount, fsck clean, mount again on a
# fresh (direct-I/O) loop device, every checksum matches; fstrim punches holes in the volume.
. "$(dirname "$0")/lib.sh"

write_config a
must_start a
M=$WORK/mnt-a
E=$WORK/ext4
mkdir -p "$E"
# The ext4 goes before its loop device and the pairfs mount (cleanup runs these first).
on_cleanup "umount '$E' 2>/dev/null || umount -l '$E'"

require "pairctl volume create disk 512M succeeds" pairctl a volume create disk 512M
# (attach_loop records the device for cleanup: it runs in this shell, never in require's subshell.)
if attach_loop "$M/disk"; then pass "losetup attaches the volume file"; else fail "losetup attaches the volume file"; finish; fi
require "mkfs.ext4 on the loop device succeeds" mkfs.ext4 -q -F "$LOOP"
require "the ext4 mounts" mount "$LOOP" "$E"

# A few hundred files of random sizes (0 to 300 KiB) in a few directories, and one of 8 MiB.
python3 - "$E" <<'PY'
import os, random, sys
root = sys.argv[1]
rng = random.Random()
for d in range(6):
    os.makedirs(f"{root}/dir{d}", exist_ok=True)
for i in range(360):
    size = rng.choice([0, 1, 511, 4096, 4097]) if i % 10 == 0 else rng.randrange(1, 300 * 1024)
    with open(f"{root}/dir{i % 6}/file{i:03d}", "wb") as f:
        f.write(os.urandom(size))
with open(f"{root}/big", "wb") as f:
    f.write(os.urandom(8 * 1024 * 1024))
PY
(cd "$E" && find . -type f | sort | xargs sha256sum) > "$WORK/sums"
files=$(wc -l < "$WORK/sums")
if [ "$files" = 361 ]; then pass "361 files written to the ext4"; else fail "361 files written to the ext4" "$files files"; fi

check "the ext4 unmounts" umount "$E"
if detach_loop "$LOOP"; then pass "the loop device detaches"; else fail "the loop device detaches"; fi
# A new loop device, with direct I/O: nothing is served from the old device's page cache.
if attach_loop "$M/disk" --direct-io=on; then pass "losetup --direct-io=on attaches the volume file again"
else fail "losetup --direct-io=on attaches the volume file again"; finish; fi
check "fsck.ext4 -n -f finds the ext4 clean (exit 0)" fsck.ext4 -n -f "$LOOP"
require "the ext4 mounts again" mount "$LOOP" "$E"
check "every file's sha256 matches after umount and mount" bash -c "cd '$E' && sha256sum --quiet -c '$WORK/sums'"

# fstrim: the freed blocks are discarded down to the volume (fallocate PUNCH_HOLE on pairfs).
head -c 96M /dev/urandom > "$E/filler"
sync -f "$E"
before=$(volume_field a disk allocated_bytes)
blocks_before=$(stat -c %b "$M/disk")
rm "$E/filler"
sync -f "$E"
if out=$(fstrim -v "$E" 2>&1); then pass "fstrim on the mounted ext4 succeeds"; else fail "fstrim on the mounted ext4 succeeds" "$out"; fi
after=$(volume_field a disk allocated_bytes)
blocks_after=$(stat -c %b "$M/disk")
if [ "$before" -gt 0 ] && [ $((before - after)) -ge $((80 * 1024 * 1024)) ]; then
  pass "after fstrim the volume's allocated_bytes drop by the freed 96 MiB"
else fail "after fstrim the volume's allocated_bytes drop by the freed 96 MiB" "allocated_bytes $before -> $after"; fi
if [ $(((blocks_before - blocks_after) * 512)) -ge $((80 * 1024 * 1024)) ]; then
  pass "after fstrim stat of the volume file shows fewer blocks"
else fail "after fstrim stat of the volume file shows fewer blocks" "blocks $blocks_before -> $blocks_after"; fi
check "after fstrim every file's sha256 still matches" bash -c "cd '$E' && sha256sum --quiet -c '$WORK/sums'"

check "the ext4 unmounts after fstrim" umount "$E"
check "fsck.ext4 -n -f after fstrim finds the ext4 clean (exit 0)" fsck.ext4 -n -f "$LOOP"

finish
