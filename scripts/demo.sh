#!/usr/bin/env bash
# make demo: two sites, a and b, on this machine, each a pairfs daemon with its own data directory,
# mount point and peer port on loopback. A volume with data on it at a becomes a synchronous pair
# (the initial copy creates it at b), a write at a is read back at b, a split and writes are
# followed by a resync that copies only the changed regions, and after site a dies (kill -9) b
# takes over, keeps writing, and copies its changes back to a when a returns. Everything is
# cleaned up by PID, with a trap, also on failure or Ctrl-C. Needs root (FUSE mounts).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "demo: needs root (FUSE mounts)" >&2; exit 1; fi
[ -x "$ROOT/build/pairfs" ] && [ -x "$ROOT/build/pairctl" ] || { echo "demo: run make first" >&2; exit 1; }
export PATH="$ROOT/build:$PATH"   # the commands below print as `pairctl ...`, `pairfs ...`

DEMO=$(mktemp -d /var/tmp/pairfs-demo.XXXXXX)
declare -A PID=([a]="" [b]="")
# ours PID: the process is still a child of this script (pairfs -f stays in the foreground), not an
# unrelated process that got the PID of a daemon that has exited.
ours() { [ -n "$1" ] && [ "$(ps -o ppid= -p "$1" 2>/dev/null | tr -d ' ')" = "$$" ]; }
cleanup() {
  set +e
  local s
  for s in a b; do
    ours "${PID[$s]}" || continue
    kill -TERM "${PID[$s]}"
    for _ in $(seq 50); do ours "${PID[$s]}" || break; sleep 0.1; done
    ours "${PID[$s]}" && kill -KILL "${PID[$s]}"
    wait "${PID[$s]}" 2>/dev/null
  done
  for s in a b; do   # findmnt, not mountpoint -q: that one says no for a dead FUSE mount
    findmnt -n "$DEMO/mnt-$s" > /dev/null && { umount "$DEMO/mnt-$s" 2>/dev/null || umount -l "$DEMO/mnt-$s"; }
  done
  cd /
  rm -rf "$DEMO"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
# fail WHY: the demo stops; the end of both sites' logs tells what happened.
fail() {
  printf '\ndemo: FAILED: %s\n' "$1" >&2
  for s in a b; do echo "--- last lines of site $s's log:" >&2; tail -6 "$DEMO/$s.log" >&2; done
  exit 1
}
# sh_run 'COMMAND LINE': prints and runs a line with pipes or redirections.
sh_run() { printf '$ %s\n' "$1"; eval "$1"; }
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# field SITE FIELD: one field of `pairctl --json display vm1` at SITE.
field() {
  pairctl -c "$1.toml" --json display vm1 |
    python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)[0][sys.argv[1]]))' "$2"
}
# start SITE: pairfs in the foreground (in the background of this script), log in SITE.log.
start() {
  local s=$1
  printf '$ pairfs -f -c %s.toml mnt-%s 2>> %s.log &\n' "$s" "$s" "$s"
  pairfs -f -c "$DEMO/$s.toml" "$DEMO/mnt-$s" 2>> "$DEMO/$s.log" &
  PID[$s]=$!
  for _ in $(seq 100); do
    mountpoint -q "$DEMO/mnt-$s" && pairctl -c "$s.toml" volume list > /dev/null 2>&1 && break
    ours "${PID[$s]}" || { echo "pairfs for site $s exited:" >&2; cat "$DEMO/$s.log" >&2; exit 1; }
    sleep 0.1
  done
  mountpoint -q "$DEMO/mnt-$s" || { echo "pairfs for site $s did not come up" >&2; exit 1; }
  echo "site $s: pairfs pid ${PID[$s]}, mounted on mnt-$s"
}
# last_copy LOG: the copy engine's last line in a site's log, e.g.
# "pair vm1: copying 4194304 bytes (4 MiB of 1 GiB) to site b".
last_copy() { grep -o 'pair vm1: copying .*' "$1" | tail -1; }
MiB=$((1 << 20))

cd "$DEMO"
say "two sites on this machine, in $DEMO (build/ is on PATH)"
PORT_A=$(free_port) PORT_B=$(free_port)
while [ "$PORT_B" = "$PORT_A" ]; do PORT_B=$(free_port); done
for s in a b; do
  if [ "$s" = a ]; then me=$PORT_A peer=b peer_port=$PORT_B; else me=$PORT_B peer=a peer_port=$PORT_A; fi
  mkdir -p "$s" "mnt-$s"
  cat > "$s.toml" <<TOML
[site]
name = "$s"
data_dir = "$DEMO/$s"
listen = "tcp://127.0.0.1:$me"
control = "ipc://$DEMO/$s/control.sock"
peer_timeout_ms = 1000

[peer]
name = "$peer"
endpoint = "tcp://127.0.0.1:$peer_port"
TOML
done
run cat a.toml
echo "(b.toml is the mirror image: name b, listen on $PORT_B, peer a at $PORT_A)"
echo "(no witness site: this version has none yet; [witness] is a reserved name for a later part)"
start a
start b

