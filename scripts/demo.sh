#!/usr/bin/env bash
# make demo: two sites, a and b, and a witness site w, on this machine, each a pairfs daemon with
# its own data directory, mount point and ports on loopback. A volume with data on it at a becomes
# a synchronous pair (the initial copy creates it at b), a write at a is read back at b, a split and
# writes are followed by a resync that copies only the changed regions. Then clusterd runs at both
# sites (a ACTIVE, b STANDBY; the determining volume `quorum` is a 1 MiB pair, the witness holds a
# third copy of its reservation record), data is written and fsync'd at a, and EVERYTHING of site
# a is killed (kill -9 of its clusterd and its pairfs): b and the witness make a majority, b becomes
# ACTIVE by itself (its on_start hook runs), the data written at a is intact at b and b writes.
# Site a comes back outdated, `resync --swap` at b joins it again, and both copies end identical.
# Every site-to-site socket runs CURVE with keys made by `pairctl keygen` ([security]).
# Everything is stopped by PID, with a trap, also on failure or Ctrl-C; mounts are unmounted and
# the scratch directory removed. Exits 0 only if every check held. Needs root (FUSE mounts).
set -eEuo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "demo: needs root (FUSE mounts)" >&2; exit 1; fi
for binary in pairfs pairctl clusterd; do
  [ -x "$ROOT/build/$binary" ] || { echo "demo: build/$binary is missing: run make first" >&2; exit 1; }
done
export PATH="$ROOT/build:$PATH"   # the commands below print as `pairctl ...`, `pairfs ...`

