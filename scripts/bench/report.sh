# Sourced by scripts/bench.sh: the report on stdout (the table, then the lines after it).

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
# bench_print_report: the table and every line the measurements set.
bench_print_report() {
  echo
  table | sed 's/ *$//'
  echo
  [ -n "$secondary_line" ] && echo "$secondary_line"
  [ -n "${pg_line:-}" ] && echo "$pg_line"
  for l in "${link_rtt_lines[@]}"; do echo "$l"; done
  for l in "${copy_lines[@]}"; do echo "$l"; done
  for l in "${async_lines[@]}"; do echo "$l"; done
  for l in "${STAGE_LINES[@]}"; do echo "$l"; done
  [ -n "$rss_line" ] && echo "$rss_line"
  [ -n "$bench_hwm" ] && echo "pairfs peak RSS during the runs above: $bench_hwm MiB"
  [ -n "$pair_hwm" ] && echo "pairfs PAIR sync peak RSS during the runs above: $pair_hwm"
  echo "median of $RUNS run(s); IOPS runs ${SECS} s; file size $SIZE; MB = 10^6 bytes; seq write MB/s includes the final fsync"
  has_target bindfs && echo "bindfs ${BINDFS_OPTS[*]}"
  { has_target gluster || has_target gluster_virt; } && echo "GlusterFS $(glusterd --version | awk 'NR == 1 {print $2}'), bricks on host ${GLUSTER_HOST:-?}, FUSE client"
  echo "page cache dropped before every run; an async pair's secondary caught up after each (none runs during another target's run); all targets on $(df --output=source "$TMPBASE" | tail -1) ($TMPBASE)"
  echo "load average at the start: $LOAD_AT_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine: compare only ratios of one run)"
}
