#!/usr/bin/env bash
# A full disk under a pair (doc/design.md "Faults of the local disk"): each site's data_dir is a small
# loop-mounted ext4 (64 MiB, no blocks reserved for root) holding a sparse 256 MiB volume, filled
# with a filler file. A write that fails at the primary, at the secondary, or a resync that fills
# the secondary: the writer gets ENOSPC (pairfs(8)), the pair goes PSUE with dirty regions, and once
# the filler is gone `pairctl resync` makes both copies identical (cmp through the mounts, verify).
# A metadata save on a full disk is refused, saying why.
. "$(dirname "$0")/lib.sh"
require "mkfs.ext4 is installed" command -v mkfs.ext4

write_pair_configs "peer_timeout_ms = 1000"
for site in a b; do
  truncate -s 64M "$WORK/$site.fs"
  require "an ext4 for site $site" mkfs.ext4 -q -F -m 0 "$WORK/$site.fs"
  require "site $site's data_dir is on it" mount -o loop "$WORK/$site.fs" "$WORK/$site"
  _MOUNTS+=("$WORK/$site")
done
# The daemons hold files there: they go first (cleanup runs these before it unmounts).
on_cleanup 'kill -9 ${PID_a:-} ${PID_b:-}'
must_start a
must_start b
MiB=$((1024 * 1024))

require "volume vm1 (128 MiB, sparse, twice the file system) created" pairctl a volume create vm1 128M
require "pair vm1 in PAIR" bash -c "$PAIRCTL -c $WORK/a.toml create vm1 --mode sync && \
  $PAIRCTL -c $WORK/a.toml wait vm1 --status PAIR --timeout 60"
head -c 4M /dev/urandom > "$WORK/four"

# fill SITE [LEAVE_MIB]: a filler file takes all the free space of SITE's file system but LEAVE_MIB.
fill() {
  local avail
  avail=$(df --output=avail -B1 "$WORK/$1" | tail -1)
  fallocate -l $((avail - ${2:-0} * MiB)) "$WORK/$1/filler" 2>/dev/null ||
    dd if=/dev/zero of="$WORK/$1/filler" bs=1M status=none 2>/dev/null
  sync -f "$WORK/$1"
}
unfill() { rm -f "$WORK/$1/filler"; sync -f "$WORK/$1"; }

# write_fails NAME SITE OFFSET_MIB: 4 MiB written at SITE must fail with ENOSPC.
write_fails() {
  expect_fail_with "$1" "No space left on device" \
    dd if="$WORK/four" of="$WORK/mnt-$2/vm1" bs=1M seek="$3" oflag=direct conv=notrunc,fsync status=none
}

# suspended_with_dirty NAME: a in PSUE with dirty regions, b suspended too.
suspended_with_dirty() {
  local dirty
  if wait_field a vm1 status PSUE 10; then pass "$1: the primary is in PSUE"
  else fail "$1: the primary is in PSUE" "$(pair_field a vm1 status)"; fi
  dirty=$(pair_field a vm1 dirty_bytes)
  if [ "${dirty:-0}" -gt 0 ]; then pass "$1: dirty_bytes $dirty at the primary"
  else fail "$1: the primary has dirty regions" "dirty_bytes ${dirty}"; fi
  if wait_field b vm1 status PSUE 20; then pass "$1: the secondary is in PSUE"
  else fail "$1: the secondary is in PSUE" "$(pair_field b vm1 status)"; fi
}

# repaired NAME SITE: after the filler is gone, a resync brings PAIR and identical copies.
repaired() {
  unfill "$2"
  check "$1: resync after freeing space" pairctl a resync vm1
  check "$1: the pair is back in PAIR" pairctl a wait vm1 --status PAIR --timeout 120
  check "$1: verify is clean" pairctl a verify vm1
  check "$1: both copies identical (cmp through the mounts)" cmp "$WORK/mnt-a/vm1" "$WORK/mnt-b/vm1"
}

# ---- the primary's disk is full (and so its metadata cannot be saved either) ----
fill a
write_fails "primary full: the writer gets ENOSPC" a 10
suspended_with_dirty "primary full"
grep -q "PSUE held in memory only" "$WORK/a.log" && pass "primary full: the log says the suspension could not be saved" ||
  fail "primary full: the log says the suspension could not be saved" "no 'held in memory' in a.log"
repaired "primary full" a

# ---- the secondary's disk is full ----
fill b
write_fails "secondary full: the writer at the primary gets ENOSPC" a 20
suspended_with_dirty "secondary full"
repaired "secondary full" b

# ---- a write at the secondary, whose disk is full ----
fill b
write_fails "secondary full: the writer at the secondary gets ENOSPC" b 30
suspended_with_dirty "secondary writer, secondary full"
repaired "secondary writer, secondary full" b

# ---- a resync fills the secondary's disk ----
check "split vm1" pairctl a split vm1
head -c 24M /dev/urandom > "$WORK/big"
check "24 MiB written at the primary while split" \
  dd if="$WORK/big" of="$WORK/mnt-a/vm1" bs=1M seek=100 oflag=direct conv=notrunc,fsync status=none
fill b 4
pairctl a resync vm1 > /dev/null 2>&1
if wait_field a vm1 status PSUE 60; then pass "resync onto a full disk: the copy stops, the primary in PSUE"
else fail "resync onto a full disk: the copy stops, the primary in PSUE" "$(pair_field a vm1 status)"; fi
dirty=$(pair_field a vm1 dirty_bytes)
if [ "${dirty:-0}" -gt 0 ]; then pass "resync onto a full disk: the regions stay dirty ($dirty bytes)"
else fail "resync onto a full disk: the regions stay dirty" "dirty_bytes ${dirty}"; fi
grep -q "copy write failed at site b" "$WORK/a.log" && pass "resync onto a full disk: the log says the copy write failed at b" ||
  fail "resync onto a full disk: the log says why" "no 'copy write failed at site b' in a.log"
repaired "resync onto a full disk" b

# ---- a metadata save on a full disk is refused, saying why ----
fill a
expect_fail_with "split on a full disk is refused, saying why" "No space left on device" pairctl a split vm1
unfill a
if [ "$(pair_field a vm1 status)" = PAIR ]; then pass "the refused split changed nothing: still PAIR"
else fail "the refused split changed nothing" "$(pair_field a vm1 status)"; fi
check "split works once there is space" pairctl a split vm1
check "resync afterwards" pairctl a resync vm1
check "PAIR again" pairctl a wait vm1 --status PAIR --timeout 60
check "both copies identical at the end" cmp "$WORK/mnt-a/vm1" "$WORK/mnt-b/vm1"

stop_site a > /dev/null
stop_site b > /dev/null
finish
