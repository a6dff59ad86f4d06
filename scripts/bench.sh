#!/usr/bin/env bash
# pairfs benchmark: fio side by side on the same disk, one table with ratios against a plain file.
#
#   make bench                      # or: scripts/bench.sh (needs root: drop_caches, FUSE mounts)
#   BENCH_TARGETS="plain pair gluster" BENCH_RUNS=1 scripts/bench.sh     # a shorter run
#
# Targets (columns), all kept in one scratch directory under /var/tmp, so on the same disk:
#   plain         a plain file on the local file system: the limit
#   bindfs        bindfs -o big_writes --forward-odirect=4096 over a local directory: a plain FUSE
#                 pass-through
#   pairfs        a pairfs volume (one site, no pair)
#   pair          a synchronous pair: two pairfs daemons (sites a and b, own data dirs, control
#                 sockets and mounts, loopback TCP ports from 7410 up), `pairctl create --mode sync`,
#                 waited to PAIR; fio runs on the primary's file (site a)
#   pair_curve    the same pair with [security] (keys from `pairctl keygen`): the cost of CURVE
#   pair_wan      the same pair (no keys) with its replication link through build/tools/wan_proxy,
#                 BENCH_WAN_DELAY_MS each way (a round trip costs twice that): a sync pair across
#                 a WAN, the figure async pairs are measured against
#   gluster       GlusterFS replica 2: a glusterd of its own (`glusterd -p`, stopped by PID), two
#                 bricks on this disk, mounted with mount -t glusterfs (FUSE client)
#   gluster_virt  the same with `volume set NAME group virt` (the settings GlusterFS recommends for
#                 VM images: sharding, strict O_DIRECT, eager lock, ...)
# The GlusterFS targets install glusterfs-server and glusterfs-client if missing (scripts/deps.sh
# bench) and refuse to run next to a glusterd already running or one with volumes configured. The
# gluster CLI refuses localhost/127.0.0.1 as a brick host: the bricks use this machine's host name
# when it resolves to a loopback address, else a line `127.0.1.77 pairfs-bench-gluster` appended to
# /etc/hosts for the run (exactly that line is removed again).
# Workloads (rows): sequential write 1 MiB blocks + final fsync (MB/s), 4 KiB random write with an
# fsync after each write (IOPS), 4 KiB O_DIRECT random read (IOPS), 4 KiB O_DIRECT random write by
# 4 jobs (IOPS). Each cell is the median of BENCH_RUNS runs; runs alternate between targets so that a
# drift of the machine does not favour one column. The page cache is dropped before every run.
# After the table:
#   - with the pair target: 4 KiB O_DIRECT random read at the secondary's file (site b), BENCH_RUNS
#     runs, median, against the baseline's random read;
#   - pairfs's peak RSS (VmHWM) once a 16 GiB volume has been written fully;
#   - (BENCH_COPY) initial copy: a BENCH_COPY_SIZE volume filled with random data at site a of a
#     fresh pair of daemons, time from `pairctl create --mode sync` to PAIR, as MB/s, against `cp`
#     of a random file of that size on the same disk (time of cp plus the fsync of the copy); page
#     cache dropped before both. Then resync after 1% of the regions changed: sleep 3 s (the
#     activity log forgets regions both copies flushed every 2 s), split, 4 KiB written into every
#     100th 64 KiB region (1% of them, spread over the volume), fsync, resync; reported: the bytes
#     the primary copied (its last log line `copying N bytes`) as % of the volume, and the time from
#     `pairctl resync` to PAIR.
#
# Environment (defaults in brackets); small values make a quick smoke run:
#   BENCH_TARGETS [plain bindfs pairfs pair pair_curve pair_wan gluster gluster_virt]
#                         the columns, in order; the first is the baseline of the ratios
#   BENCH_WORKLOADS [seqwrite randwrite_fsync randread randwrite_4jobs]
#                         the rows, in order
#   BENCH_RUNS [3]        runs per cell, the median is reported
#   BENCH_WAN_DELAY_MS [10]  one-way delay of the pair_wan target's link (wan_proxy --delay-ms)
#   BENCH_WAN_RATE_MBPS [0]  its cap per direction in MB/s (wan_proxy --rate-mbps); 0: none
#   BENCH_SECONDS [10]    length of each time-based (IOPS) run
#   BENCH_SIZE [1G]       test file / volume size, and the size of the sequential write (K/M/G)
#   BENCH_RSS [1]         0 skips the peak-RSS measurement
#   BENCH_RSS_SIZE [16G]  volume size for the peak-RSS measurement
#   BENCH_COPY [1]        0 skips the initial-copy / resync measurement
#   BENCH_COPY_SIZE [4G]  volume size for it (a whole number of MiB)
#   BENCH_GLUSTER_HOST [auto]  brick host name: auto (see above), hosts (always the /etc/hosts
#                         line), or a name that resolves to this machine
#   BENCH_TMPDIR [/var/tmp]  where the scratch directory is made (mktemp -d)
#   e.g. BENCH_SIZE=256M BENCH_SECONDS=3 BENCH_RUNS=1 BENCH_RSS=0 BENCH_COPY=0 scripts/bench.sh
#
# Units: MB = 10^6 bytes. Sequential write MB/s = bytes written / fio's job runtime; with
# end_fsync=1, fio (3.x) counts the closing fsync inside that runtime (checked with fio 3.33: 1 GiB
# took 196 ms of runtime without end_fsync and 722 ms with it), so the figure includes the fsync,
# and excludes fio's own start-up, which timing the whole fio process would add.
#
# Adding a target (a column): write one function target_NAME answering
#   label     print the column header
#   setup     mount / start what it needs; afterwards `path` must name a file of at least BENCH_SIZE
#             bytes (or a path fio may create); the script then writes it fully once (layout)
#   path      print the file fio uses
#   teardown  undo setup; must be safe to call twice and after a failed setup
# and add NAME to DEFAULT_TARGETS (and the space check's factor if it uses more than BENCH_SIZE of
# disk). The first target is the baseline of the ratios.
# Adding a workload (a row): one function wl_NAME (label, unit, fio args) and NAME in WORKLOADS.
set -euo pipefail

DEFAULT_TARGETS="plain bindfs pairfs pair pair_curve pair_wan gluster gluster_virt"
read -r -a TARGETS <<< "${BENCH_TARGETS:-$DEFAULT_TARGETS}"
read -r -a WORKLOADS <<< "${BENCH_WORKLOADS:-seqwrite randwrite_fsync randread randwrite_4jobs}"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PAIRFS=$ROOT/build/pairfs
PAIRCTL=$ROOT/build/pairctl
WAN_PROXY=$ROOT/build/tools/wan_proxy

RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECONDS:-10}
SIZE=${BENCH_SIZE:-1G}
RSS=${BENCH_RSS:-1}
RSS_SIZE=${BENCH_RSS_SIZE:-16G}
TMPBASE=${BENCH_TMPDIR:-/var/tmp}
COPY=${BENCH_COPY:-1}
COPY_SIZE=${BENCH_COPY_SIZE:-4G}
GLUSTER_HOST_MODE=${BENCH_GLUSTER_HOST:-auto}
WAN_DELAY_MS=${BENCH_WAN_DELAY_MS:-10}
WAN_RATE_MBPS=${BENCH_WAN_RATE_MBPS:-0}

say() { echo "bench: $*" >&2; }
die() { echo "bench: error: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# checks

[ "$(id -u)" -eq 0 ] || die "needs root (it drops the page cache and mounts FUSE file systems); run: sudo $0"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer, not '$RUNS'"
[[ $SECS =~ ^[1-9][0-9]*$ ]] || die "BENCH_SECONDS must be a positive integer, not '$SECS'"
[ ${#TARGETS[@]} -gt 0 ] || die "BENCH_TARGETS is empty"
[[ $WAN_DELAY_MS =~ ^[0-9]+$ ]] || die "BENCH_WAN_DELAY_MS must be a whole number of ms, not '$WAN_DELAY_MS'"
[[ $WAN_RATE_MBPS =~ ^[0-9]+([.][0-9]+)?$ ]] || die "BENCH_WAN_RATE_MBPS must be a number of MB/s, not '$WAN_RATE_MBPS'"
[[ $GLUSTER_HOST_MODE =~ ^[A-Za-z0-9][A-Za-z0-9.-]*$ ]] || die "BENCH_GLUSTER_HOST must be auto, hosts or a host name"
has_target() { [[ " ${TARGETS[*]} " == *" $1 "* ]]; }

# to_bytes 1G -> 1073741824 (suffixes K, M, G, T; powers of 1024)
to_bytes() {
  local v=${1^^}
  [[ $v =~ ^([0-9]+)([KMGT]?)B?$ ]] || return 1
  local n=${BASH_REMATCH[1]}
  case ${BASH_REMATCH[2]} in
    K) n=$((n << 10)) ;; M) n=$((n << 20)) ;; G) n=$((n << 30)) ;; T) n=$((n << 40)) ;;
  esac
  echo "$n"
}
SIZE_BYTES=$(to_bytes "$SIZE") || die "BENCH_SIZE must be a size like 256M or 1G, not '$SIZE'"
RSS_BYTES=$(to_bytes "$RSS_SIZE") || die "BENCH_RSS_SIZE must be a size like 16G, not '$RSS_SIZE'"
((SIZE_BYTES >= 1048576 && SIZE_BYTES % 1048576 == 0)) || die "BENCH_SIZE must be a whole number of MiB"
((RSS_BYTES >= 1048576 && RSS_BYTES % 1048576 == 0)) || die "BENCH_RSS_SIZE must be a whole number of MiB"
COPY_BYTES=$(to_bytes "$COPY_SIZE") || die "BENCH_COPY_SIZE must be a size like 4G, not '$COPY_SIZE'"
((COPY_BYTES >= 1048576 && COPY_BYTES % 1048576 == 0)) || die "BENCH_COPY_SIZE must be a whole number of MiB"

tools=(fio python3 mountpoint)
has_target bindfs && tools+=(bindfs)
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || die "$tool not found; run: make deps (or apt-get install -y fio bindfs python3 util-linux)"
done
if has_target gluster || has_target gluster_virt; then
  "$ROOT/scripts/deps.sh" bench || die "installing the GlusterFS packages failed (scripts/deps.sh bench)"
  for tool in glusterd gluster mount.glusterfs getent; do
    command -v "$tool" >/dev/null || die "$tool not found after scripts/deps.sh bench"
  done
fi
for bin in "$PAIRFS" "$PAIRCTL"; do
  [ -x "$bin" ] || die "$bin not built; run: make all"
done
has_target pair_wan && { [ -x "$WAN_PROXY" ] || die "$WAN_PROXY not built; run: make build/tools/wan_proxy"; }
[ -c /dev/fuse ] || die "/dev/fuse missing (modprobe fuse)"
[ -w /proc/sys/vm/drop_caches ] || die "cannot write /proc/sys/vm/drop_caches (a container without it cannot run this benchmark)"

# ---------------------------------------------------------------------------------------------
# scratch directory and cleanup: everything started is recorded by PID / mount point

mkdir -p "$TMPBASE"
SCRATCH=$(mktemp -d "$TMPBASE/pairfs-bench.XXXXXX")
_PIDS=() _MOUNTS=() _ACTIVE=()

