#!/usr/bin/env bash
# Volumes appear as files: created, resized and deleted with pairctl, seen at once through the
# mount with the right size; stat, statfs (df), readdir of many volumes, qemu-img info.
. "$(dirname "$0")/lib.sh"

write_config a
must_start a
M=$WORK/mnt-a
G=$((1024 * 1024 * 1024))

# ls -l's size column for NAME in the mount, empty if ls does not show it.
ls_size() { ls -l "$M" | awk -v n="$1" '$NF == n { print $5 }'; }

if [ -z "$(ls -A "$M")" ]; then pass "a new site's mount is empty"; else fail "a new site's mount is empty" "$(ls -A "$M")"; fi

require "pairctl volume create vm1 20G succeeds" pairctl a volume create vm1 20G
size=$(ls_size vm1)
if [ "$size" = 21474836480 ]; then pass "ls -l shows vm1 with 21474836480 bytes, without a remount"
else fail "ls -l shows vm1 with 21474836480 bytes, without a remount" "ls -l says '$size': $(ls -l "$M" | tr '\n' ' ')"; fi

kind=$(stat -c '%F %s' "$M/vm1" 2>&1)
if [ "$kind" = "regular file 21474836480" ]; then pass "stat says vm1 is a regular file of 20 GiB"
else fail "stat says vm1 is a regular file of 20 GiB" "$kind"; fi

blocks=$(stat -c %b "$M/vm1")
if [ "$blocks" -lt 2048 ]; then pass "a new 20G volume is sparse (stat shows almost no blocks)"
else fail "a new 20G volume is sparse (stat shows almost no blocks)" "$blocks blocks"; fi

# statfs: df works on the mount and reports the space of the store behind it.
if df_out=$(df -B1 --output=size,avail "$M" 2>&1); then
  read -r df_size df_avail < <(tail -1 <<<"$df_out")
  if [ "$df_size" -gt 0 ] && [ "$df_avail" -le "$df_size" ]; then pass "df on the mount reports a size and the free space"
  else fail "df on the mount reports a size and the free space" "$df_out"; fi
else
  fail "df on the mount reports a size and the free space" "$df_out"
fi
store_size=$(stat -f -c '%b %S' "$WORK/a")
mount_size=$(stat -f -c '%b %S' "$M")
if [ "$store_size" = "$mount_size" ]; then pass "statfs of the mount shows the size of the filesystem that holds the volumes"
else fail "statfs of the mount shows the size of the filesystem that holds the volumes" "mount '$mount_size', store '$store_size'"; fi

if info=$(qemu-img info --output=json "$M/vm1" 2>&1); then
  format=$(json "d['format']" <<<"$info") vsize=$(json "d['virtual-size']" <<<"$info")
  if [ "$format" = raw ] && [ "$vsize" = 21474836480 ]; then pass "qemu-img info says raw, virtual size 20 GiB"
  else fail "qemu-img info says raw, virtual size 20 GiB" "format $format, virtual size $vsize"; fi
else
  fail "qemu-img info says raw, virtual size 20 GiB" "$info"
fi

# Data at the end of the volume, to check that a resize keeps it and the grown part reads as zeros.
head -c 65536 /dev/urandom > "$WORK/tail"
dd if="$WORK/tail" of="$M/vm1" bs=64K seek=$((20 * G / 65536 - 1)) conv=notrunc,fsync status=none
tail_sum=$(sum_of "$WORK/tail")

# An open descriptor (like a running VM's) sees the new size after a resize.
exec 3<"$M/vm1"
require "pairctl volume resize vm1 21G succeeds" pairctl a volume resize vm1 21G
size=$(ls_size vm1)
if [ "$size" = $((21 * G)) ]; then pass "after volume resize the mount shows the new size at once"
else fail "after volume resize the mount shows the new size at once" "ls -l says '$size'"; fi
fd_size=$(python3 -c 'import os; print(os.fstat(3).st_size)')
if [ "$fd_size" = $((21 * G)) ]; then pass "a descriptor opened before the resize sees the new size"
else fail "a descriptor opened before the resize sees the new size" "fstat says $fd_size"; fi
exec 3<&-

