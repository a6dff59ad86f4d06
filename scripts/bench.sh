#!/usr/bin/env bash
# pairfs benchmark: fio side by side on the same disk, one table with ratios against a plain file.
#
#   make bench                      # or: scripts/bench.sh (needs root: drop_caches, FUSE mounts)
#
# Targets (columns), all kept in one scratch directory under /var/tmp, so on the same disk:
#   plain   a plain file on the local file system: the limit
#   bindfs  bindfs -o big_writes --forward-odirect=4096 over a local directory: a plain FUSE pass-through
#   pairfs  a pairfs volume (one site, no pair)
# Workloads (rows): sequential write 1 MiB blocks + final fsync (MB/s), 4 KiB random write with an
# fsync after each write (IOPS), 4 KiB O_DIRECT random read (IOPS), 4 KiB O_DIRECT random write by
# 4 jobs (IOPS). Each cell is the median of BENCH_RUNS runs; runs alternate between targets so that a
# drift of the machine does not favour one column. The page cache is dropped before every run.
# Then pairfs's peak RSS (VmHWM) once a 16 GiB volume has been written fully.
#
# Environment (defaults in brackets); small values make a quick smoke run:
#   BENCH_RUNS [3]        runs per cell, the median is reported
#   BENCH_SECONDS [10]    length of each time-based (IOPS) run
#   BENCH_SIZE [1G]       test file / volume size, and the size of the sequential write (K/M/G)
#   BENCH_RSS [1]         0 skips the peak-RSS measurement
#   BENCH_RSS_SIZE [16G]  volume size for the peak-RSS measurement
#   BENCH_TMPDIR [/var/tmp]  where the scratch directory is made (mktemp -d)
#   e.g. BENCH_SIZE=256M BENCH_SECONDS=3 BENCH_RUNS=1 BENCH_RSS=0 scripts/bench.sh
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
# and add NAME to TARGETS. The first target is the baseline of the ratios.
# Adding a workload (a row): one function wl_NAME (label, unit, fio args) and NAME in WORKLOADS.
set -euo pipefail

TARGETS=(plain bindfs pairfs)
WORKLOADS=(seqwrite randwrite_fsync randread randwrite_4jobs)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PAIRFS=$ROOT/build/pairfs
PAIRCTL=$ROOT/build/pairctl

RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECONDS:-10}
SIZE=${BENCH_SIZE:-1G}
RSS=${BENCH_RSS:-1}
RSS_SIZE=${BENCH_RSS_SIZE:-16G}
TMPBASE=${BENCH_TMPDIR:-/var/tmp}