cleanup() {
  local rc=$? i t pid m
  trap - EXIT INT TERM
  set +e
  for ((i = ${#_ACTIVE[@]} - 1; i >= 0; i--)); do
    t=${_ACTIVE[$i]}
    "target_$t" teardown >/dev/null 2>&1
  done
  # safety net for whatever a teardown left behind
  for ((i = ${#_MOUNTS[@]} - 1; i >= 0; i--)); do
    m=${_MOUNTS[$i]}
    mountpoint -q "$m" && { umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; }
  done
  for pid in "${_PIDS[@]}"; do stop_pid "$pid"; done
  gluster_daemon_stop force
  hosts_restore
  for m in "${_MOUNTS[@]}"; do
    mountpoint -q "$m" && { echo "bench: warning: $m still mounted; scratch $SCRATCH left in place" >&2; exit "$rc"; }
  done
  rm -rf --one-file-system "$SCRATCH"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT
trap 'echo "bench: terminated" >&2; exit 143' TERM

# stop_pid PID: SIGTERM, wait up to 10 s, then SIGKILL. Only PIDs this script started are passed.
stop_pid() {
  local pid=$1 _
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    say "PID $pid did not stop on SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# unmount DIR (lazily if it is busy), if mounted
unmount() {
  mountpoint -q "$1" || return 0
  umount "$1" 2>/dev/null || umount -l "$1"
}

# wait_mount DIR PID LOG: until DIR is a mount point; fails if PID exits first or after 10 s.
wait_mount() {
  local dir=$1 pid=$2 log=$3 _
  for _ in $(seq 100); do
    mountpoint -q "$dir" && return 0
    kill -0 "$pid" 2>/dev/null || { say "the process mounting $dir exited:"; cat "$log" >&2; return 1; }
    sleep 0.1
  done
  say "$dir was not mounted after 10 s:"; cat "$log" >&2; return 1
}

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# ---------------------------------------------------------------------------------------------
# pairfs sites (one site each; used by the pairfs target and the RSS measurement)

PAIRFS_PID_bench="" PAIRFS_PID_rss=""
# pairfs_start NAME [SITE [TOML]]: config $SCRATCH/NAME.toml for site SITE (default a), TOML being
# more lines after the [site] keys (listen, a [peer] table), data $SCRATCH/NAME-data, mount
# $SCRATCH/NAME-mnt, log $SCRATCH/NAME.log (pairfs -f logs to stderr); sets PAIRFS_PID_NAME.
pairfs_start() {
  local name=$1 site=${2:-a} extra=${3:-} data=$SCRATCH/$1-data mnt=$SCRATCH/$1-mnt conf=$SCRATCH/$1.toml
  local log=$SCRATCH/$1.log pid _
  mkdir -p "$data" "$mnt"
  cat > "$conf" <<TOML
[site]
name = "$site"
data_dir = "$data"
control = "ipc://$data/control.sock"
$extra
TOML
  "$PAIRFS" -f -c "$conf" "$mnt" >> "$log" 2>&1 &
  pid=$!
  _PIDS+=("$pid")
  _MOUNTS+=("$mnt")
  printf -v "PAIRFS_PID_$name" '%s' "$pid"
  wait_mount "$mnt" "$pid" "$log" || return 1
  for _ in $(seq 100); do
    "$PAIRCTL" -c "$conf" volume list >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { say "pairfs exited:"; cat "$log" >&2; return 1; }
    sleep 0.1
  done
  say "pairfs control endpoint did not answer after 10 s:"; cat "$log" >&2; return 1
}

# free_ports N FROM: N TCP ports on 127.0.0.1 from FROM upwards that can be bound now (below the
# ephemeral range, so that no outgoing connection takes one meanwhile)
free_ports() {
  python3 - "$1" "$2" <<'PY'
import socket, sys
n, p, out = int(sys.argv[1]), int(sys.argv[2]), []
while len(out) < n and p < 32768:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        out.append(p)
    except OSError:
        pass
    finally:
        s.close()
    p += 1
if len(out) < n:
    sys.exit("no free ports")
print(" ".join(map(str, out)))
PY
}

# pair_start NAME_A NAME_B FIRST_PORT [curve|wan]: sites a (NAME_A) and b (NAME_B), each the
# other's peer on two free loopback ports from FIRST_PORT up. With curve, [security] keys; with
# wan, each site's peer endpoint is a route of one wan_proxy (two more free ports) toward the
# other's listen endpoint: a dials one route, b the other (log $SCRATCH/NAME_A-wan.log, PID in
# WAN_PID_NAME_A, stopped by wan_stop).
pair_start() {
  local na=$1 nb=$2 ports pa pb wab wba peer_a peer_b sec_a="" sec_b=""
  ports=$(free_ports 4 "$3") || { say "no free TCP ports from $3 up"; return 1; }
  read -r pa pb wab wba <<< "$ports"
  peer_a=$pb peer_b=$pa
  if [ "${4:-}" = wan ]; then
    wan_start "$na" "$wab" "$pb" "$wba" "$pa" || return 1
    peer_a=$wab peer_b=$wba
  fi
  if [ "${4:-}" = curve ]; then
    local keys=$SCRATCH/$na-keys
    mkdir -p "$keys" && "$PAIRCTL" keygen a --dir "$keys" >/dev/null && "$PAIRCTL" keygen b --dir "$keys" >/dev/null \
      || { say "pairctl keygen failed"; return 1; }
    printf -v sec_a '\n[security]\nsecret_key = "%s"\npeer_public_keys = ["%s"]' "$keys/a.key" "$keys/b.pub"
    printf -v sec_b '\n[security]\nsecret_key = "%s"\npeer_public_keys = ["%s"]' "$keys/b.key" "$keys/a.pub"
  fi
  pairfs_start "$na" a "listen = \"tcp://127.0.0.1:$pa\"
[peer]
name = \"b\"
endpoint = \"tcp://127.0.0.1:$peer_a\"$sec_a" || return 1
  pairfs_start "$nb" b "listen = \"tcp://127.0.0.1:$pb\"
[peer]
name = \"a\"
endpoint = \"tcp://127.0.0.1:$peer_b\"$sec_b" || return 1
}

# wan_start NAME PORT_AB TO_B PORT_BA TO_A: one wan_proxy with the routes PORT_AB -> TO_B and
# PORT_BA -> TO_A, BENCH_WAN_DELAY_MS each way (BENCH_WAN_RATE_MBPS, if not 0); waits until both listen.
wan_start() {
  local name=$1 log=$SCRATCH/$1-wan.log rate=() pid _
  [ "$WAN_RATE_MBPS" != 0 ] && rate=(--rate-mbps "$WAN_RATE_MBPS")
  "$WAN_PROXY" --listen "127.0.0.1:$2" --to "127.0.0.1:$3" --listen "127.0.0.1:$4" --to "127.0.0.1:$5" \
    --delay-ms "$WAN_DELAY_MS" "${rate[@]}" >> "$log" 2>&1 &
  pid=$!
  _PIDS+=("$pid")
  printf -v "WAN_PID_$name" '%s' "$pid"
  for _ in $(seq 100); do
    [ "$(grep -c 'listening on' "$log")" -ge 2 ] && return 0
    kill -0 "$pid" 2>/dev/null || { say "wan_proxy exited:"; cat "$log" >&2; return 1; }
    sleep 0.1
  done
  say "wan_proxy did not listen:"; cat "$log" >&2; return 1
}

# wan_stop NAME: stops the proxy wan_start NAME started, if any.
wan_stop() {
  local var=WAN_PID_$1
  [ -n "${!var:-}" ] && stop_pid "${!var}"
  printf -v "$var" '%s' ""
}

# pairfs_stop NAME: SIGTERM its pairfs (which unmounts), wait; clear a leftover mount.
pairfs_stop() {
  local name=$1 var=PAIRFS_PID_$1
  local pid=${!var:-}
  [ -n "$pid" ] && stop_pid "$pid"
  unmount "$SCRATCH/$name-mnt" 2>/dev/null || true
  printf -v "$var" '%s' ""
}

pairctl_site() { local name=$1; shift; "$PAIRCTL" -c "$SCRATCH/$name.toml" "$@"; }

# pair_field NAME VOLUME FIELD: a field of `pairctl --json display VOLUME` at site NAME
pair_field() {
  pairctl_site "$1" --json display "$2" | python3 -c 'import json, sys; print(json.load(sys.stdin)[0][sys.argv[1]])' "$3"
}

# now: seconds since the epoch, with fractions
now() { date +%s.%N; }

# ---------------------------------------------------------------------------------------------
# targets

target_plain() {
  case $1 in
    label) echo "plain" ;;
    setup) mkdir -p "$SCRATCH/plain" ;;
    path) echo "$SCRATCH/plain/testfile" ;;
    teardown) rm -rf "$SCRATCH/plain" ;;
  esac
}

BINDFS_PID="" BINDFS_OPTS=(-o big_writes --forward-odirect=4096)
target_bindfs() {
  local src=$SCRATCH/bindfs-src mnt=$SCRATCH/bindfs-mnt log=$SCRATCH/bindfs.log
  case $1 in
    label) echo "bindfs" ;;
    setup)
      mkdir -p "$src" "$mnt"
      _MOUNTS+=("$mnt")
      # -f: stay in the foreground (in our background) so that we hold its PID
      bindfs -f "${BINDFS_OPTS[@]}" "$src" "$mnt" > "$log" 2>&1 &
      BINDFS_PID=$!
      _PIDS+=("$BINDFS_PID")
      if ! wait_mount "$mnt" "$BINDFS_PID" "$log" 2>/dev/null; then
        if grep -qi 'big_writes' "$log"; then
          say "note: this bindfs rejects -o big_writes; mounting with --forward-odirect=4096 only"
          BINDFS_OPTS=(--forward-odirect=4096)
          stop_pid "$BINDFS_PID"
          bindfs -f "${BINDFS_OPTS[@]}" "$src" "$mnt" > "$log" 2>&1 &
          BINDFS_PID=$!
          _PIDS+=("$BINDFS_PID")
          wait_mount "$mnt" "$BINDFS_PID" "$log"
        else
          cat "$log" >&2; return 1
        fi
      fi
      ;;
    path) echo "$mnt/testfile" ;;
    teardown)
      unmount "$mnt" || true
      [ -n "$BINDFS_PID" ] && stop_pid "$BINDFS_PID"
      BINDFS_PID=""
      ;;
  esac
}