say "a 1 GiB volume at site a, with 32 MiB of data on it before it is paired"
run pairctl -c a.toml volume create vm1 1G
run dd if=/dev/urandom of=mnt-a/vm1 bs=1M count=32 seek=64 conv=notrunc,fsync status=none
run ls -l mnt-a mnt-b

say "pair it: create at a makes the volume at b, then the initial copy sends a's volume to b"
run pairctl -c a.toml create vm1 --mode sync
run ls -l mnt-b
run pairctl -c a.toml wait vm1 --status PAIR --timeout 60 --progress
echo "site a's log: $(last_copy a.log)"
run pairctl -c a.toml display
run pairctl -c b.toml display
sh_run "dd if=mnt-a/vm1 bs=1M skip=64 count=32 status=none | sha256sum"
sh_run "dd if=mnt-b/vm1 bs=1M skip=64 count=32 status=none | sha256sum"

say "write at a, read at b: every write is at both sites before it returns"
MSG="hello from site a, $(date +%T)"
sh_run "printf '%s' '$MSG' | dd of=mnt-a/vm1 bs=4k seek=500M oflag=seek_bytes conv=notrunc,fsync status=none"
sh_run "dd if=mnt-b/vm1 bs=4k skip=500M count=${#MSG} iflag=skip_bytes,count_bytes status=none; echo"
sh_run "dd if=/dev/urandom of=mnt-a/vm1 bs=1M count=8 seek=200 conv=notrunc,fsync status=none"
sh_run "dd if=mnt-a/vm1 bs=1M skip=200 count=8 status=none | sha256sum"
sh_run "dd if=mnt-b/vm1 bs=1M skip=200 count=8 status=none | sha256sum"

say "split: both sides go PSUS, a keeps writing and tracks what it changes"
echo "(a 4 s pause first: the activity log keeps the regions of the last writes marked until two"
echo " of its 2 s trims have passed; split now, and the resync would copy those regions too)"
sleep 4.5
run pairctl -c a.toml split vm1
sh_run "dd if=/dev/urandom of=mnt-a/vm1 bs=1M count=3 seek=300 conv=notrunc,fsync status=none"
sh_run "dd if=/dev/urandom of=mnt-a/vm1 bs=64k count=16 seek=12000 conv=notrunc,fsync status=none"
if printf 'x' | dd of=mnt-b/vm1 bs=4k conv=notrunc status=none 2> write-b.err; then
  fail "a write at b succeeded in PSUS"
fi
echo "a write at b in PSUS is refused: $(sed 's/^dd: //' write-b.err)"
run pairctl -c a.toml display vm1
echo "dirty at a: $(field a dirty_bytes) bytes of $(field a size_bytes)"

say "resync: only the changed regions cross the link"
run pairctl -c a.toml resync vm1
run pairctl -c a.toml wait vm1 --status PAIR --timeout 60
line=$(last_copy a.log)
copied=$(sed -n 's/^pair vm1: copying \([0-9]*\) bytes.*/\1/p' <<<"$line")
echo "site a's log: $line"
echo "copied $((copied / MiB)) MiB ($copied bytes) of the 1024 MiB volume"
run pairctl -c a.toml verify vm1

say "site a dies (kill -9); b takes over"
run kill -9 "${PID[a]}"
wait "${PID[a]}" 2>/dev/null || true
PID[a]=""
run umount mnt-a
run pairctl -c b.toml takeover vm1
sh_run "dd if=/dev/urandom of=mnt-b/vm1 bs=1M count=2 seek=400 conv=notrunc,fsync status=none"
echo "the write at b succeeded: b now writes alone and tracks what it changes"
run pairctl -c b.toml display vm1
want=$(dd if=mnt-b/vm1 bs=1M skip=400 count=2 status=none | sha256sum | cut -d' ' -f1)

say "site a comes back: it knows it is outdated and refuses writes"
start a
deadline=$((SECONDS + 10))   # it learns so from b's status messages, within a few seconds
until [ "$(field a outdated)" = true ] || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.2; done
run pairctl -c a.toml display vm1
[ "$(field a outdated)" = true ] || fail "site a did not learn within 10 s that b's copy is newer"
if printf 'x' | dd of=mnt-a/vm1 bs=4k conv=notrunc status=none 2> write-a.err; then
  fail "a write at the outdated site a succeeded"
fi
echo "a write at a is refused: $(sed 's/^dd: //' write-a.err)"

say "resync --swap at b: b stays primary, a gets b's changes and becomes the secondary"
run pairctl -c b.toml resync vm1 --swap
run pairctl -c b.toml wait vm1 --status PAIR --timeout 60
echo "site b's log: $(last_copy b.log)"
run pairctl -c b.toml verify vm1
run pairctl -c a.toml display
run pairctl -c b.toml display
got=$(dd if=mnt-a/vm1 bs=1M skip=400 count=2 status=none | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "the 2 MiB b wrote while a was dead differ at a"
echo "the 2 MiB b wrote while a was dead read back identical at a (sha256 ${got:0:16}...)"

say "stop both sites (SIGTERM unmounts cleanly)"
for s in a b; do kill -TERM "${PID[$s]}"; wait "${PID[$s]}"; PID[$s]=""; done
echo "both pairfs exited 0; demo done"
