# Sourced by scripts/bench.sh: the table's columns but GlusterFS (scripts/bench/gluster.sh), each a
# function target_NAME label|setup|path|teardown (see the driver's header).

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
      pair_create "$na" bench "${PAIR_MODE:-sync}" || return 1
      pairctl_site "$na" wait bench --status PAIR --timeout 600 >/dev/null \
        || { say "the pair did not reach PAIR:"; tail -20 "$SCRATCH/$na.log" >&2; return 1; }
      ;;
    path) echo "$SCRATCH/$na-mnt/bench" ;;
    secondary) echo "$SCRATCH/$nb-mnt/bench" ;;
    status) pair_field "$na" bench status 2>/dev/null ;;
    settle)
      # An async pair: until the secondary holds every write of the run (lag 0, at most 120 s),
      # so that its transfer and restore do not run during the next target's run.
      [ "${PAIR_MODE:-sync}" = async ] || return 0
      local i
      for i in $(seq 0 600); do
        if [ "$(pair_field "$na" bench journal_lag_bytes 2>/dev/null)" = 0 ]; then
          say "$na: the secondary holds every write (journal_lag_bytes 0) after $((i / 5)) s"
          return 0
        fi
        sleep 0.2
      done
      say "$na: the secondary still lags after 120 s; going on"
      ;;
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

# An async pair over loopback (a LAN, or sites in one building): the primary's writes and fsyncs
# wait for its journal only; the transfer's round trip is short, so it ships small batches at once
# unless paced (node/limits.h kAsyncSmallPassMs).
target_pair_async() {
  case $1 in
    label) echo "PAIR async" ;;
    *) PAIR_MODE=async pair_target paira_a paira_b 7500 "" "$1" ;;
  esac
}

# The same WAN with an async pair: the primary's writes and fsyncs wait for its journal only.
target_pair_async_wan() {
  case $1 in
    label) echo "PAIR async WAN ${WAN_DELAY_MS}ms" ;;
    *) PAIR_MODE=async pair_target pairaw_a pairaw_b 7460 wan "$1" ;;
  esac
}

# The async pair across the WAN with its link stalled (the WAN proxy stopped with SIGSTOP once the
# test file is laid out; SIGCONT at teardown): what the primary's writes cost with the secondary's
# work (restore, its fdatasyncs, the transfer's acks) off this machine, as on a site of its own.
# The journal then grows by every write of the runs: keep BENCH_RUNS x BENCH_SECONDS x the IOPS
# below [journal] size x high_water_percent (80% of 1G: ~5 runs of 10 s at 4,000 IOPS of 4 KiB).
# Not in the default list.
target_pair_async_stalled() {
  case $1 in
    label) echo "PAIR async, link stalled" ;;
    setup) PAIR_MODE=async pair_target pairas_a pairas_b 7470 wan setup ;;
    path) echo "$SCRATCH/pairas_a-mnt/bench" ;;
    ready) kill -STOP "$WAN_PID_pairas_a" ;;  # the file is laid out: stall the link
    status) PAIR_MODE=async pair_target pairas_a pairas_b 7470 wan status ;;
    teardown)
      [ -n "${WAN_PID_pairas_a:-}" ] && kill -CONT "$WAN_PID_pairas_a" 2>/dev/null
      PAIR_MODE=async pair_target pairas_a pairas_b 7470 wan teardown
      ;;
  esac
}

# The reference targets: the same as pairfs and pair, with the pairfs program BENCH_REF_PAIRFS (a
# copy of an earlier build) instead of build/pairfs, so that a change is measured before and after
# in one run, the runs alternating (a drift of a shared machine then favours neither).
#   cp build/pairfs /var/tmp/pairfs-before   # before the change; then, after it:
#   BENCH_REF_PAIRFS=/var/tmp/pairfs-before BENCH_TARGETS="pairfs_ref pairfs pair_ref pair" ...
target_pairfs_ref() {
  case $1 in
    label) echo "pairfs (ref)" ;;
    setup)
      PAIRFS_BIN=$REF_PAIRFS pairfs_start bench_ref || return 1
      pairctl_site bench_ref volume create vol "$SIZE_BYTES" >/dev/null
      ;;
    path) echo "$SCRATCH/bench_ref-mnt/vol" ;;
    teardown) pairfs_stop bench_ref ;;
  esac
}

target_pair_ref() {
  case $1 in
    label) echo "PAIR sync (ref)" ;;
    *) PAIRFS_BIN=$REF_PAIRFS pair_target pairr_a pairr_b 7480 "" "$1" ;;
  esac
}

# The async pair across the WAN with BENCH_REF_PAIRFS: an async change measured before and after.
target_pair_async_wan_ref() {
  case $1 in
    label) echo "PAIR async WAN ${WAN_DELAY_MS}ms (ref)" ;;
    *) PAIR_MODE=async PAIRFS_BIN=$REF_PAIRFS pair_target pairawr_a pairawr_b 7490 wan "$1" ;;
  esac
}