target_pairfs() {
  case $1 in
    label) echo "pairfs" ;;
    setup)
      pairfs_start bench || return 1
      # volumes cannot be created or extended through the mount: the volume has exactly BENCH_SIZE
      pairctl_site bench volume create vol "$SIZE_BYTES" >/dev/null
      ;;
    path) echo "$SCRATCH/bench-mnt/vol" ;;
    teardown) pairfs_stop bench ;;
  esac
}

# pair_target NAME_A NAME_B FIRST_PORT [curve|wan] ACTION: a synchronous pair of two fresh sites
pair_target() {
  local na=$1 nb=$2 port=$3 link=$4
  case $5 in
    setup)
      pair_start "$na" "$nb" "$port" "$link" || return 1
      pairctl_site "$na" volume create bench "$SIZE_BYTES" >/dev/null || return 1
      # creates the volume at b too
      pairctl_site "$na" create bench --mode sync >/dev/null || return 1
      pairctl_site "$na" wait bench --status PAIR --timeout 600 >/dev/null \
        || { say "the pair did not reach PAIR:"; tail -20 "$SCRATCH/$na.log" >&2; return 1; }
      ;;
    path) echo "$SCRATCH/$na-mnt/bench" ;;
    secondary) echo "$SCRATCH/$nb-mnt/bench" ;;
    teardown)
      pairfs_stop "$na"
      pairfs_stop "$nb"
      wan_stop "$na"
      local n
      for n in "$na" "$nb"; do
        mountpoint -q "$SCRATCH/$n-mnt" || rm -rf --one-file-system "$SCRATCH/$n-data"
      done
      ;;
  esac
}

target_pair() {
  case $1 in
    label) echo "pairfs PAIR sync" ;;
    *) pair_target pair_a pair_b 7410 "" "$1" ;;
  esac
}

# The same pair with [security]: CURVE encryption and authentication on the replication link.
target_pair_curve() {
  case $1 in
    label) echo "PAIR sync+CURVE" ;;
    *) pair_target pairc_a pairc_b 7430 curve "$1" ;;
  esac
}

# The same pair (no keys) across a WAN: its replication link through build/tools/wan_proxy,
# BENCH_WAN_DELAY_MS each way, so every replicated write waits a round trip of twice that.
target_pair_wan() {
  case $1 in
    label) echo "PAIR sync WAN ${WAN_DELAY_MS}ms" ;;
    *) pair_target pairw_a pairw_b 7440 wan "$1" ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# GlusterFS: one glusterd of our own for both gluster targets, started by the first setup and
# stopped (by the PID in its pidfile) by the last teardown or by cleanup. The brick and self-heal
# processes glusterd starts are recorded by PID from their pidfiles; the FUSE client by its command
# line (our mount point); all are killed by PID if `volume stop` / umount left them running.

GLUSTERD_PID="" GLUSTER_HOST="" HOSTS_LINE="" GLUSTER_VOLS=() GLUSTER_PIDS=()
GLUSTER_HOSTS_NAME=pairfs-bench-gluster GLUSTER_HOSTS_ADDR=127.0.1.77

# alive PID: the process exists and is not a zombie
alive() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# kill_gluster_pid PID: SIGTERM then SIGKILL a gluster process we started, if it still is one
kill_gluster_pid() {
  local pid=$1 comm _
  comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 0
  case $comm in glusterd | glusterfs | glusterfsd) ;; *) return 0 ;; esac
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do alive "$pid" || return 0; sleep 0.1; done
  say "$comm PID $pid did not stop on SIGTERM; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

# hosts_restore: remove the one /etc/hosts line gluster_host added (in place: /etc/hosts may be a
# bind mount)
hosts_restore() {
  [ -n "$HOSTS_LINE" ] || return 0
  python3 - "$HOSTS_LINE" <<'PY' || say "warning: could not remove '$HOSTS_LINE' from /etc/hosts"
import sys
line = sys.argv[1]
with open("/etc/hosts", "r+") as f:
    lines = f.read().split("\n")
    for i in range(len(lines) - 1, -1, -1):
        if lines[i] == line:
            del lines[i]
            break
    f.seek(0)
    f.write("\n".join(lines))
    f.truncate()
PY
  HOSTS_LINE=""
}

