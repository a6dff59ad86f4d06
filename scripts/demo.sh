#!/usr/bin/env bash
# make demo: one site on this machine. Starts pairfs, creates a volume, puts ext4 on it through a
# loop device, writes files, reads them back after a remount, and cleans everything up (by PID,
# with a trap, also on failure or Ctrl-C). Needs root (FUSE mount, losetup).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PAIRFS=$ROOT/build/pairfs PAIRCTL=$ROOT/build/pairctl
if [ "$(id -u)" -ne 0 ]; then echo "demo: needs root (FUSE mount, losetup)" >&2; exit 1; fi

DEMO=$(mktemp -d /var/tmp/pairfs-demo.XXXXXX)
PID="" LOOP="" EXT4=$DEMO/ext4
cleanup() {
  set +e
  mountpoint -q "$EXT4" && umount "$EXT4"
  [ -n "$LOOP" ] && losetup -d "$LOOP"
  if [ -n "$PID" ]; then
    kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  fi
  mountpoint -q "$DEMO/mnt" && umount "$DEMO/mnt"
  rm -rf "$DEMO"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

mkdir -p "$DEMO/mnt" "$EXT4"
cat > "$DEMO/site-a.toml" <<TOML
[site]
name = "a"
data_dir = "$DEMO/a"
control = "ipc://$DEMO/a/control.sock"
TOML
say "site a: config $DEMO/site-a.toml"
cat "$DEMO/site-a.toml"

say "start pairfs (foreground process, in the background of this script)"
"$PAIRFS" -f -c "$DEMO/site-a.toml" "$DEMO/mnt" 2> "$DEMO/pairfs.log" &
PID=$!
for _ in $(seq 50); do
  mountpoint -q "$DEMO/mnt" && "$PAIRCTL" -c "$DEMO/site-a.toml" volume list >/dev/null 2>&1 && break
  sleep 0.1
done
echo "pairfs pid $PID, mounted on $DEMO/mnt"

say "create a 2 GiB volume; it shows as a file at once"
run "$PAIRCTL" -c "$DEMO/site-a.toml" volume create vm1 2G
run ls -l "$DEMO/mnt"
run "$PAIRCTL" -c "$DEMO/site-a.toml" display
run qemu-img info -f raw "$DEMO/mnt/vm1"

say "ext4 on the volume through a loop device"
LOOP=$(losetup -f --show "$DEMO/mnt/vm1")
echo "loop device $LOOP"
run mkfs.ext4 -q -F "$LOOP"
run mount "$LOOP" "$EXT4"
for i in $(seq 1 20); do head -c $((i * 37 * 1024)) /dev/urandom > "$EXT4/file$i"; done
(cd "$EXT4" && sha256sum file* > "$DEMO/sums")
echo "wrote 20 files ($(du -sh "$EXT4" | cut -f1))"
run umount "$EXT4"
run fsck.ext4 -n -f "$LOOP"

say "mount it again and read the files back"
run mount "$LOOP" "$EXT4"
(cd "$EXT4" && sha256sum -c --quiet "$DEMO/sums") && echo "all 20 files read back intact"
umount "$EXT4"; losetup -d "$LOOP"; LOOP=""

say "the volume as pairctl sees it"
run "$PAIRCTL" -c "$DEMO/site-a.toml" volume list
run "$PAIRCTL" -c "$DEMO/site-a.toml" --json display vm1

say "stop pairfs (SIGTERM unmounts cleanly)"
kill -TERM "$PID"; wait "$PID"; PID=""
echo "pairfs exited 0; demo done (two sites and failover come with the next parts)"
