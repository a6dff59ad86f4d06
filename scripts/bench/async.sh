# Sourced by scripts/bench.sh: the async pairs' targets of issue 13 (reports only, never a verdict).
#   - from the table (one side-by-side run): async at the primary against the same volume unpaired
#     (pairfs column) for seq write and 4 KiB write+fsync, and async against the sync pair across
#     the same WAN for write+fsync;
#   - (BENCH_ASYNC) on a fresh async pair across the WAN (BENCH_WAN_DELAY_MS each way, [journal]
#     default size): lag_ms at the primary sampled every 100 ms while fio writes sequentially at
#     BENCH_ASYNC_LAG_RATE MB/s for BENCH_ASYNC_LAG_SECONDS (p50, p99, max); catch-up after the
#     link is stalled for BENCH_ASYNC_CUT_SECONDS while fio writes at BENCH_ASYNC_CUT_RATE MB/s:
#     the bytes the WAN proxy forwards from the heal until journal_lag_bytes is 0, against the
#     journal_lag_bytes at the heal (the dirty bytes); a planned swap (`pairctl takeover` at the
#     secondary with the primary answering: the time from the command to a 4 KiB O_DSYNC write
#     succeeding there, and whether a block fsync'd at the old primary just before is there); an
#     unplanned takeover (the primary's pairfs killed -9, then `pairctl takeover` at the other:
#     the time from the command to writable). A takeover refused reports n/a with the reason.
# Each function appends its lines to async_lines (printed after the table by report.sh).

async_lines=()
ASYNC_A=asy_a ASYNC_B=asy_b

ratio() { python3 -c 'import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print("%.2f" % (a / b) if b > 0 else "n/a")' "$1" "$2"; }

# bench_async_ratios: the issue 13 ratios from the table's figures, where both columns ran.
bench_async_ratios() {
  local w t
  for t in pair_async pair_async_wan pair_async_stalled; do
    has_target pairfs && has_target "$t" || continue
    for w in seqwrite randwrite_fsync; do
      [[ " ${WORKLOADS[*]} " == *" $w "* ]] || continue
      paced=
      [ -n "${PACED[$w,$t]:-}" ] && paced="; not the journal's speed: the pair was ${PACED_STATUS[$w,$t]} after ${PACED[$w,$t]} of $RUNS runs (its journal past high_water_percent; make BENCH_JOURNAL_SIZE hold what the runs write)"
      async_lines+=("async target: $(wl_$w label), ${LABEL[$t]} / ${LABEL[pairfs]} (the same volume unpaired): $(ratio "${RESULT[$w,$t]}" "${RESULT[$w,pairfs]}") ($(fmt "${RESULT[$w,$t]}") / $(fmt "${RESULT[$w,pairfs]}"); target >= 0.8$paced)")
    done
  done
  if { has_target pair_async || has_target pair_async_wan || has_target pair_async_stalled; } && [[ " ${WORKLOADS[*]} " == *" randwrite_fsync "* ]]; then
    bench_journal_pattern || return 1
  fi
  if has_target pair_wan && has_target pair_async_wan && [[ " ${WORKLOADS[*]} " == *" randwrite_fsync "* ]]; then
    async_lines+=("async target: $(wl_randwrite_fsync label), ${LABEL[pair_async_wan]} / ${LABEL[pair_wan]}: $(ratio "${RESULT[randwrite_fsync,pair_async_wan]}" "${RESULT[randwrite_fsync,pair_wan]}") ($(fmt "${RESULT[randwrite_fsync,pair_async_wan]}") / $(fmt "${RESULT[randwrite_fsync,pair_wan]}"); target >= 20)")
  fi
  return 0
}

