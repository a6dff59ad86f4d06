#!/usr/bin/env bash
# ext4 on a loop device over a paired volume at a: files written, fsfreeze -f, split, fsfreeze -u:
# the secondary's copy passes fsck.ext4 -n -f. Without the freeze, a scratch copy of the
# secondary passes e2fsck -fy and holds every synced file intact. fstrim at a reaches b.
. "$(dirname "$0")/lib.sh"

write_pair_configs 'peer_timeout_ms = 1000'
must_start a
must_start b
ext4_on_pair sync

write_files() {  # write_files DIR COUNT: files of random sizes, each fsync'd
  python3 - "$1" "$2" <<'PY'
import os, random, sys
root, count = sys.argv[1], int(sys.argv[2])
os.makedirs(root, exist_ok=True)
for i in range(count):
    with open(f"{root}/file{i:03d}", "wb") as f:
        f.write(os.urandom(random.randrange(1, 200 * 1024)))
        f.flush()
        os.fsync(f.fileno())
PY
}
write_files "$E/one" 80
(cd "$E" && find one -type f | sort | xargs sha256sum) > "$WORK/sums-one"

require "fsfreeze -f" fsfreeze -f "$E"
check "split while frozen" pairctl a split disk
check "fsfreeze -u" fsfreeze -u "$E"
check "fsck.ext4 -n -f of b's copy is clean" fsck.ext4 -n -f "$MB/disk"

check "resync" pairctl a resync disk
check "PAIR again" pairctl a wait disk --status PAIR --timeout 60
write_files "$E/two" 80
(cd "$E" && find two -type f | sort | xargs sha256sum) > "$WORK/sums-two"
# Writes keep going while the split happens: no freeze this time.
python3 - "$E/three" <<'PY' &
import os, sys
os.makedirs(sys.argv[1], exist_ok=True)
for i in range(400):
    with open(f"{sys.argv[1]}/f{i}", "wb") as f:
        f.write(os.urandom(64 * 1024))
PY
busy=$!
sleep 0.3
check "split without a freeze, during writes" pairctl a split disk
wait "$busy"
check "copy b's image to a scratch file" cp "$MB/disk" "$WORK/scratch.img"
e2fsck -fy "$WORK/scratch.img" > "$WORK/e2fsck.out" 2>&1; rc=$?
if [ "$rc" -le 1 ]; then pass "e2fsck -fy of the scratch copy ends clean (exit $rc)"
else fail "e2fsck -fy of the scratch copy ends clean" "exit $rc: $(tail -3 "$WORK/e2fsck.out" | tr '\n' ' ')"; fi
if mount -o loop,ro "$WORK/scratch.img" "$S"; then
  pass "the scratch copy mounts"
  check "every file synced before the split is intact in the scratch copy" \
    bash -c "cd '$S' && sha256sum --quiet -c '$WORK/sums-one' && sha256sum --quiet -c '$WORK/sums-two'"
  umount "$S"
else
  fail "the scratch copy mounts" "mount failed"
fi

check "resync after the unfrozen split" pairctl a resync disk
check "PAIR after it" pairctl a wait disk --status PAIR --timeout 60
# fstrim at a: the discards are replicated as ordered writes.
head -c 32M /dev/urandom > "$E/filler"
sync -f "$E"
rm "$E/filler"
sync -f "$E"
check "fstrim at a" fstrim "$E"
check "umount the ext4" umount "$E"
detach_loop "$LOOP"
check "verify after fstrim: both copies identical" pairctl a verify disk
finish
