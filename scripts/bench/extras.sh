# Sourced by scripts/bench.sh: the lines after the table: random read at the pair's secondary, peak
# RSS, initial copy and resync, PostgreSQL commits, ZeroMQ's and TCP's round trips. Each function
# sets the line(s) it reports (secondary_line, bench_hwm/pair_hwm, rss_line, copy_lines, pg_line,
# link_rtt_lines); an empty one is not printed.

# 4 KiB O_DIRECT random read at the pair's secondary (site b), with the randread row: reads are served locally there
bench_secondary_read() {
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
}

hwm_of() { [ -n "$1" ] && [ -r "/proc/$1/status" ] && awk '/^VmHWM:/ {print int($2 / 1024)}' "/proc/$1/status"; }
# peak RSS of the benchmark's pairfs daemons, before they are stopped
bench_peak_rss_of_runs() {
  bench_hwm=$(hwm_of "${PAIRFS_PID_bench:-}" || true)
  pair_hwm=""
  if [ -n "${PAIRFS_PID_pair_a:-}" ]; then
    pair_hwm="site a $(hwm_of "$PAIRFS_PID_pair_a" || echo '?') MiB, site b $(hwm_of "${PAIRFS_PID_pair_b:-}" || echo '?') MiB"
  fi
}

# bench_peak_rss: (BENCH_RSS) pairfs's VmHWM once a BENCH_RSS_SIZE volume has been written fully.
bench_peak_rss() {
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
}

mbps() { python3 -c 'import sys; print("%.0f" % (int(sys.argv[1]) / float(sys.argv[2]) / 1e6))' "$1" "$2"; }
elapsed() { python3 -c 'import sys; print("%.1f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$2"; }
last_copying() { grep -o 'copying [0-9]* bytes' "$1" | tail -1 | cut -d' ' -f2; }
# bench_copy: (BENCH_COPY) initial copy and resync
bench_copy() {
  copy_lines=()
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
}

# bench_postgres: (BENCH_PG, on by default) PostgreSQL single-row commits per second, as a database
# user sees them: for each of the targets plain, pairfs, pair and pair_curve that runs, ext4 on a
# loop device over its test file (mount -o loop: the device goes with the umount), a fresh cluster
# (initdb, run as user postgres), one pgbench client for BENCH_SECONDS, each transaction one INSERT
# of one row, synchronous_commit and fsync on. Runs after the table (it overwrites the test files).
# Without PostgreSQL (Debian: postgresql) the line says so.
PG_PORT=5499
bench_postgres() {
  pg_line=""
  [ "${BENCH_PG:-1}" = 0 ] && return 0
  PG_BIN=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -1)
  if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ] || ! command -v pgbench >/dev/null || ! id postgres >/dev/null 2>&1; then
    pg_line="PostgreSQL commits/s: n/a (install the postgresql package)"
    return 0
  fi
  local t tps parts=() base_tps=""
  chmod 711 "$SCRATCH"  # user postgres reaches its data directory and script inside
  for t in "${TARGETS[@]}"; do
    case $t in plain | pairfs | pair | pair_curve) ;; *) continue ;; esac
    pg_commits_on "$t" || die "PostgreSQL on ${LABEL[$t]} failed"
    tps=$PG_TPS
    say "PostgreSQL single-row commits, ${LABEL[$t]}: $tps/s"
    [ -z "$base_tps" ] && base_tps=$tps
    parts+=("${LABEL[$t]} $(fmt "$tps") ($(python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$tps" "$base_tps"))")
  done
  [ ${#parts[@]} -gt 0 ] || return 0
  pg_line="PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') single-row commits/s (1 client, ${SECS} s, synchronous_commit on, ext4 on a loop device over the file): $(printf '%s; ' "${parts[@]}" | sed 's/; $//')"
}

# pg_commits_on TARGET: sets PG_TPS to the commits/s of one pgbench run on TARGET's file (not in a
# subshell: the mount and the postmaster's PID go into _MOUNTS and _PIDS for the EXIT trap); stops
# its postgres and unmounts before it returns, also when a step fails.
pg_commits_on() {
  local t=$1 file mnt data pid="" ok=1
  PG_TPS=""
  file=$("target_$t" path)
  mnt=$SCRATCH/pg-$t-mnt data=$SCRATCH/pg-$t-mnt/data
  mkdir -p "$mnt"
  mkfs.ext4 -q -F "$file" >&2 || return 1
  mount -o loop "$file" "$mnt" || return 1
  _MOUNTS+=("$mnt")
  if mkdir -p "$data" && chown postgres: "$data" "$mnt" &&
    runuser -u postgres -- "$PG_BIN/initdb" -D "$data" -A trust -U postgres >/dev/null &&
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$data" -l "$mnt/postgres.log" -w \
      -o "-c listen_addresses='' -k $mnt -p $PG_PORT -c synchronous_commit=on -c fsync=on" start >/dev/null; then
    pid=$(head -1 "$data/postmaster.pid")
    _PIDS+=("$pid")
    printf '%s\n' '\set id random(1, 1000000000)' 'INSERT INTO commits VALUES (:id, now());' > "$mnt/insert.sql"
    if printf '%s\n' 'CREATE TABLE commits (id bigint, at timestamptz);' |
      runuser -u postgres -- psql -q -h "$mnt" -p "$PG_PORT" -U postgres postgres >/dev/null; then
      PG_TPS=$(runuser -u postgres -- pgbench -n -c 1 -T "$SECS" -f "$mnt/insert.sql" -h "$mnt" -p "$PG_PORT" \
        -U postgres postgres 2>&1 | awk '/^tps = / {print $3; exit}')
    fi
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    stop_pid "$pid"
  else
    ok=0
    cat "$mnt/postgres.log" >&2 2>/dev/null
  fi
  umount "$mnt"
  [ "$ok" = 1 ] && [ -n "$PG_TPS" ]
}

# bench_link_rtt: (BENCH_LINK_RTT, on by default) build/tools/link_rtt with its defaults: the round
# trip of a 4 KiB frame and a 64-byte answer between two threads on 127.0.0.1, over ZeroMQ as the
# peer link uses it and over one plain TCP connection (tests/tools/link_rtt/main.cc says how), and the
# round trip of two wake-ups between threads with no transport. Its three lines (`link_rtt zmq 4096
# B: p50 ...`, `link_rtt tcp ...`, `link_rtt wakeup 8 B: ...`) go to the report as they are. Runs
# before the targets start (a few seconds), so that no daemon of the bench shares the CPUs.
bench_link_rtt() {
  link_rtt_lines=()
  [ "${BENCH_LINK_RTT:-1}" = 0 ] && return 0
  local out=$SCRATCH/link_rtt.out line
  say "round trips over ZeroMQ and over TCP on 127.0.0.1 (build/tools/link_rtt)"
  "$LINK_RTT" > "$out" 2> "$SCRATCH/link_rtt.err" || { cat "$SCRATCH/link_rtt.err" >&2; die "build/tools/link_rtt failed"; }
  while IFS= read -r line; do
    say "$line"
    link_rtt_lines+=("$line")
  done < <(grep '^link_rtt ' "$out")
  [ ${#link_rtt_lines[@]} -eq 3 ] || die "build/tools/link_rtt printed no zmq, tcp and wakeup lines: $(tr '\n' ' ' < "$out")"
}
