# Sourced by scripts/bench.sh before anything starts: validates the BENCH_* settings and the tools
# the chosen targets need; dies with a message naming the fix. Defines has_target and to_bytes.

[ "$(id -u)" -eq 0 ] || die "needs root (it drops the page cache and mounts FUSE file systems); run: sudo $0"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer, not '$RUNS'"
[[ $SECS =~ ^[1-9][0-9]*$ ]] || die "BENCH_SECONDS must be a positive integer, not '$SECS'"
[ ${#TARGETS[@]} -gt 0 ] || die "BENCH_TARGETS is empty"
[[ $WAN_DELAY_MS =~ ^[0-9]+$ ]] || die "BENCH_WAN_DELAY_MS must be a whole number of ms, not '$WAN_DELAY_MS'"
[[ $WAN_RATE_MBPS =~ ^[0-9]+([.][0-9]+)?$ ]] || die "BENCH_WAN_RATE_MBPS must be a number of MB/s, not '$WAN_RATE_MBPS'"
for setting in ASYNC_LAG_RATE ASYNC_LAG_SECONDS ASYNC_CUT_SECONDS ASYNC_CUT_RATE; do
  [[ ${!setting} =~ ^[1-9][0-9]*$ ]] || die "BENCH_$setting must be a positive integer, not '${!setting}'"
done
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
JOURNAL_BYTES=$(to_bytes "$JOURNAL_SIZE") || die "BENCH_JOURNAL_SIZE must be a size like 1G, not '$JOURNAL_SIZE'"
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
if has_target pairfs_ref || has_target pair_ref || has_target pair_async_wan_ref; then
  [ -n "$REF_PAIRFS" ] && [ -x "$REF_PAIRFS" ] || die "the *_ref targets need BENCH_REF_PAIRFS: a pairfs program to compare with (e.g. a copy of an earlier build/pairfs)"
fi
{ has_target pair_wan || has_target pair_async_wan || has_target pair_async_wan_ref || [ "$ASYNC" != 0 ]; } && { [ -x "$WAN_PROXY" ] || die "$WAN_PROXY not built; run: make build/tools/wan_proxy"; }
[ "${BENCH_LINK_RTT:-1}" = 0 ] || [ -x "$LINK_RTT" ] || die "$LINK_RTT not built; run: make build/tools/link_rtt (or BENCH_LINK_RTT=0)"
[ -c /dev/fuse ] || die "/dev/fuse missing (modprobe fuse)"
[ -w /proc/sys/vm/drop_caches ] || die "cannot write /proc/sys/vm/drop_caches (a container without it cannot run this benchmark)"
