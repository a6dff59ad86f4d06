#!/usr/bin/env bash
# CPU seconds per GB of a replicated sequential write, per process, with and without CURVE: a
# figure that does not depend on how loaded the (shared) machine is, unlike bench.sh's MB/s.
#
#   scripts/bench_cpu.sh                       # needs root (FUSE mounts), like bench.sh
#   CPU_TARGETS="pair pair_curve" CPU_SIZE=1G CPU_BS=1M CPU_RUNS=3 scripts/bench_cpu.sh
#
# For each target (bench.sh's pair targets: pair, pair_curve, pair_ref, ...; and pair_curve_ref,
# pair_curve with BENCH_REF_PAIRFS), sets the pair up
# (scripts/bench/targets.sh), then CPU_RUNS times writes CPU_SIZE to the primary's file with dd
# (CPU_BS blocks, conv=fsync, overwriting the file in place) and reads utime+stime
# (/proc/PID/stat) of the two pairfs daemons before and after. Prints, per run: CPU s per GB
# (10^9 bytes) at a, at b, and of dd (the writer's own syscalls, FUSE's copies in the kernel are
# charged to it), and the wall-clock MB/s (noisy on a shared machine). With CPU_PERF=1, the run
# is also recorded with `perf record -g` per daemon ($CPU_PERF_DIR/TARGET-SITE.data).
#
# Async pairs (pair_async_wan): a run ends only once the secondary applied everything (the
# primary's journal_lag_bytes is 0) and a checkpoint had time to run, so the transfer and the
# restore are counted too; a fresh async pair first waits CPU_ASYNC_SETTLE seconds (15) for the
# journal's background fill. CPU_WORKLOAD=rand writes CPU_OPS (2000) random 4 KiB blocks, each
# followed by an fsync (fio psync, as bench.sh's randwrite_fsync) instead of dd. Per run also:
# CPU µs per op (op: one dd block or one 4 KiB write+fsync) and context switches per op at each
# site. CPU_STRACE=1 runs `strace -c -f` on both daemons during run 1 (slow: that run's other
# figures are not comparable) and prints the syscalls per op ($CPU_PERF_DIR/TARGET-SITE.strace).
# CPU_DSYNC=1 is CPU_WORKLOAD=rand (its older name). With CPU_LOGS=DIR, the daemons' logs are
# copied to DIR at the end (PAIRFS_TRACE_WRITES=N in the environment makes them log the stage
# times of their first N operations: man/pairfs.8).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_PARTS=$ROOT/scripts/bench
PAIRFS=$ROOT/build/pairfs
PAIRCTL=$ROOT/build/pairctl
WAN_PROXY=$ROOT/build/tools/wan_proxy
read -r -a TARGETS <<< "${CPU_TARGETS:-pair pair_curve}"
SIZE=${CPU_SIZE:-1G}
BS=${CPU_BS:-1M}
RUNS=${CPU_RUNS:-3}
TMPBASE=${BENCH_TMPDIR:-/var/tmp}
REF_PAIRFS=${BENCH_REF_PAIRFS:-}
JOURNAL_SIZE=${BENCH_JOURNAL_SIZE:-1G}  # [journal] size of the sites, as bench.sh
WAN_DELAY_MS=10 WAN_RATE_MBPS=0
PERF=${CPU_PERF:-0}
PERF_DIR=${CPU_PERF_DIR:-/var/tmp}
WORKLOAD=${CPU_WORKLOAD:-seq}
[ "${CPU_DSYNC:-0}" = 1 ] && WORKLOAD=rand
OPS=${CPU_OPS:-2000}
STRACE=${CPU_STRACE:-0}
ASYNC_SETTLE=${CPU_ASYNC_SETTLE:-15}
say() { echo "bench_cpu: $*" >&2; }
die() { echo "bench_cpu: error: $*" >&2; exit 1; }