# bench_journal_pattern: the limit of an async 4 KiB write + fsync on this disk, with no pairfs in
# the way. The primary's write+fsync makes one journal entry (a 128-byte header and the 4 KiB of
# data, node/FORMAT.md) durable, appended after the one before, where the unpaired volume makes
# one 4 KiB block durable. fio does both on a plain file in the scratch directory, BENCH_SECONDS
# each, the median of BENCH_RUNS: 4 KiB random writes with an fdatasync after each against
# sequential entry-sized writes with an fdatasync after each, as the journal writes them: with
# O_DIRECT in whole 512-byte units (4608 bytes: version 2, this release) and buffered, packed
# (4224 bytes: version 1, earlier releases; about a third slower).
bench_journal_pattern() {
  local f=$SCRATCH/journal-pattern r seq=() rnd=() dio=() s d
  # written fully first, as a journal's ring is (no block allocated by the runs)
  fio_run "$SCRATCH/jp-layout.json" "$f" --rw=write --bs=1M --ioengine=psync --direct=1 --end_fsync=1 \
    || return 1
  for ((r = 1; r <= RUNS; r++)); do
    drop_caches
    fio_run "$SCRATCH/jp-seq-$r.json" "$f" --rw=write --bs=4224 --ioengine=psync --fdatasync=1 \
      --time_based --runtime="$SECS" || return 1
    seq+=("$(metric write_iops "$SCRATCH/jp-seq-$r.json")")
    drop_caches
    fio_run "$SCRATCH/jp-rand-$r.json" "$f" --rw=randwrite --bs=4k --ioengine=psync --fdatasync=1 \
      --time_based --runtime="$SECS" || return 1
    rnd+=("$(metric write_iops "$SCRATCH/jp-rand-$r.json")")
    drop_caches
    fio_run "$SCRATCH/jp-direct-$r.json" "$f" --rw=write --bs=4608 --direct=1 --ioengine=psync \
      --fdatasync=1 --time_based --runtime="$SECS" || return 1
    dio+=("$(metric write_iops "$SCRATCH/jp-direct-$r.json")")
  done
  rm -f "$f"
  s=$(median "${seq[@]}") r=$(median "${rnd[@]}") d=$(median "${dio[@]}")
  async_lines+=("async limit here: a 4 KiB write's journal entry on a plain file (fio, sequential writes + fdatasync) against 4 KiB random writes + fdatasync ($(fmt "$r") IOPS): written with O_DIRECT in 4608 bytes as this release's journals are (version 2) $(fmt "$d") IOPS, $(ratio "$d" "$r"); buffered and packed in 4224 bytes as version 1 journals are $(fmt "$s") IOPS, $(ratio "$s" "$r")")
}

# async_pair_start: the fresh async pair across the WAN, volume `bench` of BENCH_SIZE, in PAIR.
async_pair_start() {
  pair_start "$ASYNC_A" "$ASYNC_B" 7480 wan || return 1
  pairctl_site "$ASYNC_A" volume create bench "$SIZE_BYTES" >/dev/null || return 1
  pair_create "$ASYNC_A" bench async || return 1
  pairctl_site "$ASYNC_A" wait bench --status PAIR --timeout 600 >/dev/null \
    || { say "the async pair did not reach PAIR:"; tail -20 "$SCRATCH/$ASYNC_A.log" >&2; return 1; }
}

async_pair_stop() {
  pairfs_stop "$ASYNC_A"
  pairfs_stop "$ASYNC_B"
  wan_stop "$ASYNC_A"
  local n
  for n in "$ASYNC_A" "$ASYNC_B"; do
    mountpoint -q "$SCRATCH/$n-mnt" || rm -rf --one-file-system "$SCRATCH/$n-data"
  done
}

# async_wait_caught_up SITE SECONDS: until journal_lag_bytes is 0 at SITE (polled every 100 ms).
async_caught_up() { [ "$(pair_field "$1" bench journal_lag_bytes 2>/dev/null)" = 0 ]; }
async_wait_caught_up() {
  local ticks=$(($2 * 10))
  while ((ticks-- > 0)); do async_caught_up "$1" && return 0; sleep 0.1; done
  return 1
}

