# Sourced by scripts/bench.sh: the table's rows (workloads wl_NAME label|unit|args), fio runs and
# the figure of a run.

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

# Pipelined clients (qemu aio=native, databases): 32 writes in flight from one job.
wl_randwrite_qd32() {
  case $1 in
    label) echo "rand write 4K direct aio qd32 (IOPS)" ;;
    unit) echo write_iops ;;
    args) FIO_ARGS=(--rw=randwrite --bs=4k --ioengine=libaio --iodepth=32 --direct=1 --time_based --runtime="$SECS") ;;
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
