#!/usr/bin/env bash
# pairfs failover benchmark: the time from `kill -9` at the active site to on_start finished at the
# other one, over many rounds, for a host failure (the active site's clusterd killed; its pairfs
# lives) and, with a witness, a whole-site loss (the active site's clusterd and pairfs killed).
#
#   make bench-failover            # or: scripts/bench_failover.sh (root: FUSE mounts)
#   FAILOVER_ROUNDS=3 scripts/bench_failover.sh
#
# Two sites (a, b) and a witness (w) run on loopback from a scratch directory under /var/tmp, with
# clusterd's defaults (interval 200 ms, timeout 1000 ms, standby delay 200 ms) and
# site.peer_timeout_ms 1000; the managed volume vm1 (64 MiB) and the determining volume quorum
# (1 MiB) are pairs. on_start writes a timestamp (ns); the figure of a round is that timestamp
# minus the moment just before the kill. Rounds alternate the active site: after a round the killed
# processes are started again, the pairs are brought back to PAIR (resync --swap where the
# survivor took over alone), and the next round kills the new active site. After every round the
# script also checks what must hold: exactly one site ran on_start, and a block written and
# fsync'd at the old active site just before the kill reads back at the new one.
#
# Environment: FAILOVER_ROUNDS [10] rounds per kind; FAILOVER_KINDS [host site] which kinds;
# BENCH_TMPDIR [/var/tmp]. Ports from 7700 up must be free.
# A benchmark reports; it never fails on timing. It exits non-zero only if something broke
# (a round without a failover, a lost fsync'd write, two sites starting).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=$ROOT/build
ROUNDS=${FAILOVER_ROUNDS:-10}
read -r -a KINDS <<< "${FAILOVER_KINDS:-host site}"
TMPBASE=${BENCH_TMPDIR:-/var/tmp}
say() { echo "bench-failover: $*" >&2; }
die() { echo "bench-failover: error: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (FUSE mounts); run: sudo $0"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "FAILOVER_ROUNDS must be a positive integer, not '$ROUNDS'"
for k in "${KINDS[@]}"; do [[ $k == host || $k == site ]] || die "FAILOVER_KINDS: unknown kind '$k' (host, site)"; done
for binary in pairfs pairctl clusterd; do [ -x "$B/$binary" ] || die "$B/$binary is missing: run make first"; done

S=$(mktemp -d "$TMPBASE/pairfs-failover.XXXXXX")
declare -A PID=()
cleanup() {
  local name
  for name in "${!PID[@]}"; do
    kill -TERM "${PID[$name]}" 2>/dev/null || true
  done
  sleep 1
  for name in "${!PID[@]}"; do kill -KILL "${PID[$name]}" 2>/dev/null || true; done
  for site in a b; do mountpoint -q "$S/mnt-$site" && { umount "$S/mnt-$site" 2>/dev/null || umount -l "$S/mnt-$site"; }; done
  [ -n "${FAILOVER_KEEP:-}" ] || rm -rf --one-file-system "$S"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PA=7700 PB=7701 HA=7702 HB=7703 PW=7704
for port in $PA $PB $HA $HB $PW; do
  ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || die "port $port is in use"
done
write_config() {  # write_config SITE PEER PORT PEER_PORT HB PEER_HB
  mkdir -p "$S/$1" "$S/mnt-$1"
  cat > "$S/$1.toml" <<TOML
[site]
name = "$1"
data_dir = "$S/$1"
control = "ipc://$S/$1/control.sock"
listen = "tcp://127.0.0.1:$3"
peer_timeout_ms = 1000
[peer]
name = "$2"
endpoint = "tcp://127.0.0.1:$4"
[cluster]
heartbeat_listen = ["tcp://127.0.0.1:$5"]
heartbeat_peer = ["tcp://127.0.0.1:$6"]
determining_volume = "quorum"
volumes = ["vm1"]
on_start = "date +%s%N >> $S/started-\$PAIRFS_SITE"
on_stop = "true"
[witness]
endpoint = "tcp://127.0.0.1:$PW"
TOML
}
write_config a b $PA $PB $HA $HB
write_config b a $PB $PA $HB $HA
mkdir -p "$S/w"
printf '[site]\nname = "w"\ndata_dir = "%s/w"\n[witness]\nendpoint = "tcp://127.0.0.1:%s"\nsites = ["a", "b"]\n' "$S" "$PW" > "$S/w.toml"

ctl() { "$B/pairctl" -c "$S/$1.toml" "${@:2}"; }
state() { ctl "$1" --json cluster status 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null || true; }
field() { ctl "$1" --json display "$2" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)[0][sys.argv[1]])' "$3" 2>/dev/null || true; }
wait_for() {  # wait_for SECONDS COMMAND...: until COMMAND succeeds
  local ticks=$(($1 * 20)); shift
  while [ "$ticks" -gt 0 ]; do "$@" 2>/dev/null && return 0; sleep 0.05; ticks=$((ticks - 1)); done
  return 1
}
is_state() { [ "$(state "$1")" = "$2" ]; }
is_field() { [ "$(field "$1" "$2" "$3")" = "$4" ]; }
start_pairfs() {
  "$B/pairfs" -f -c "$S/$1.toml" "$S/mnt-$1" >> "$S/$1.log" 2>&1 &
  PID[pairfs-$1]=$!
  wait_for 10 ctl "$1" volume list > /dev/null || die "pairfs $1 did not start: $(tail -3 "$S/$1.log")"
}
start_clusterd() {
  "$B/clusterd" -f -c "$S/$1.toml" >> "$S/$1.clusterd.log" 2>&1 &
  PID[clusterd-$1]=$!
  wait_for 10 ctl "$1" cluster status > /dev/null || die "clusterd $1 did not start: $(tail -3 "$S/$1.clusterd.log")"
}
kill9() { kill -9 "${PID[$1]}" 2>/dev/null || true; wait "${PID[$1]}" 2>/dev/null || true; unset "PID[$1]"; }
starts() { cat "$S/started-$1" 2>/dev/null | wc -l; }
started_since() { [ "$(starts "$1")" -gt "$2" ]; }  # started_since SITE COUNT: on_start ran again

say "scratch $S; $ROUNDS round(s) per kind: ${KINDS[*]}"
"$B/pairfs" --witness -f -c "$S/w.toml" >> "$S/w.log" 2>&1 &
PID[witness]=$!
start_pairfs a
start_pairfs b
ctl a volume create quorum 1M > /dev/null
ctl a volume create vm1 64M > /dev/null
ctl a create quorum --mode sync --fence never > /dev/null
ctl a create vm1 --mode sync > /dev/null
ctl a wait quorum --status PAIR --timeout 60 > /dev/null
ctl a wait vm1 --status PAIR --timeout 60 > /dev/null
start_clusterd a
wait_for 10 is_state a ACTIVE || die "a did not become ACTIVE"
start_clusterd b
wait_for 10 is_state b STANDBY || die "b did not become STANDBY"

# settle ACTIVE STANDBY: both healthy, pairs in PAIR, the determining volume released
settle() {
  wait_for 30 is_field "$1" vm1 status PAIR && wait_for 30 is_field "$1" quorum status PAIR &&
    wait_for 10 is_state "$2" STANDBY && wait_for 10 is_field "$1" quorum reserved_by None
}

declare -A FIGURES=()
active=a
for kind in "${KINDS[@]}"; do
  for round in $(seq "$ROUNDS"); do
    other=$([ "$active" = a ] && echo b || echo a)
    settle "$active" "$other" || die "round $round ($kind): the cluster did not settle (active $active)"
    before_starts=$(starts "$other") before_active_starts=$(starts "$active")
    # a block written and fsync'd at the active site just before the kill must be at the other
    seek=$((RANDOM % 60))
    dd if=/dev/urandom of="$S/block" bs=64k count=1 status=none
    dd if="$S/block" of="$S/mnt-$active/vm1" bs=64k seek="$seek" conv=notrunc,fsync status=none
    t0=$(date +%s%N)
    kill9 "clusterd-$active"
    [ "$kind" = site ] && { kill9 "pairfs-$active"; umount -l "$S/mnt-$active" 2>/dev/null || true; }
    wait_for 15 started_since "$other" "$before_starts" || die "round $round ($kind): no on_start at $other"
    t1=$(tail -1 "$S/started-$other")
    ms=$(((t1 - t0) / 1000000))
    FIGURES[$kind]+="$ms "
    cmp -s <(dd if="$S/mnt-$other/vm1" bs=64k skip="$seek" count=1 status=none) "$S/block" ||
      die "round $round ($kind): the block fsync'd at $active before the kill is not at $other"
    [ "$(starts "$active")" = "$before_active_starts" ] || die "round $round ($kind): on_start ran at $active too"
    say "$kind failure, round $round: $active killed, on_start done at $other after $ms ms"
    # bring the killed site back
    if [ "$kind" = site ]; then
      start_pairfs "$active"
      for volume in quorum vm1; do
        wait_for 10 is_field "$active" "$volume" outdated True || true
        ctl "$other" resync "$volume" --swap > /dev/null || die "resync --swap of $volume at $other failed"
      done
    fi
    start_clusterd "$active"
    active=$other
  done
done

echo
echo "failover: kill -9 at the active site -> on_start finished at the other (timeout_ms 1000, interval 200, standby delay 200)"
printf '%-44s %6s %6s %6s %6s\n' "kind" "rounds" "median" "max" "min"
for kind in "${KINDS[@]}"; do
  python3 - "$kind" ${FIGURES[$kind]} <<'PY'
import statistics, sys
kind, values = sys.argv[1], [int(v) for v in sys.argv[2:]]
label = {"host": "host failure (clusterd killed, pairfs lives)", "site": "whole-site loss, with the witness"}[kind]
print("%-44s %6d %4d ms %4d ms %4d ms" % (label, len(values), statistics.median(values), max(values), min(values)))
PY
done
echo "targets: median <= timeout_ms + 500 = 1500 ms, max <= timeout_ms + 1000 = 2000 ms"
echo "every round: on_start at exactly one site, the block fsync'd before the kill read back at the new site"