# wan_signal_totals SIGNAL WORD: signals the async pair's proxy, waits for its next WORD line and
# prints that line's totals "UP DOWN" (bytes forwarded so far to the servers, to the clients).
wan_signal_totals() {
  local log=$SCRATCH/$ASYNC_A-wan.log var=WAN_PID_$ASYNC_A before _
  before=$(grep -c ": $2" "$log" || true)
  kill "-$1" "${!var}" || return 1
  for _ in $(seq 100); do
    if [ "$(grep -c ": $2" "$log" || true)" -gt "$before" ]; then
      grep ": $2" "$log" | tail -1 | sed -n 's/.*forwarded so far: \([0-9]*\) bytes to the servers, \([0-9]*\) to the clients.*/\1 \2/p'
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# bench_async_lag: lag_ms at the primary while fio writes at BENCH_ASYNC_LAG_RATE MB/s.
bench_async_lag() {
  local conf=$SCRATCH/$ASYNC_A.toml samples=$SCRATCH/async-lag.samples sampler out=$SCRATCH/async-lag.json
  say "async lag: $ASYNC_LAG_SECONDS s of sequential 1 MiB O_DIRECT writes at $ASYNC_LAG_RATE MB/s, lag_ms sampled every 100 ms"
  rm -f "$SCRATCH/async-lag.stop"
  python3 - "$PAIRCTL" "$conf" "$samples" "$SCRATCH/async-lag.stop" <<'PY' &
import json, os, subprocess, sys, time
pairctl, conf, path, stop = sys.argv[1:5]
with open(path, "w") as out:
    tick = time.monotonic()
    while not os.path.exists(stop):
        r = subprocess.run([pairctl, "-c", conf, "--json", "display", "bench"], capture_output=True, text=True)
        try:
            d = json.loads(r.stdout)[0]
            out.write("%s %s\n" % (d["lag_ms"], d["status"]))
        except (ValueError, KeyError, IndexError):
            out.write("error %s\n" % r.stderr.strip().replace(" ", "_")[:60])
        out.flush()
        tick += 0.1
        time.sleep(max(0, tick - time.monotonic()))
PY
  sampler=$!
  _PIDS+=("$sampler")
  fio_run "$out" "$SCRATCH/$ASYNC_A-mnt/bench" --rw=write --bs=1M --ioengine=psync --direct=1 \
    --rate="$((ASYNC_LAG_RATE * 1000000))" --time_based --runtime="$ASYNC_LAG_SECONDS" \
    || { touch "$SCRATCH/async-lag.stop"; return 1; }
  touch "$SCRATCH/async-lag.stop"
  wait "$sampler" 2>/dev/null || true
  async_lines+=("async lag at $ASYNC_LAG_RATE MB/s sustained (fio $(fmt "$(metric seq_mbps "$out")") MB/s achieved, $ASYNC_LAG_SECONDS s, WAN ${WAN_DELAY_MS} ms each way): $(python3 - "$samples" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
lags = sorted(int(r[0]) for r in rows if r[0].isdigit())
statuses = sorted(set(r[1] for r in rows if r[0].isdigit()))
errors = sum(1 for r in rows if not r[0].isdigit())
if not lags:
    print("n/a (no sample)")
    sys.exit()
rank = lambda p: lags[min(len(lags) - 1, max(0, -(-p * len(lags) // 100) - 1))]
print("lag_ms p50 %d, p99 %d, max %d (%d samples%s; status %s; target p99 <= 100)"
      % (rank(50), rank(99), lags[-1], len(lags), ", %d failed" % errors if errors else "", "/".join(statuses)))
PY
)")
}

# bench_async_catchup: the link stalled while fio writes, healed; what the WAN carries to catch up.
bench_async_catchup() {
  local out=$SCRATCH/async-cut.json dirty status up0 down0 up1 down1 t0 t1
  async_wait_caught_up "$ASYNC_A" 600 || { say "the async pair did not catch up before the cut"; return 1; }
  say "async catch-up: link stalled, $ASYNC_CUT_SECONDS s of sequential 1 MiB O_DIRECT writes at $ASYNC_CUT_RATE MB/s, then healed"
  wan_signal_totals USR1 stalled >/dev/null || { say "the WAN proxy did not stall"; return 1; }
  fio_run "$out" "$SCRATCH/$ASYNC_A-mnt/bench" --rw=write --bs=1M --ioengine=psync --direct=1 \
    --rate="$((ASYNC_CUT_RATE * 1000000))" --time_based --runtime="$ASYNC_CUT_SECONDS" || return 1
  dirty=$(pair_field "$ASYNC_A" bench journal_lag_bytes) status=$(pair_field "$ASYNC_A" bench status)
  read -r up0 down0 < <(wan_signal_totals USR2 healed) || { say "the WAN proxy did not heal"; return 1; }
  t0=$(now)
  if ! async_wait_caught_up "$ASYNC_A" 600; then
    async_lines+=("async catch-up after a $ASYNC_CUT_SECONDS s cut: n/a (journal_lag_bytes not 0 600 s after the heal; status $(pair_field "$ASYNC_A" bench status))")
    return 0
  fi
  t1=$(now)
  read -r up1 down1 < <(wan_signal_totals USR2 healed)
  async_lines+=("async catch-up after a $ASYNC_CUT_SECONDS s cut at $ASYNC_CUT_RATE MB/s (status at the heal: $status): the WAN carried $(((up1 - up0) + (down1 - down0))) bytes ($((up1 - up0)) a->b) for $dirty dirty bytes (journal_lag_bytes at the heal; fio wrote $(python3 -c 'import json, sys; print(sum(j["write"]["io_bytes"] for j in json.load(open(sys.argv[1]))["jobs"]))' "$out")): $(ratio "$(((up1 - up0) + (down1 - down0)))" "$dirty")x (target <= 1.1), caught up in $(elapsed "$t0" "$t1") s")
}

# async_writable SITE: a 4 KiB O_DSYNC write at SITE's copy succeeds (dd's message in
# $SCRATCH/async-write.err).
async_writable() {
  dd if=/dev/zero of="$SCRATCH/$1-mnt/bench" bs=4k count=1 seek=1 oflag=dsync conv=notrunc status=none \
    2> "$SCRATCH/async-write.err"
}
# async_takeover LABEL SITE: `pairctl takeover bench` at SITE, then until a write there succeeds;
# appends LABEL's line (n/a with pairctl's message if the takeover is refused).
async_takeover() {
  local label=$1 site=$2 t0 t1 msg ticks=300
  t0=$(now)
  if ! msg=$(pairctl_site "$site" takeover bench 2>&1); then
    async_lines+=("$label: n/a (takeover refused: $(echo "$msg" | tail -1))")
    return 1
  fi
  until async_writable "$site"; do
    if ((ticks-- <= 0)); then
      async_lines+=("$label: n/a (pairctl: $(echo "$msg" | head -1 | tr -d '\n'); but a write at $site still fails 30 s later: $(head -1 "$SCRATCH/async-write.err"))")
      return 1
    fi
    sleep 0.1
  done
  t1=$(now)
  async_lines+=("$label: writable $(elapsed "$t0" "$t1") s after the command (status at $site: $(pair_field "$site" bench status))${3:-}")
}

# bench_async_swap: planned swap (a answers), then unplanned takeover (the new primary killed -9).
bench_async_swap() {
  local block=$SCRATCH/async-block seek=$((RANDOM % 64 + 16)) same var
  dd if=/dev/urandom of="$block" bs=1M count=1 status=none
  dd if="$block" of="$SCRATCH/$ASYNC_A-mnt/bench" bs=1M seek="$seek" conv=notrunc,fsync status=none
  say "async planned swap: pairctl takeover at b with a answering"
  if async_takeover "async planned swap (takeover at b, a answers)" "$ASYNC_B"; then
    if cmp -s "$block" <(dd if="$SCRATCH/$ASYNC_B-mnt/bench" bs=1M skip="$seek" count=1 status=none); then same="zero loss: the block fsync'd at a just before is at b"
    else same="LOSS: the block fsync'd at a just before is not at b"; fi
    async_lines[-1]+="; $same"
  fi
  # unplanned: kill -9 the primary (b after a swap, else a) and take over at the other
  local primary=$ASYNC_B other=$ASYNC_A
  [ "$(pair_field "$ASYNC_B" bench role 2>/dev/null)" = primary ] || { primary=$ASYNC_A other=$ASYNC_B; }
  say "async unplanned takeover: $primary's pairfs killed -9, pairctl takeover at $other"
  var=PAIRFS_PID_$primary
  kill -KILL "${!var}" 2>/dev/null || true
  wait "${!var}" 2>/dev/null || true
  # a dead FUSE mount is no mount point for mountpoint(1) (ENOTCONN): unmount it regardless
  umount "$SCRATCH/$primary-mnt" 2>/dev/null || umount -l "$SCRATCH/$primary-mnt" 2>/dev/null || true
  printf -v "$var" '%s' ""
  async_takeover "async unplanned takeover ($primary killed -9, takeover at $other; peer_timeout_ms default)" "$other" || true
}

# bench_async: the fresh-pair measurements (BENCH_ASYNC); the pair is gone afterwards.
bench_async() {
  [ "$ASYNC" != 0 ] || return 0
  _ACTIVE+=(async)
  async_pair_start || die "starting the async pair failed"
  bench_async_lag || die "the async lag measurement failed"
  bench_async_catchup || die "the async catch-up measurement failed"
  bench_async_swap
  async_pair_stop
  _ACTIVE=()
}
# For cleanup's teardown loop (_ACTIVE).
target_async() { [ "$1" = teardown ] && async_pair_stop; }
