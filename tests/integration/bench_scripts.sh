#!/usr/bin/env bash
# The benchmark scripts still run: `make bench` (scripts/bench.sh), `make bench-failover`
# (scripts/bench_failover.sh) and scripts/bench_cpu.sh, each with the least work that still
# starts real sites (a plain, a sync, an async-over-WAN and a CURVE pair; a failover round with
# clusterd), and each prints its figures. A figure is reported, never judged: only that a row
# with a number came out is checked. Found when bench_cpu.sh stopped at an unset variable that a
# change to the bench's shared parts (scripts/bench/sites.sh) had added.
. "$(dirname "$0")/lib.sh"

export BENCH_TMPDIR=$WORK
NUMBER='[0-9]+(\.[0-9]+)?'

out=$WORK/bench.out
if BENCH_TARGETS="pairfs pair pair_async_wan" BENCH_WORKLOADS=randwrite_fsync BENCH_RUNS=1 \
   BENCH_SECONDS=1 BENCH_SIZE=16M BENCH_LAYOUT=0 BENCH_PG=0 BENCH_RSS=0 BENCH_COPY=0 \
   BENCH_ASYNC=0 "$ROOT/scripts/bench.sh" > "$out" 2>&1; then
  row=$(grep -E '^rand write 4K \+ fsync \(IOPS\)' "$out" | tail -1)
  if grep -Eq "^rand write 4K \+ fsync \(IOPS\) +$NUMBER +$NUMBER \($NUMBER\) +$NUMBER \($NUMBER\)" <<< "$row"; then
    pass "make bench (pairfs, sync pair, async pair over the WAN proxy) prints a row of figures"
  else
    fail "make bench prints a row of figures" "row: '$row'; $(tail -3 "$out" | tr '\n' ' ')"
  fi
else
  fail "make bench runs to its end" "$(tail -5 "$out" | tr '\n' ' ')"
fi

out=$WORK/bench_cpu.out
if CPU_TARGETS="pair pair_curve" CPU_SIZE=16M CPU_RUNS=1 "$ROOT/scripts/bench_cpu.sh" > "$out" 2>&1; then
  rows=$(grep -Ec "^pair(_curve)? +1 +$NUMBER +$NUMBER " "$out")
  if [ "$rows" = 2 ]; then
    pass "scripts/bench_cpu.sh prints CPU per GB of a plain and a CURVE pair"
  else
    fail "scripts/bench_cpu.sh prints CPU per GB of a plain and a CURVE pair" "$(tail -4 "$out" | tr '\n' ' ')"
  fi
else
  fail "scripts/bench_cpu.sh runs to its end" "$(tail -5 "$out" | tr '\n' ' ')"
fi

out=$WORK/bench_failover.out
if FAILOVER_ROUNDS=1 FAILOVER_KINDS=host "$ROOT/scripts/bench_failover.sh" > "$out" 2>&1; then
  if grep -Eq "^host failure .* +1 +$NUMBER ms" "$out"; then
    pass "make bench-failover reports a host failure's round"
  else
    fail "make bench-failover reports a host failure's round" "$(tail -4 "$out" | tr '\n' ' ')"
  fi
else
  fail "make bench-failover runs to its end" "$(tail -5 "$out" | tr '\n' ' ')"
fi

finish