# gluster_host: sets GLUSTER_HOST, a name for this machine that the gluster CLI accepts as a brick
# host (it refuses localhost and 127.0.0.1 spelled out)
gluster_host() {
  [ -n "$GLUSTER_HOST" ] && return 0
  local h addr
  case $GLUSTER_HOST_MODE in
    auto)
      h=$(hostname)
      addr=$(getent hosts "$h" | awk '{print $1; exit}')
      if [ "$h" != localhost ] && [[ $addr == 127.* ]]; then GLUSTER_HOST=$h; return 0; fi
      ;;
    hosts) ;;
    *) GLUSTER_HOST=$GLUSTER_HOST_MODE; return 0 ;;
  esac
  if getent hosts "$GLUSTER_HOSTS_NAME" >/dev/null; then
    say "$GLUSTER_HOSTS_NAME already resolves ($(getent hosts "$GLUSTER_HOSTS_NAME" | head -1)); using it"
    GLUSTER_HOST=$GLUSTER_HOSTS_NAME; return 0
  fi
  HOSTS_LINE="$GLUSTER_HOSTS_ADDR $GLUSTER_HOSTS_NAME"
  [ -z "$(tail -c 1 /etc/hosts)" ] || echo >> /etc/hosts
  echo "$HOSTS_LINE" >> /etc/hosts
  say "added '$HOSTS_LINE' to /etc/hosts for the run"
  GLUSTER_HOST=$GLUSTER_HOSTS_NAME
}

gluster_cli() { timeout 120 gluster --mode=script "$@"; }

gluster_daemon_start() {
  [ -n "$GLUSTERD_PID" ] && return 0
  local pidfile=$SCRATCH/glusterd.pid _
  if pgrep -x glusterd >/dev/null; then
    say "a glusterd is already running (PID $(pgrep -x glusterd | tr '\n' ' ')); the benchmark runs only with a glusterd of its own"
    return 1
  fi
  if [ -d /var/lib/glusterd/vols ] && [ -n "$(ls -A /var/lib/glusterd/vols)" ]; then
    say "glusterd has volumes configured ($(ls /var/lib/glusterd/vols | tr '\n' ' ')); the benchmark would start their bricks too: delete them first"
    return 1
  fi
  gluster_host || return 1
  say "starting glusterd (bricks on host $GLUSTER_HOST)"
  glusterd -p "$pidfile" -l "$SCRATCH/glusterd.log" || { say "glusterd failed"; return 1; }
  for _ in $(seq 100); do [ -s "$pidfile" ] && break; sleep 0.1; done
  [ -s "$pidfile" ] || { say "glusterd wrote no pidfile"; tail -20 "$SCRATCH/glusterd.log" >&2; return 1; }
  GLUSTERD_PID=$(cat "$pidfile")
  for _ in $(seq 200); do
    gluster_cli pool list >/dev/null 2>&1 && return 0
    alive "$GLUSTERD_PID" || break
    sleep 0.1
  done
  say "glusterd did not answer:"; tail -20 "$SCRATCH/glusterd.log" >&2; return 1
}

# gluster_daemon_stop [force]: once no benchmark volume is left (or with force): kill what glusterd
# started for us, then glusterd, by PID
gluster_daemon_stop() {
  local pid
  [ "${1:-}" = force ] || [ ${#GLUSTER_VOLS[@]} -eq 0 ] || return 0
  [ ${#GLUSTER_VOLS[@]} -eq 0 ] || say "warning: gluster volume(s) ${GLUSTER_VOLS[*]} not deleted; see /var/lib/glusterd/vols"
  for pid in "${GLUSTER_PIDS[@]}"; do kill_gluster_pid "$pid"; done
  GLUSTER_PIDS=()
  if [ -n "$GLUSTERD_PID" ]; then
    kill_gluster_pid "$GLUSTERD_PID"
    GLUSTERD_PID=""
  fi
  hosts_restore
}

# gluster_record_pids VOLUME MOUNTPOINT: the PIDs of its bricks, self-heal daemon and FUSE client
gluster_record_pids() {
  local vol=$1 mnt=$2 f pid c
  for f in /var/run/gluster/vols/"$vol"/*.pid /var/run/gluster/shd/"$vol"/*.pid /var/lib/glusterd/vols/"$vol"/run/*.pid; do
    [ -s "$f" ] || continue
    pid=$(tr -dc 0-9 < "$f")
    [ -n "$pid" ] && GLUSTER_PIDS+=("$pid")
  done
  for c in /proc/[0-9]*/cmdline; do
    if { tr '\0' ' ' < "$c"; } 2>/dev/null | grep -qE "^/usr/sbin/glusterfs .*--volfile-id=/?$vol .*$mnt( |\$)"; then
      pid=${c#/proc/}; GLUSTER_PIDS+=("${pid%/cmdline}")
    fi
  done
}

# gluster_target NAME VIRT ACTION: the gluster and gluster_virt targets
gluster_target() {
  local t=$1 virt=$2 vol=pairfsbench_${1}_${SCRATCH##*.} mnt=$SCRATCH/$1-mnt bricks=$SCRATCH/$1-bricks
  local log=$SCRATCH/$1.log v kept=()
  case $3 in
    label) if [ -n "$virt" ]; then echo "GlusterFS replica 2, group virt"; else echo "GlusterFS replica 2"; fi ;;
    setup)
      gluster_daemon_start || return 1
      mkdir -p "$bricks/1" "$bricks/2" "$mnt"
      # force: bricks on the root file system, and two bricks of a replica set on one host
      if ! gluster_cli volume create "$vol" replica 2 "$GLUSTER_HOST:$bricks/1" "$GLUSTER_HOST:$bricks/2" force \
          > "$log" 2>&1; then
        # a CLI that timed out may have left it created
        gluster_cli volume info "$vol" >/dev/null 2>&1 && GLUSTER_VOLS+=("$vol")
        say "gluster volume create failed:"; cat "$log" >&2; return 1
      fi
      GLUSTER_VOLS+=("$vol")
      if [ -n "$virt" ]; then
        [ -f /var/lib/glusterd/groups/virt ] \
          || { say "group virt: /var/lib/glusterd/groups/virt is missing (glusterfs-server ships it)"; return 1; }
        gluster_cli volume set "$vol" group virt >> "$log" 2>&1 \
          || { say "gluster volume set $vol group virt failed:"; cat "$log" >&2; return 1; }
      fi
      gluster_cli volume start "$vol" >> "$log" 2>&1 || { say "gluster volume start failed:"; cat "$log" >&2; return 1; }
      gluster_record_pids "$vol" ""
      _MOUNTS+=("$mnt")
      mount -t glusterfs "$GLUSTER_HOST:/$vol" "$mnt" >> "$log" 2>&1 \
        || { say "mount -t glusterfs failed:"; cat "$log" >&2; return 1; }
      gluster_record_pids "$vol" "$mnt"
      ;;
    path) echo "$mnt/testfile" ;;
    teardown)
      unmount "$mnt" 2>/dev/null || true
      for v in "${GLUSTER_VOLS[@]}"; do
        if [ "$v" = "$vol" ]; then
          gluster_cli volume stop "$vol" >> "$log" 2>&1 || say "warning: gluster volume stop $vol failed"
          if gluster_cli volume delete "$vol" >> "$log" 2>&1; then continue; fi
          say "warning: gluster volume delete $vol failed"
        fi
        kept+=("$v")
      done
      GLUSTER_VOLS=("${kept[@]}")
      gluster_daemon_stop
      mountpoint -q "$mnt" || rm -rf --one-file-system "$bricks"
      ;;
  esac
}
target_gluster() { gluster_target gluster "" "$1"; }
target_gluster_virt() { gluster_target gluster_virt virt "$1"; }

# ---------------------------------------------------------------------------------------------
# workloads: wl_NAME label | unit | args (sets FIO_ARGS; --filename, --size, json output are added)

wl_seqwrite() {
  case $1 in
    label) echo "seq write 1M + fsync (MB/s)" ;;
    unit) echo seq_mbps ;;
    args) FIO_ARGS=(--rw=write --bs=1M --ioengine=psync --iodepth=1 --end_fsync=1) ;;
  esac
}
wl_randwrite_fsync() {
  case $1 in
    label) echo "rand write 4K + fsync (IOPS)" ;;
    unit) echo write_iops ;;
    args) FIO_ARGS=(--rw=randwrite --bs=4k --ioengine=psync --iodepth=1 --fsync=1 --time_based --runtime="$SECS") ;;
  esac
}
wl_randread() {
  case $1 in
    label) echo "rand read 4K direct (IOPS)" ;;
    unit) echo read_iops ;;
    args) FIO_ARGS=(--rw=randread --bs=4k --ioengine=psync --iodepth=1 --direct=1 --time_based --runtime="$SECS") ;;
  esac
}
wl_randwrite_4jobs() {
  case $1 in
    label) echo "rand write 4K direct 4 jobs (IOPS)" ;;
    unit) echo write_iops ;;
    args) FIO_ARGS=(--rw=randwrite --bs=4k --ioengine=psync --iodepth=1 --direct=1 --numjobs=4
                    --group_reporting --time_based --runtime="$SECS") ;;
  esac
}