say() { echo "bench: $*" >&2; }
die() { echo "bench: error: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# checks

[ "$(id -u)" -eq 0 ] || die "needs root (it drops the page cache and mounts FUSE file systems); run: sudo $0"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer, not '$RUNS'"
[[ $SECS =~ ^[1-9][0-9]*$ ]] || die "BENCH_SECONDS must be a positive integer, not '$SECS'"

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

for tool in fio bindfs python3 mountpoint; do
  command -v "$tool" >/dev/null || die "$tool not found; run: make deps (or apt-get install -y fio bindfs python3 util-linux)"
done
for bin in "$PAIRFS" "$PAIRCTL"; do
  [ -x "$bin" ] || die "$bin not built; run: make all"
done
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
# pairfs_start NAME: config $SCRATCH/NAME.toml, data $SCRATCH/NAME-data, mount $SCRATCH/NAME-mnt;
# sets PAIRFS_PID_NAME.
pairfs_start() {
  local name=$1 data=$SCRATCH/$1-data mnt=$SCRATCH/$1-mnt conf=$SCRATCH/$1.toml log=$SCRATCH/$1.log pid _
  mkdir -p "$data" "$mnt"
  cat > "$conf" <<TOML
[site]
name = "a"
data_dir = "$data"
control = "ipc://$data/control.sock"
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

# pairfs_stop NAME: SIGTERM its pairfs (which unmounts), wait; clear a leftover mount.
pairfs_stop() {
  local name=$1 var=PAIRFS_PID_$1
  local pid=${!var:-}
  [ -n "$pid" ] && stop_pid "$pid"
  unmount "$SCRATCH/$name-mnt" 2>/dev/null || true
  printf -v "$var" '%s' ""
}

pairctl_site() { local name=$1; shift; "$PAIRCTL" -c "$SCRATCH/$name.toml" "$@"; }

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
# fallocate); fails with fio's messages if fio or a job reports an error.
fio_run() {
  local out=$1 file=$2; shift 2
  if ! fio --name=bench --filename="$file" --size="$SIZE_BYTES" --fallocate=none \
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

need=$((SIZE_BYTES * ${#TARGETS[@]} + (256 << 20)))
[ "$RSS" != 0 ] && need=$((need + RSS_BYTES))
avail=$(($(df --output=avail -B1 "$SCRATCH" | tail -1)))
((avail >= need)) || die "$SCRATCH has $((avail >> 20)) MiB free; the benchmark needs $((need >> 20)) MiB"

say "scratch $SCRATCH ($(df --output=source,fstype "$SCRATCH" | tail -1 | tr -s ' '))"
say "runs $RUNS, ${SECS} s per IOPS run, size $SIZE ($SIZE_BYTES bytes), $(fio --version), bindfs $(bindfs --version 2>&1 | awk '{print $2; exit}')"

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

# peak RSS of the benchmark's pairfs, before it is stopped
bench_hwm=""
if [ -n "${PAIRFS_PID_bench:-}" ] && [ -r "/proc/$PAIRFS_PID_bench/status" ]; then
  bench_hwm=$(awk '/^VmHWM:/ {print int($2 / 1024)}' "/proc/$PAIRFS_PID_bench/status")
fi

for ((i = ${#_ACTIVE[@]} - 1; i >= 0; i--)); do "target_${_ACTIVE[$i]}" teardown; done
_ACTIVE=()

rss_line=""
if [ "$RSS" != 0 ]; then
  say "peak RSS: writing a $RSS_SIZE pairfs volume fully (1 MiB, O_DIRECT) with a fresh pairfs"
  pairfs_start rss || die "starting pairfs for the RSS measurement failed"
  pairctl_site rss volume create vol "$RSS_BYTES" >/dev/null
  SIZE_BYTES_SAVED=$SIZE_BYTES SIZE_BYTES=$RSS_BYTES
  fio_run "$SCRATCH/rss.json" "$SCRATCH/rss-mnt/vol" --rw=write --bs=1M --ioengine=psync --direct=1 --end_fsync=1 \
    || die "writing the $RSS_SIZE volume failed"
  SIZE_BYTES=$SIZE_BYTES_SAVED
  rss_mbps=$(metric seq_mbps "$SCRATCH/rss.json")
  hwm=$(awk '/^VmHWM:/ {print int($2 / 1024)}' "/proc/$PAIRFS_PID_rss/status")
  rss_line="pairfs peak RSS, $RSS_SIZE volume written: $hwm MiB (VmHWM; written at $(fmt "$rss_mbps") MB/s)"
  pairfs_stop rss
  rm -rf --one-file-system "$SCRATCH/rss-data"
fi

# ---------------------------------------------------------------------------------------------
# the table (stdout)

base=${TARGETS[0]}
table() {
  local w t cell
  printf '%-36s%-12s' "workload" "${LABEL[$base]}"
  for t in "${TARGETS[@]:1}"; do printf '%-22s' "${LABEL[$t]} (ratio)"; done
  printf '\n'
  for w in "${WORKLOADS[@]}"; do
    printf '%-36s%-12s' "$("wl_$w" label)" "$(fmt "${RESULT[$w,$base]}")"
    for t in "${TARGETS[@]:1}"; do
      cell=$(python3 -c '
import sys
v, b = float(sys.argv[1]), float(sys.argv[2])
s = ("%.1f" if v < 10 else "%.0f") % v
print("%s (%s)" % (s, "%.2f" % (v / b) if b > 0 else "n/a"))' "${RESULT[$w,$t]}" "${RESULT[$w,$base]}")
      printf '%-22s' "$cell"
    done
    printf '\n'
  done
}
echo
table | sed 's/ *$//'
echo
[ -n "$rss_line" ] && echo "$rss_line"
[ -n "$bench_hwm" ] && echo "pairfs peak RSS during the runs above: $bench_hwm MiB"
echo "median of $RUNS run(s); IOPS runs ${SECS} s; file size $SIZE; MB = 10^6 bytes; seq write MB/s includes the final fsync"
echo "bindfs ${BINDFS_OPTS[*]}; page cache dropped before every run; all targets on $(df --output=source "$TMPBASE" | tail -1) ($TMPBASE)"