if [ "$(sum_of "$M/vm1" $((20 * G - 65536)) 65536)" = "$tail_sum" ]; then pass "a resize keeps the data at the old end"
else fail "a resize keeps the data at the old end" "checksum differs"; fi
if cmp -s <(dd if="$M/vm1" bs=1M skip=$((20 * 1024)) count=1 status=none) <(head -c 1M /dev/zero); then
  pass "the grown part of a volume reads as zeros"
else fail "the grown part of a volume reads as zeros" "non-zero bytes after the old end"; fi
if dd if="$WORK/tail" of="$M/vm1" bs=64K seek=$((21 * G / 65536 - 1)) conv=notrunc,fsync status=none 2>"$WORK/err" &&
   [ "$(sum_of "$M/vm1" $((21 * G - 65536)) 65536)" = "$tail_sum" ]; then
  pass "the grown part of a volume takes writes up to its new end"
else fail "the grown part of a volume takes writes up to its new end" "$(cat "$WORK/err")"; fi

expect_exit "shrinking a volume is refused (exit 1, says why)" 1 "shrink" pairctl a volume resize vm1 10G
size=$(ls_size vm1)
if [ "$size" = $((21 * G)) ]; then pass "a refused shrink leaves the size as it was"
else fail "a refused shrink leaves the size as it was" "ls -l says '$size'"; fi

# readdir of many volumes (more than one kernel readdir buffer).
names=()
for i in $(seq 1 120); do names+=("disk-$(printf %03d "$i")-with-a-longish-name"); done
created=0
for n in "${names[@]}"; do pairctl a volume create "$n" 4K >/dev/null && created=$((created + 1)); done
listed=$(ls "$M" | grep -c '^disk-')
if [ "$created" = 120 ] && [ "$listed" = 120 ] && [ -z "$(comm -3 <(printf '%s\n' "${names[@]}" | sort) <(ls "$M" | grep '^disk-' | sort))" ]; then
  pass "ls shows every one of 120 volumes, each once"
else fail "ls shows every one of 120 volumes, each once" "created $created, ls shows $listed"; fi
for n in "${names[@]:0:60}"; do pairctl a volume delete "$n" >/dev/null; done
left=$(ls "$M" | grep '^disk-' | sort | tr '\n' ' ')
want=$(printf '%s\n' "${names[@]:60}" | sort | tr '\n' ' ')
if [ "$left" = "$want" ]; then pass "after deleting half of them ls shows exactly the other half"
else fail "after deleting half of them ls shows exactly the other half" "ls shows $(wc -w <<<"$left") names"; fi
for n in "${names[@]:60}"; do pairctl a volume delete "$n" >/dev/null; done

# delete: the file vanishes; a new volume of the same name starts empty.
require "pairctl volume delete vm1 succeeds" pairctl a volume delete vm1
if [ -z "$(ls_size vm1)" ]; then pass "after volume delete, vm1 vanishes from ls"
else fail "after volume delete, vm1 vanishes from ls" "$(ls -l "$M" | tr '\n' ' ')"; fi
if out=$(stat "$M/vm1" 2>&1); then fail "stat of a deleted volume fails with ENOENT" "stat succeeded: $out"
elif grep -q "No such file or directory" <<<"$out"; then pass "stat of a deleted volume fails with ENOENT"
else fail "stat of a deleted volume fails with ENOENT" "$out"; fi
if [ ! -e "$WORK/a/volumes/vm1.img" ]; then pass "volume delete removes the image from the data directory"
else fail "volume delete removes the image from the data directory" "$WORK/a/volumes/vm1.img is still there"; fi

require "a volume can be created again under a deleted volume's name" pairctl a volume create vm1 21G
if cmp -s <(dd if="$M/vm1" bs=64K skip=$((20 * G / 65536 - 1)) count=1 status=none) <(head -c 65536 /dev/zero); then
  pass "a volume created under a deleted volume's name reads as zeros"
else fail "a volume created under a deleted volume's name reads as zeros" "old data shows through"; fi

finish