# fio_run OUT.json FILE ARGS...: fio on FILE (never extending it: --size is the file size, no
# fallocate; FIO_SIZE overrides BENCH_SIZE); fails with fio's messages if fio or a job reports an error.
fio_run() {
  local out=$1 file=$2; shift 2
  if ! fio --name=bench --filename="$file" --size="${FIO_SIZE:-$SIZE_BYTES}" --fallocate=none \
        --output-format=json --output="$out" "$@" 2> "$out.err"; then
    # Ctrl-C reaches fio too; fio exits normally after it, so bash does not run the INT trap
    grep -q 'terminating on signal' "$out.err" && { echo "bench: interrupted" >&2; exit 130; }
    say "fio failed on $file ($*):"; cat "$out.err" >&2; tail -c 2000 "$out" >&2 2>/dev/null; return 1
  fi
  python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
bad = [x for x in j["jobs"] if x.get("error")]
if bad:
    sys.exit("fio job error %d" % bad[0]["error"])' "$out" || { cat "$out.err" >&2; return 1; }
}

# metric UNIT OUT.json: the figure of one run
metric() {
  python3 -c '
import json, sys
unit, path = sys.argv[1], sys.argv[2]
jobs = json.load(open(path))["jobs"]
if unit == "seq_mbps":
    # bytes / job runtime (ms); with end_fsync=1 the runtime includes the closing fsync
    b = sum(x["write"]["io_bytes"] for x in jobs)
    ms = max(x["write"]["runtime"] for x in jobs)
    print(b / (ms / 1000.0) / 1e6 if ms else 0)
elif unit == "write_iops":
    print(sum(x["write"]["iops"] for x in jobs))
elif unit == "read_iops":
    print(sum(x["read"]["iops"] for x in jobs))
else:
    sys.exit("unknown unit " + unit)' "$1" "$2"
}

median() { python3 -c 'import statistics, sys; print(statistics.median(float(v) for v in sys.argv[1:]))' "$@"; }

fmt() { python3 -c 'import sys; v = float(sys.argv[1]); print(("%.1f" if v < 10 else "%.0f") % v)' "$1"; }

# ---------------------------------------------------------------------------------------------
# run

for t in "${TARGETS[@]}"; do
  declare -F "target_$t" >/dev/null || die "unknown target '$t' in BENCH_TARGETS (known: $DEFAULT_TARGETS)"
done
for w in "${WORKLOADS[@]}"; do
  declare -F "wl_$w" >/dev/null || die "unknown workload '$w' in BENCH_WORKLOADS"
done

# disk: BENCH_SIZE per target (two copies for the pair and the replica-2 GlusterFS volumes, on this
# one disk), then either the RSS volume or the copy measurement (a random file and its cp copy, then
# the two copies of the pair)
need=$((256 << 20))
for t in "${TARGETS[@]}"; do
  case $t in pair | pair_curve | pair_wan | gluster | gluster_virt) need=$((need + 2 * SIZE_BYTES)) ;; *) need=$((need + SIZE_BYTES)) ;; esac
done
extra=0
[ "$RSS" != 0 ] && extra=$RSS_BYTES
[ "$COPY" != 0 ] && ((2 * COPY_BYTES > extra)) && extra=$((2 * COPY_BYTES))
need=$((need + extra))
avail=$(($(df --output=avail -B1 "$SCRATCH" | tail -1)))
((avail >= need)) || die "$SCRATCH has $((avail >> 20)) MiB free; the benchmark needs $((need >> 20)) MiB"

