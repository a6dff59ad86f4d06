# Sourced by scripts/bench.sh: the table's runs. Targets are set up once, then every workload runs
# BENCH_RUNS times on every target, alternating targets, and RESULT[WORKLOAD,TARGET] is the median.

# bench_check_names: every BENCH_TARGETS and BENCH_WORKLOADS name is known, else die.
bench_check_names() {
  for t in "${TARGETS[@]}"; do
    declare -F "target_$t" >/dev/null || die "unknown target '$t' in BENCH_TARGETS (known: $DEFAULT_TARGETS)"
  done
  for w in "${WORKLOADS[@]}"; do
    declare -F "wl_$w" >/dev/null || die "unknown workload '$w' in BENCH_WORKLOADS"
  done
}

# disk: BENCH_SIZE per target (two copies for the pair and the replica-2 GlusterFS volumes, on this
# one disk), then either the RSS volume or the copy measurement (a random file and its cp copy, then
# the two copies of the pair)
bench_check_space() {
  need=$((256 << 20))
  for t in "${TARGETS[@]}"; do
    case $t in
      pair | pair_ref | pair_curve | pair_wan | gluster | gluster_virt) need=$((need + 2 * SIZE_BYTES)) ;;
      pair_async | pair_async_wan | pair_async_wan_ref | pair_async_stalled)
        need=$((need + 2 * SIZE_BYTES + 2 * JOURNAL_BYTES)) ;;
      *) need=$((need + SIZE_BYTES)) ;;
    esac
  done
  # the async measurements' pair: two copies of BENCH_SIZE and two journals
  [ "$ASYNC" != 0 ] && need=$((need + 2 * SIZE_BYTES + 2 * JOURNAL_BYTES))
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
}

# bench_setup_targets: sets up every target (LABEL[TARGET]) and writes its test file fully once.
bench_setup_targets() {
  declare -gA LABEL
  for t in "${TARGETS[@]}"; do
    LABEL[$t]=$("target_$t" label)
    say "setting up ${LABEL[$t]}"
    _ACTIVE+=("$t")
    "target_$t" setup || die "setting up ${LABEL[$t]} failed"
    f=$("target_$t" path)
    if [ "$LAYOUT" != 0 ]; then
      # lay the file out: write it fully once (1 MiB, O_DIRECT) so that reads hit real data
      say "writing ${LABEL[$t]} test file fully ($f)"
      fio_run "$SCRATCH/layout-$t.json" "$f" --rw=write --bs=1M --ioengine=psync --direct=1 --end_fsync=1 \
        || die "laying out the ${LABEL[$t]} test file failed"
    fi
    "target_$t" ready || die "${LABEL[$t]}: getting ready after the layout failed"
    "target_$t" settle || true
  done
}

# bench_run_workloads: the table's figures, RESULT[WORKLOAD,TARGET] (median of BENCH_RUNS runs),
# and PACED[WORKLOAD,TARGET]: how many runs a pair target ended in PFUL or PFUS (its journal past
# the high-water mark: the writes were paced to the drain rate, or the group suspended), the last
# such status in PACED_STATUS[WORKLOAD,TARGET].
bench_run_workloads() {
  declare -gA RESULT PACED PACED_STATUS
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
        status=$("target_$t" status 2>/dev/null || true)
        "target_$t" settle || true  # an async pair's backlog drains before the next run
        note=
        if [ "$status" = PFUL ] || [ "$status" = PFUS ]; then
          PACED[$w,$t]=$((${PACED[$w,$t]:-0} + 1))
          PACED_STATUS[$w,$t]=$status
          note=", status $status"
        fi
        say "$wlabel, ${LABEL[$t]}, run $r/$RUNS: $(fmt "$v") (load $(cut -d' ' -f1-3 /proc/loadavg)$note)"
      done
    done
    for t in "${TARGETS[@]}"; do
      # shellcheck disable=SC2086
      RESULT[$w,$t]=$(median ${vals[$t]})
    done
    unset vals
  done
}

# bench_stage_lines: (BENCH_STAGES) after the pair targets' teardown, the write path's stage
# latencies each of their sites logged at unmount (node/latency_histogram.h), as lines of the
# report. They count every write since the mount: with BENCH_LAYOUT=0 and one workload, only
# that workload's.
bench_stage_lines() {
  STAGE_LINES=()
  [ "$STAGES" = 0 ] && return 0
  local t site log line
  for t in "${TARGETS[@]}"; do
    for site in a b; do
      case $t in
        pair) log=$SCRATCH/pair_$site.log ;;
        pair_ref) log=$SCRATCH/pairr_$site.log ;;
        pair_curve) log=$SCRATCH/pairc_$site.log ;;
        *) continue ;;
      esac
      line=$(grep -o 'stage latencies since the mount: .*' "$log" 2>/dev/null | tail -1 | sed 's/^stage latencies since the mount: //')
      STAGE_LINES+=("stages ${LABEL[$t]} site $site: ${line:-none logged}")
    done
  done
}