# shellcheck source=scripts/bench/processes.sh
. "$BENCH_PARTS/processes.sh"
# shellcheck source=scripts/bench/sites.sh
. "$BENCH_PARTS/sites.sh"
# shellcheck source=scripts/bench/targets.sh
. "$BENCH_PARTS/targets.sh"
# pair_curve with BENCH_REF_PAIRFS (a before/after of CURVE in one run, like pair_ref)
target_pair_curve_ref() {
  case $1 in
    label) echo "PAIR sync+CURVE (ref)" ;;
    *) PAIRFS_BIN=$REF_PAIRFS pair_target paircr_a paircr_b 7500 curve "$1" ;;
  esac
}
gluster_daemon_stop() { :; }
hosts_restore() { :; }

to_bytes() { numfmt --from=iec "$1"; }
SIZE_BYTES=$(to_bytes "$SIZE")
BS_BYTES=$(to_bytes "$BS")
COUNT=$((SIZE_BYTES / BS_BYTES))
if [ "$WORKLOAD" = rand ]; then OP_COUNT=$OPS OP_BYTES=$((OPS * 4096)); else OP_COUNT=$COUNT OP_BYTES=$SIZE_BYTES; fi

# write_load PATH: the run's writes (dd, or fio for CPU_WORKLOAD=rand)
write_load() {
  if [ "$WORKLOAD" = rand ]; then
    fio --name=cpu --filename="$1" --size="$SIZE_BYTES" --fallocate=none --rw=randwrite --bs=4k \
      --ioengine=psync --iodepth=1 --fsync=1 --number_ios="$OPS" --output=/dev/null
  else
    dd if=/dev/zero of="$1" bs="$BS" count="$COUNT" conv=fsync,notrunc status=none
  fi
}
# is_async TARGET: whether the target is an async pair (its runs wait for the secondary)
is_async() { [[ $1 == *async* ]]; }
# drain TARGET SITE: until the secondary applied every write (lag 0), then a checkpoint's interval
drain() {
  local _
  is_async "$1" || return 0
  for _ in $(seq 600); do
    [ "$(pair_field "$2" bench journal_lag_bytes 2>/dev/null)" = 0 ] && break
    sleep 0.1
  done
  sleep 1.2
}

# cpu_ticks PID: utime+stime of the whole process (all threads), in clock ticks
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# minor_faults PID: page faults served without I/O (fresh pages of the allocator, mostly)
minor_faults() { awk '{ print $10 }' "/proc/$1/stat"; }
# switches PID: voluntary + involuntary context switches of all its threads
switches() {
  cat "/proc/$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { n += $2 } END { print n + 0 }'
}
HZ=$(getconf CLK_TCK)

SCRATCH=$(mktemp -d "$TMPBASE/pairfs-benchcpu.XXXXXX")
_PIDS=() _MOUNTS=() _ACTIVE=()
trap cleanup EXIT
trap 'echo "bench_cpu: interrupted" >&2; exit 130' INT
trap 'echo "bench_cpu: terminated" >&2; exit 143' TERM

echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg); $SIZE in $BS blocks, $RUNS runs"
echo "workload: $WORKLOAD ($OP_COUNT ops of $((OP_BYTES / OP_COUNT)) bytes)"
printf '%-14s %4s %8s %8s %8s %7s %9s %9s %9s %9s %8s %8s %7s %7s\n' target run "a s/GB" "b s/GB" "dd s/GB" "MB/s" \
  "a flt/MB" "b flt/MB" "a cs/MB" "b cs/MB" "a us/op" "b us/op" "a cs/op" "b cs/op"
declare -A PID_A PID_B PATH_OF NAME_A
for t in "${TARGETS[@]}"; do
  _ACTIVE+=("$t")
  "target_$t" setup || die "setup of $t failed"
  PATH_OF[$t]=$("target_$t" path)
  read -r na nb <<< "$(declare -f "target_$t" | grep -o 'pair_target [a-z_]* [a-z_]*' | awk '{print $2, $3}')"
  pa_var=PAIRFS_PID_$na pb_var=PAIRFS_PID_$nb
  PID_A[$t]=${!pa_var} PID_B[$t]=${!pb_var} NAME_A[$t]=$na
  dd if=/dev/zero of="${PATH_OF[$t]}" bs="$BS" count="$COUNT" conv=fsync,notrunc status=none  # layout
  if is_async "$t"; then sleep "$ASYNC_SETTLE"; drain "$t" "$na"; fi