DEMO=$(mktemp -d /var/tmp/pairfs-demo.XXXXXX)
# Every process the demo starts, by name: pairfs-a, pairfs-b, clusterd-a, clusterd-b, witness.
declare -A PID=()
# ours PID: the process is still a child of this script (every daemon runs with -f, in the
# foreground, in the background of this script), not an unrelated process that got the PID of a
# daemon that has exited.
ours() { [ -n "$1" ] && [ "$(ps -o ppid= -p "$1" 2>/dev/null | tr -d ' ')" = "$$" ]; }
# stop NAME [SIGNAL]: signals one of the demo's processes (TERM by default), waits for it (5 s,
# then KILL) and forgets it; returns its exit code.
stop() {
  local name=$1 pid=${PID[$1]:-} rc=0
  unset "PID[$1]"
  ours "$pid" || return 0
  kill "-${2:-TERM}" "$pid"
  for _ in $(seq 50); do ours "$pid" || break; sleep 0.1; done
  ours "$pid" && kill -KILL "$pid"
  wait "$pid" 2>/dev/null || rc=$?
  return $rc
}
cleanup() {
  local rc=$? name s
  set +e
  trap - ERR
  for name in clusterd-a clusterd-b pairfs-a pairfs-b witness; do stop "$name"; done
  for s in a b; do   # findmnt, not mountpoint -q: that one says no for a dead FUSE mount
    findmnt -n "$DEMO/mnt-$s" > /dev/null && { umount "$DEMO/mnt-$s" 2>/dev/null || umount -l "$DEMO/mnt-$s"; }
  done
  cd /
  rm -rf "$DEMO"
  exit $rc
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted" >&2; exit 130' INT TERM
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
# fail WHY: the demo stops: the end of every log tells what happened, the last line says why.
fail() {
  trap - ERR
  local log
  for log in a.log b.log a.clusterd.log b.clusterd.log w.log; do
    [ -s "$DEMO/$log" ] || continue
    echo "--- last lines of $log:" >&2; tail -6 "$DEMO/$log" >&2
  done
  printf '\ndemo: FAILED: %s\n' "$1" >&2
  exit 1
}
# run COMMAND...: prints and runs a command; its failure stops the demo.
run() { printf '$ %s\n' "$*"; "$@" || fail "\`$*\` exited $?"; }
# A command that fails where nothing checks it stops the demo, saying which (subshells leave the
# message to the command that ran them).
on_error() { local rc=$?; [ "$BASHPID" = "$$" ] || exit "$rc"; fail "line $1: '$2' exited $rc"; }
trap 'on_error "$LINENO" "$BASH_COMMAND"' ERR
# sh_run 'COMMAND LINE': prints and runs a line with pipes or redirections.
sh_run() { printf '$ %s\n' "$1"; eval "$1" || fail "\`$1\` exited $?"; }
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# json SITE EXPR ARGS...: EXPR (Python, over the document d) of `pairctl -c SITE.toml --json ARGS`;
# strings bare, the rest as JSON; empty if the command fails.
json() {
  local site=$1 expr=$2; shift 2
  { pairctl -c "$site.toml" --json "$@" 2>/dev/null || true; } | python3 -c 'import json, sys
try:
    d = json.load(sys.stdin); v = eval(sys.argv[1])
    print(v if isinstance(v, str) else json.dumps(v))
except Exception:
    pass' "$expr"
}
field() { json "$1" "d[0]['$3']" display "$2"; }   # field SITE VOLUME FIELD
state() { json "$1" "d['state']" cluster status; }   # state SITE: clusterd's state there
# wait_until SECONDS COMMAND...: until COMMAND succeeds (every 50 ms); 1 if it never did.
wait_until() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do [ "$SECONDS" -lt "$deadline" ] || return 1; sleep 0.05; done
}
is() { [ "$($1 "${@:2:$#-2}")" = "${!#}" ]; }   # is FUNCTION ARGS... VALUE
# start_pairfs SITE: pairfs in the foreground (in the background of this script), log in SITE.log.
start_pairfs() {
  local s=$1
  printf '$ pairfs -f -c %s.toml mnt-%s 2>> %s.log &\n' "$s" "$s" "$s"
  pairfs -f -c "$DEMO/$s.toml" "$DEMO/mnt-$s" 2>> "$DEMO/$s.log" &
  PID[pairfs-$s]=$!
  for _ in $(seq 100); do
    mountpoint -q "$DEMO/mnt-$s" && pairctl -c "$s.toml" volume list > /dev/null 2>&1 && break
    ours "${PID[pairfs-$s]}" || fail "pairfs for site $s exited"
    sleep 0.1
  done
  mountpoint -q "$DEMO/mnt-$s" || fail "pairfs for site $s did not come up"
  echo "site $s: pairfs pid ${PID[pairfs-$s]}, mounted on mnt-$s"
}
# start_clusterd SITE: clusterd -f in the background, log in SITE.clusterd.log.
start_clusterd() {
  local s=$1
  printf '$ clusterd -f -c %s.toml 2>> %s.clusterd.log &\n' "$s" "$s"
  clusterd -f -c "$DEMO/$s.toml" 2>> "$DEMO/$s.clusterd.log" &
  PID[clusterd-$s]=$!
  for _ in $(seq 100); do
    pairctl -c "$s.toml" cluster status > /dev/null 2>&1 && break
    ours "${PID[clusterd-$s]}" || fail "clusterd for site $s exited"
    sleep 0.1
  done
  pairctl -c "$s.toml" cluster status > /dev/null 2>&1 || fail "clusterd for site $s did not answer"
  echo "site $s: clusterd pid ${PID[clusterd-$s]}"
}
# last_copy LOG VOLUME: the copy engine's last line for VOLUME in a site's log, e.g.
# "pair vm1: copying 4194304 bytes (4 MiB of 1 GiB) to site b".
last_copy() { grep -o "pair $2: copying .*" "$1" | tail -1 || true; }
# sum FILE [SKIP_MiB COUNT_MiB]: the sha256 of a file, or of COUNT MiB at SKIP MiB.
sum() {
  if [ $# -eq 1 ]; then dd if="$1" bs=1M status=none | sha256sum | cut -d' ' -f1; return; fi
  dd if="$1" bs=1M skip="$2" count="$3" status=none | sha256sum | cut -d' ' -f1
}
ms_now() { date +%s%3N; }
# write_then_read FROM TO OFFSET: a line written with fsync to vm1 at site FROM's mount at OFFSET
# (dd's units: 500M), shown and checked as read back at site TO's mount.
write_then_read() {
  local msg got
  msg="hello from site $1, $(date +%T)"
  sh_run "printf '%s' '$msg' | dd of=mnt-$1/vm1 bs=4k seek=$3 oflag=seek_bytes conv=notrunc,fsync status=none"
  got=$(dd if="mnt-$2/vm1" bs=4k skip="$3" count=${#msg} iflag=skip_bytes,count_bytes status=none)
  printf '$ dd if=mnt-%s/vm1 bs=4k skip=%s count=%s iflag=skip_bytes,count_bytes status=none\n%s\n' \
    "$2" "$3" "${#msg}" "$got"
  [ "$got" = "$msg" ] || fail "$2 reads '$got', not what $1 wrote"
}
MiB=$((1 << 20))

cd "$DEMO"
say "two sites, a and b, and a witness site w, on this machine, in $DEMO (build/ is on PATH)"
declare -A PORT=()
for p in a b hb-a hb-b w; do
  while :; do
    port=$(free_port)
    [[ " ${PORT[*]} " == *" $port "* ]] || break
  done
  PORT[$p]=$port
done
say "CURVE keys for the three sites: each keeps its SITE.key and lists the others' SITE.pub"
mkdir -m 0700 keys
for s in a b w; do run pairctl keygen "$s" --dir keys; done
run ls -l keys
for s in a b; do
  peer=$([ "$s" = a ] && echo b || echo a)
  mkdir -p -m 0700 "$s"
  mkdir -p "mnt-$s"
  cat > "$s.toml" <<TOML
[site]
name = "$s"
data_dir = "$DEMO/$s"
listen = "tcp://127.0.0.1:${PORT[$s]}"
control = "ipc://$DEMO/$s/control.sock"
peer_timeout_ms = 1000

[peer]
name = "$peer"
endpoint = "tcp://127.0.0.1:${PORT[$peer]}"

[cluster]
heartbeat_listen = ["tcp://127.0.0.1:${PORT[hb-$s]}"]
heartbeat_peer = ["tcp://127.0.0.1:${PORT[hb-$peer]}"]
interval_ms = 200
timeout_ms = 1000
standby_delay_ms = 200
determining_volume = "quorum"
volumes = ["vm1"]
on_start = 'echo "\$(date +%T.%3N) on_start at site \$PAIRFS_SITE: it runs the applications now" >> $DEMO/hooks.log; date +%s%3N > $DEMO/on_start-\$PAIRFS_SITE.ms'
on_stop = 'echo "\$(date +%T.%3N) on_stop at site \$PAIRFS_SITE: it stops the applications" >> $DEMO/hooks.log'

[witness]
endpoint = "tcp://127.0.0.1:${PORT[w]}"

[security]
secret_key = "$DEMO/keys/$s.key"
peer_public_keys = ["$DEMO/keys/$peer.pub", "$DEMO/keys/w.pub"]
TOML
done
mkdir -p -m 0700 w
cat > w.toml <<TOML
[site]
name = "w"
data_dir = "$DEMO/w"

[witness]
endpoint = "tcp://127.0.0.1:${PORT[w]}"
sites = ["a", "b"]

[security]
secret_key = "$DEMO/keys/w.key"
peer_public_keys = ["$DEMO/keys/a.pub", "$DEMO/keys/b.pub"]
TOML
touch hooks.log
run cat a.toml
echo "(b.toml is the mirror image: name b, peer a, the heartbeat ports swapped)"
echo "([cluster] is for clusterd, started further down; the hooks append a line to hooks.log)"
run cat w.toml
printf '$ pairfs --witness -f -c w.toml 2>> w.log &\n'
pairfs --witness -f -c "$DEMO/w.toml" 2>> "$DEMO/w.log" &
PID[witness]=$!
wait_until 10 grep -q 'serving sites' w.log || fail "the witness did not come up"
echo "site w: witness pid ${PID[witness]}: $(grep -o 'witness w: serving.*' w.log)"
start_pairfs a
start_pairfs b

say "a 1 GiB volume at site a, with 32 MiB of data on it before it is paired"
run pairctl -c a.toml volume create vm1 1G
run dd if=/dev/urandom of=mnt-a/vm1 bs=1M count=32 seek=64 conv=notrunc,fsync status=none
run ls -l mnt-a mnt-b

say "pair it: create at a makes the volume at b, then the initial copy sends a's volume to b"
run pairctl -c a.toml create vm1 --mode sync
run ls -l mnt-b
run pairctl -c a.toml wait vm1 --status PAIR --timeout 60 --progress
echo "site a's log: $(last_copy a.log vm1)"
run pairctl -c a.toml display
run pairctl -c b.toml display
echo "(fence reserve: vm1 is a volume clusterd fails over, see [cluster] volumes;"
echo " LINK curve: the link to the peer is encrypted and only b's key gets in, as b)"
[ "$(field a vm1 link_authenticated)" = true ] || fail "a's link to b is not authenticated"
sh_run "dd if=mnt-a/vm1 bs=1M skip=64 count=32 status=none | sha256sum"
sh_run "dd if=mnt-b/vm1 bs=1M skip=64 count=32 status=none | sha256sum"
[ "$(sum mnt-a/vm1 64 32)" = "$(sum mnt-b/vm1 64 32)" ] || fail "the initial copy differs at b"

say "write at a, read at b: every write is at both sites before it returns"
write_then_read a b 500M

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
echo "dirty at a: $(field a vm1 dirty_bytes) bytes of $(field a vm1 size_bytes)"

say "resync: only the changed regions cross the link"
run pairctl -c a.toml resync vm1
run pairctl -c a.toml wait vm1 --status PAIR --timeout 60
line=$(last_copy a.log vm1)
copied=$(sed -n 's/^pair vm1: copying \([0-9]*\) bytes.*/\1/p' <<<"$line")
echo "site a's log: $line"
echo "copied $((copied / MiB)) MiB ($copied bytes) of the 1024 MiB volume"
[ -n "$copied" ] && [ "$copied" -le $((8 * MiB)) ] || fail "the resync copied more than the 4 MiB that changed"
run pairctl -c a.toml verify vm1

say "the determining volume: a 1 MiB pair whose reservation decides which site runs the applications"
run pairctl -c a.toml volume create quorum 1M
run pairctl -c a.toml create quorum --mode sync --fence never
run pairctl -c a.toml wait quorum --status PAIR --timeout 30

say "clusterd at both sites: a starts first and wins the race (ACTIVE), b joins as STANDBY"
start_clusterd a
wait_until 10 is state a ACTIVE || fail "site a did not become ACTIVE"
start_clusterd b
wait_until 10 is state b STANDBY || fail "site b did not join as STANDBY"
run pairctl -c a.toml cluster status
run pairctl -c b.toml cluster status
[ "$(json b "d['links'][0]['authenticated']" cluster status)" = true ] || fail "b's heartbeat link is not authenticated"
run cat hooks.log
wait_until 5 grep -q "on_start at site a" hooks.log || fail "on_start did not run at site a"

say "the applications at a write a file's worth of data (16 MiB) into vm1 and fsync it"
run dd if=/dev/urandom of=payload bs=1M count=16 status=none
sh_run "dd if=payload of=mnt-a/vm1 bs=1M seek=600 conv=notrunc,fsync status=none"
want=$(sum payload)
at_a=$(sum mnt-a/vm1 600 16)
echo "sha256 of the 16 MiB at a: $at_a"
[ "$at_a" = "$want" ] || fail "a does not read back what it wrote"

say "site a is lost: kill -9 of EVERYTHING of site a (its clusterd and its pairfs)"
t0=$(ms_now)
run kill -9 "${PID[clusterd-a]}" "${PID[pairfs-a]}"
{ wait "${PID[clusterd-a]}"; wait "${PID[pairfs-a]}"; } 2>/dev/null || true   # no "Killed" notices
unset "PID[clusterd-a]" "PID[pairfs-a]"
run umount mnt-a
echo "(b hears no heartbeat for timeout_ms = 1000; b and the witness are two of three copies of"
echo " the reservation record, a majority: b wins the reserve, takes the pairs over, runs on_start)"

say "b becomes ACTIVE by itself"
printf '$ pairctl -c b.toml --json cluster status   # every 50 ms, until ACTIVE\n'
last=""
deadline=$((SECONDS + 15))
while :; do
  now=$(state b)
  if [ "$now" != "$last" ]; then echo "  +$(($(ms_now) - t0)) ms: b is ${now:-?}"; last=$now; fi
  [ "$now" = ACTIVE ] && [ -s on_start-b.ms ] && break
  [ "$SECONDS" -lt "$deadline" ] || fail "b did not become ACTIVE (and run on_start) within 15 s of the kill"
  sleep 0.05
done
took=$(($(cat on_start-b.ms) - t0))
echo "kill -9 at a -> on_start done at b: $took ms"
run pairctl -c b.toml cluster status
run cat hooks.log
sh_run "grep -o 'witness: granted.*' w.log | tail -2"
run pairctl -c b.toml display
[ "$(field b vm1 status)" = SSWS ] || fail "vm1 at b is $(field b vm1 status), not SSWS"
at_b=$(sum mnt-b/vm1 600 16)
echo "sha256 of the 16 MiB at b: $at_b"
echo "sha256 of the 16 MiB at a: $at_a (before the kill)"
[ "$at_b" = "$want" ] || fail "the 16 MiB written and fsync'd at a before the kill differ at b"
echo "the file written at a is intact at b"
sh_run "dd if=/dev/urandom of=mnt-b/vm1 bs=1M count=2 seek=400 conv=notrunc,fsync status=none"
echo "the write at b succeeded: vm1 is writable at b (SSWS), b tracks what it changes"
b_wrote=$(sum mnt-b/vm1 400 2)

say "site a comes back: it knows it is outdated and refuses writes"
start_pairfs a
wait_until 10 is field a vm1 outdated true || fail "site a did not learn within 10 s that b's copy is newer"
run pairctl -c a.toml display
if printf 'x' | dd of=mnt-a/vm1 bs=4k conv=notrunc status=none 2> write-a.err; then
  fail "a write at the outdated site a succeeded"
fi
echo "a write at a is refused: $(sed 's/^dd: //' write-a.err)"

say "resync --swap at b: b becomes the primary, a gets b's changes and becomes the secondary"
run pairctl -c b.toml resync vm1 --swap
run pairctl -c b.toml resync quorum --swap
run pairctl -c b.toml wait vm1 --status PAIR --timeout 60
run pairctl -c b.toml wait quorum --status PAIR --timeout 30
echo "site b's log: $(last_copy b.log vm1)"
run pairctl -c b.toml verify vm1
run pairctl -c a.toml display
run pairctl -c b.toml display
[ "$(field b vm1 role)" = primary ] && [ "$(field a vm1 role)" = secondary ] || fail "vm1 is not primary at b, secondary at a"
for v in vm1 quorum; do
  sha_a=$(sum "mnt-a/$v") sha_b=$(sum "mnt-b/$v")
  printf 'sha256 of %-6s at a: %s\nsha256 of %-6s at b: %s\n' "$v" "$sha_a" "$v" "$sha_b"
  [ "$sha_a" = "$sha_b" ] || fail "the two copies of $v differ"
done
[ "$(sum mnt-a/vm1 600 16)" = "$want" ] || fail "the 16 MiB written at a before the kill are not at a any more"
[ "$(sum mnt-a/vm1 400 2)" = "$b_wrote" ] || fail "the 2 MiB b wrote while a was lost are not at a"
echo "identical at both sites: a's file from before the kill and b's write from after it are at both"
write_then_read b a 700M
echo "write at b, read at a: the pair runs the other way now"

say "the cluster now: b ACTIVE, the pairs run from b to a"
run pairctl -c b.toml cluster status
run cat hooks.log
echo "(a's clusterd is not started again in this demo: there is no automatic failback, b stays ACTIVE)"
[ "$(state b)" = ACTIVE ] || fail "b is $(state b), not ACTIVE"
[ "$(grep -c 'on_start at site b' hooks.log)" = 1 ] || fail "on_start ran at b more than once"
[ "$(grep -c 'on_start at site a' hooks.log)" = 1 ] || fail "on_start ran at a again"

say "stop everything (SIGTERM: clusterd keeps the reservations, pairfs unmounts cleanly)"
for name in clusterd-b pairfs-a pairfs-b witness; do
  stop "$name" || fail "$name did not exit 0 on SIGTERM"
done
echo "clusterd at b, pairfs at a and b and the witness exited 0"
echo "demo done: every check held (kill -9 of site a -> on_start at b in $took ms)"