say "scratch $SCRATCH ($(df --output=source,fstype "$SCRATCH" | tail -1 | tr -s ' ')), $((avail >> 30)) GiB free, $((need >> 30)) GiB needed"
versions="$(fio --version)"
has_target bindfs && versions+=", bindfs $(bindfs --version 2>&1 | awk '{print $2; exit}')"
{ has_target gluster || has_target gluster_virt; } && versions+=", $(glusterd --version | head -1)"
say "targets ${TARGETS[*]}; runs $RUNS, ${SECS} s per IOPS run, size $SIZE ($SIZE_BYTES bytes), $versions"

declare -A LABEL
for t in "${TARGETS[@]}"; do
  LABEL[$t]=$("target_$t" label)
  say "setting up ${LABEL[$t]}"
  _ACTIVE+=("$t")
  "target_$t" setup || die "setting up ${LABEL[$t]} failed"
  f=$("target_$t" path)
  # lay the file out: write it fully once (1 MiB, O_DIRECT) so that reads hit real data
  say "writing ${LABEL[$t]} test file fully ($f)"
  fio_run "$SCRATCH/layout-$t.json" "$f" --rw=write --bs=1M --ioengine=psync --direct=1 --end_fsync=1 \
    || die "laying out the ${LABEL[$t]} test file failed"
done

declare -A RESULT
for w in "${WORKLOADS[@]}"; do
  wlabel=$("wl_$w" label)
  unit=$("wl_$w" unit)
  "wl_$w" args
  declare -A vals=()
  for ((r = 1; r <= RUNS; r++)); do
    for t in "${TARGETS[@]}"; do
      f=$("target_$t" path)
      drop_caches
      out=$SCRATCH/$w-$t-$r.json
      fio_run "$out" "$f" "${FIO_ARGS[@]}" || die "$wlabel on ${LABEL[$t]} failed"
      v=$(metric "$unit" "$out")
      vals[$t]="${vals[$t]:-} $v"
      say "$wlabel, ${LABEL[$t]}, run $r/$RUNS: $(fmt "$v")"
    done
  done
  for t in "${TARGETS[@]}"; do
    # shellcheck disable=SC2086
    RESULT[$w,$t]=$(median ${vals[$t]})
  done
  unset vals
done

base=${TARGETS[0]}

# 4 KiB O_DIRECT random read at the pair's secondary (site b), with the randread row: reads are served locally there
secondary_line=""
if has_target pair && [[ " ${WORKLOADS[*]} " == *" randread "* ]]; then
  f=$(target_pair secondary)
  wl_randread args
  sec_vals=""
  for ((r = 1; r <= RUNS; r++)); do
    drop_caches
    out=$SCRATCH/randread-secondary-$r.json
    fio_run "$out" "$f" "${FIO_ARGS[@]}" || die "random read at the pair's secondary failed"
    v=$(metric read_iops "$out")
    sec_vals+=" $v"
    say "rand read 4K direct, ${LABEL[pair]} at the secondary (site b), run $r/$RUNS: $(fmt "$v")"
  done
  # shellcheck disable=SC2086
  sec=$(median $sec_vals)
  secondary_line="$(wl_randread label) at the pair's secondary (site b): $(fmt "$sec") ($(python3 -c '
import sys
v, b = float(sys.argv[1]), float(sys.argv[2])
print("%.2f" % (v / b) if b > 0 else "n/a")' "$sec" "${RESULT[randread,$base]}") of ${LABEL[$base]}'s $(fmt "${RESULT[randread,$base]}"))"
fi

# peak RSS of the benchmark's pairfs daemons, before they are stopped
hwm_of() { [ -n "$1" ] && [ -r "/proc/$1/status" ] && awk '/^VmHWM:/ {print int($2 / 1024)}' "/proc/$1/status"; }
bench_hwm=$(hwm_of "${PAIRFS_PID_bench:-}" || true)
pair_hwm=""
if [ -n "${PAIRFS_PID_pair_a:-}" ]; then
  pair_hwm="site a $(hwm_of "$PAIRFS_PID_pair_a" || echo '?') MiB, site b $(hwm_of "${PAIRFS_PID_pair_b:-}" || echo '?') MiB"
fi