done
# Runs alternate between targets, so that a drift of the machine's load favours none.
for run in $(seq "$RUNS"); do
  for t in "${TARGETS[@]}"; do
    path=${PATH_OF[$t]} pa=${PID_A[$t]} pb=${PID_B[$t]}
    perf_pids=()
    if [ "$PERF" = 1 ] && [ "$run" = 1 ]; then
      perf record -q -g -o "$PERF_DIR/$t-a.data" -p "$pa" >/dev/null 2>&1 & perf_pids+=($!)
      perf record -q -g -o "$PERF_DIR/$t-b.data" -p "$pb" >/dev/null 2>&1 & perf_pids+=($!)
      sleep 1
    fi
    if [ "$STRACE" = 1 ] && [ "$run" = 1 ]; then
      strace -c -f -o "$PERF_DIR/$t-a.strace" -p "$pa" 2>/dev/null & perf_pids+=($!)
      strace -c -f -o "$PERF_DIR/$t-b.strace" -p "$pb" 2>/dev/null & perf_pids+=($!)
      sleep 1
    fi
    a0=$(cpu_ticks "$pa") b0=$(cpu_ticks "$pb")
    fa0=$(minor_faults "$pa") fb0=$(minor_faults "$pb") ca0=$(switches "$pa") cb0=$(switches "$pb")
    start=$(date +%s.%N)
    dd_times=$( { TIMEFORMAT='%U %S'; time write_load "$path"; } 2>&1 | tail -1 )
    dd_ticks=$(awk -v hz="$HZ" '{ printf "%d", ($1 + $2) * hz }' <<< "$dd_times")
    end=$(date +%s.%N)
    drain "$t" "${NAME_A[$t]}"
    a1=$(cpu_ticks "$pa") b1=$(cpu_ticks "$pb")
    fa=$(($(minor_faults "$pa") - fa0)) fb=$(($(minor_faults "$pb") - fb0))
    ca=$(($(switches "$pa") - ca0)) cb=$(($(switches "$pb") - cb0))
    for p in "${perf_pids[@]}"; do kill -INT "$p"; wait "$p" || true; done
    if [ "$STRACE" = 1 ] && [ "$run" = 1 ]; then
      for site in a b; do
        echo "syscalls per op at $site ($t, top 8):"
        awk -v n="$OP_COUNT" '$1 ~ /^[0-9.]+$/ && NF >= 5 { printf "  %-18s %8.2f\n", $NF, $4 / n }' \
          "$PERF_DIR/$t-$site.strace" | sort -k2 -rn | head -8
      done
    fi
    awk -v t="$t" -v r="$run" -v a=$((a1 - a0)) -v b=$((b1 - b0)) -v d="$dd_ticks" -v hz="$HZ" \
        -v bytes="$OP_BYTES" -v ops="$OP_COUNT" -v s="$start" -v e="$end" -v fa="$fa" -v fb="$fb" -v ca="$ca" \
        -v cb="$cb" 'BEGIN {
      gb = bytes / 1e9; mb = bytes / 1e6
      printf "%-14s %4d %8.2f %8.2f %8.2f %7.0f %9.1f %9.1f %9.1f %9.1f %8.1f %8.1f %7.2f %7.2f\n", t, r,
        a / hz / gb, b / hz / gb, d / hz / gb, mb / (e - s), fa / mb, fb / mb, ca / mb, cb / mb,
        a / hz / ops * 1e6, b / hz / ops * 1e6, ca / ops, cb / ops
    }'
  done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${CPU_LOGS:-}" ]; then
  mkdir -p "$CPU_LOGS" && cp "$SCRATCH"/*.log "$CPU_LOGS"/
fi