for ((i = ${#_ACTIVE[@]} - 1; i >= 0; i--)); do "target_${_ACTIVE[$i]}" teardown; done
_ACTIVE=()

rss_line=""
if [ "$RSS" != 0 ]; then
  say "peak RSS: writing a $RSS_SIZE pairfs volume fully (1 MiB, O_DIRECT) with a fresh pairfs"
  pairfs_start rss || die "starting pairfs for the RSS measurement failed"
  pairctl_site rss volume create vol "$RSS_BYTES" >/dev/null
  FIO_SIZE=$RSS_BYTES fio_run "$SCRATCH/rss.json" "$SCRATCH/rss-mnt/vol" --rw=write --bs=1M --ioengine=psync \
    --direct=1 --end_fsync=1 || die "writing the $RSS_SIZE volume failed"
  rss_mbps=$(metric seq_mbps "$SCRATCH/rss.json")
  hwm=$(awk '/^VmHWM:/ {print int($2 / 1024)}' "/proc/$PAIRFS_PID_rss/status")
  rss_line="pairfs peak RSS, $RSS_SIZE volume written: $hwm MiB (VmHWM; written at $(fmt "$rss_mbps") MB/s)"
  pairfs_stop rss
  rm -rf --one-file-system "$SCRATCH/rss-data"
fi

# initial copy and resync (BENCH_COPY)
copy_lines=()
mbps() { python3 -c 'import sys; print("%.0f" % (int(sys.argv[1]) / float(sys.argv[2]) / 1e6))' "$1" "$2"; }
elapsed() { python3 -c 'import sys; print("%.1f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$2"; }
last_copying() { grep -o 'copying [0-9]* bytes' "$1" | tail -1 | cut -d' ' -f2; }
if [ "$COPY" != 0 ]; then
  # cp of a random file on the same disk: the time of cp and of the fsync of the copy
  src=$SCRATCH/copy-src dst=$SCRATCH/copy-dst
  say "copy: writing a $COPY_SIZE random file, then cp of it on the same disk"
  FIO_SIZE=$COPY_BYTES fio_run "$SCRATCH/copy-src.json" "$src" --rw=write --bs=1M --ioengine=psync --direct=1 \
    --refill_buffers --end_fsync=1 || die "writing the random file failed"
  drop_caches
  t0=$(now)
  cp --sparse=never "$src" "$dst"
  sync "$dst"
  t1=$(now)
  cp_s=$(elapsed "$t0" "$t1") cp_mbps=$(mbps "$COPY_BYTES" "$(elapsed "$t0" "$t1")")
  rm -f "$src" "$dst"
  say "cp: $cp_mbps MB/s ($cp_s s)"

  say "copy: a $COPY_SIZE volume at site a of a fresh pair, filled with random data, then paired"
  pair_start copy_a copy_b 7420 || die "starting the two pairfs sites failed"
  pairctl_site copy_a volume create vol "$COPY_BYTES" >/dev/null
  FIO_SIZE=$COPY_BYTES fio_run "$SCRATCH/copy-fill.json" "$SCRATCH/copy_a-mnt/vol" --rw=write --bs=1M --ioengine=psync \
    --direct=1 --refill_buffers --end_fsync=1 || die "filling the volume failed"
  drop_caches
  t0=$(now)
  pairctl_site copy_a create vol --mode sync >/dev/null || die "pairctl create failed"
  pairctl_site copy_a wait vol --status PAIR --timeout 3600 >/dev/null || die "the initial copy did not reach PAIR"
  t1=$(now)
  init_s=$(elapsed "$t0" "$t1") init_mbps=$(mbps "$COPY_BYTES" "$(elapsed "$t0" "$t1")")
  init_copied=$(last_copying "$SCRATCH/copy_a.log")
  say "initial copy: $init_mbps MB/s ($init_s s, copied ${init_copied:-?} bytes)"
  copy_lines+=("initial copy of a $COPY_SIZE volume of random data (pairctl create to PAIR): $init_mbps MB/s ($init_s s; the primary copied ${init_copied:-?} bytes)")
  copy_lines+=("cp of a $COPY_SIZE random file on the same disk (cp + fsync, page cache dropped): $cp_mbps MB/s ($cp_s s); initial copy / cp = $(python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$init_mbps" "$cp_mbps")")

  # resync after 1% of the regions changed
  region=$(pairctl_site copy_a --json volume list | python3 -c '
import json, sys
v = [v for v in json.load(sys.stdin) if v["name"] == "vol"][0]
print(v.get("region_size_bytes") or 65536)')
  sleep 3   # the activity log forgets regions once both copies flushed them (every 2 s)
  pairctl_site copy_a split vol >/dev/null || die "split failed"
  read -r changed regions < <(python3 - "$SCRATCH/copy_a-mnt/vol" "$COPY_BYTES" "$region" <<'PY'
import os, sys
path, size, region = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
regions = size // region
n = max(1, regions // 100)          # 1% of the regions
stride = regions // n               # spread over the whole volume
fd = os.open(path, os.O_WRONLY)
for i in range(n):
    os.pwrite(fd, os.urandom(4096), i * stride * region + (i % max(1, region // 4096)) * 4096)
os.fsync(fd)
os.close(fd)
print(n, regions)
PY
  ) || die "writing 1% of the regions failed"
  dirty=$(pair_field copy_a vol dirty_bytes)
  t0=$(now)
  pairctl_site copy_a resync vol >/dev/null || die "resync failed"
  pairctl_site copy_a wait vol --status PAIR --timeout 3600 >/dev/null || die "the resync did not reach PAIR"
  t1=$(now)
  resync_s=$(elapsed "$t0" "$t1")
  copied=$(last_copying "$SCRATCH/copy_a.log")
  pct=$(python3 -c 'import sys; print("%.2f" % (100.0 * int(sys.argv[1]) / int(sys.argv[2])))' "${copied:-0}" "$COPY_BYTES")
  say "resync: copied ${copied:-?} bytes ($pct%) in $resync_s s"
  copy_lines+=("resync after 1% of the regions changed (4 KiB into $changed of $regions regions of $((region >> 10)) KiB, spread): copied ${copied:-?} bytes = $pct% of the volume, in $resync_s s (dirty_bytes at a before: $dirty)")
  pairfs_stop copy_a
  pairfs_stop copy_b
  rm -rf --one-file-system "$SCRATCH/copy_a-data" "$SCRATCH/copy_b-data"
fi

# ---------------------------------------------------------------------------------------------
# the table (stdout)

table() {
  local w t cell
  declare -A width
  width[$base]=$(( ${#LABEL[$base]} + 2 > 12 ? ${#LABEL[$base]} + 2 : 12 ))
  for t in "${TARGETS[@]:1}"; do
    width[$t]=$(( ${#LABEL[$t]} + 10 > 22 ? ${#LABEL[$t]} + 10 : 22 ))
  done
  printf '%-36s%-*s' "workload" "${width[$base]}" "${LABEL[$base]}"
  for t in "${TARGETS[@]:1}"; do printf '%-*s' "${width[$t]}" "${LABEL[$t]} (ratio)"; done
  printf '\n'
  for w in "${WORKLOADS[@]}"; do
    printf '%-36s%-*s' "$("wl_$w" label)" "${width[$base]}" "$(fmt "${RESULT[$w,$base]}")"
    for t in "${TARGETS[@]:1}"; do
      cell=$(python3 -c '
import sys
v, b = float(sys.argv[1]), float(sys.argv[2])
s = ("%.1f" if v < 10 else "%.0f") % v
print("%s (%s)" % (s, "%.2f" % (v / b) if b > 0 else "n/a"))' "${RESULT[$w,$t]}" "${RESULT[$w,$base]}")
      printf '%-*s' "${width[$t]}" "$cell"
    done
    printf '\n'
  done
}
echo
table | sed 's/ *$//'
echo
[ -n "$secondary_line" ] && echo "$secondary_line"
for l in "${copy_lines[@]}"; do echo "$l"; done
[ -n "$rss_line" ] && echo "$rss_line"
[ -n "$bench_hwm" ] && echo "pairfs peak RSS during the runs above: $bench_hwm MiB"
[ -n "$pair_hwm" ] && echo "pairfs PAIR sync peak RSS during the runs above: $pair_hwm"
echo "median of $RUNS run(s); IOPS runs ${SECS} s; file size $SIZE; MB = 10^6 bytes; seq write MB/s includes the final fsync"
has_target bindfs && echo "bindfs ${BINDFS_OPTS[*]}"
{ has_target gluster || has_target gluster_virt; } && echo "GlusterFS $(glusterd --version | awk 'NR == 1 {print $2}'), bricks on host ${GLUSTER_HOST:-?}, FUSE client"
echo "page cache dropped before every run; all targets on $(df --output=source "$TMPBASE" | tail -1) ($TMPBASE)"
