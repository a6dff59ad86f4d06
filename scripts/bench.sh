#!/usr/bin/env bash
# pairfs benchmark: fio side by side on the same disk, one table with ratios against a plain file.
#
#   make bench                      # or: scripts/bench.sh (needs root: drop_caches, FUSE mounts)
#   BENCH_TARGETS="plain pair gluster" BENCH_RUNS=1 scripts/bench.sh     # a shorter run
#   scripts/bench_cpu.sh            # CPU s per GB of each pair daemon (plain, CURVE): not noisy
#
# Targets (columns), all kept in one scratch directory under /var/tmp, so on the same disk:
#   plain         a plain file on the local file system: the limit
#   bindfs        bindfs -o big_writes --forward-odirect=4096 over a local directory: a plain FUSE
#                 pass-through
#   pairfs        a pairfs volume (one site, no pair)
#   pair          a synchronous pair: two pairfs daemons (sites a and b, own data dirs, control
#                 sockets and mounts, loopback TCP ports from 7410 up), `pairctl create --mode sync`,
#                 waited to PAIR; fio runs on the primary's file (site a)
#   pair_curve    the same pair with [security] (keys from `pairctl keygen`): the cost of CURVE
#   pair_wan      the same pair (no keys) with its replication link through build/tools/wan_proxy,
#                 BENCH_WAN_DELAY_MS each way (a round trip costs twice that): a sync pair across
#                 a WAN, the figure async pairs are measured against
#   pair_async    an async pair (`create --mode async`; [journal] BENCH_JOURNAL_SIZE) over loopback,
#                 no WAN: sites in one building or a LAN
#   pair_async_stalled  (not in the default list) an async pair across the WAN whose link is stalled
#                 (proxy SIGSTOPped) once the file is laid out: the primary's cost with the
#                 secondary's work off this machine (the journal grows through the runs)
#   pair_async_wan  the same WAN with an async pair (`create --mode async`; [journal] default 1G):
#                 writes and fsyncs at the primary wait for its journal, not for the round trip
#   gluster       GlusterFS replica 2: a glusterd of its own (`glusterd -p`, stopped by PID), two
#                 bricks on this disk, mounted with mount -t glusterfs (FUSE client)
#   gluster_virt  the same with `volume set NAME group virt` (the settings GlusterFS recommends for
#                 VM images: sharding, strict O_DIRECT, eager lock, ...)
# The GlusterFS targets install glusterfs-server and glusterfs-client if missing (scripts/deps.sh
# bench) and refuse to run next to a glusterd already running or one with volumes configured. The
# gluster CLI refuses localhost/127.0.0.1 as a brick host: the bricks use this machine's host name
# when it resolves to a loopback address, else a line `127.0.1.77 pairfs-bench-gluster` appended to
# /etc/hosts for the run (exactly that line is removed again).
# Workloads (rows): sequential write 1 MiB blocks + final fsync (MB/s), 4 KiB random write with an
# fsync after each write (IOPS), 4 KiB O_DIRECT random read (IOPS), 4 KiB O_DIRECT random write by
# 4 jobs (IOPS), 4 KiB O_DIRECT random write by one job with libaio, 32 in flight (IOPS). Each cell is the median of BENCH_RUNS runs; runs alternate between targets so that a
# drift of the machine does not favour one column. The page cache is dropped before every run.
# After the table:
#   - with the pair target: 4 KiB O_DIRECT random read at the secondary's file (site b), BENCH_RUNS
#     runs, median, against the baseline's random read;
#   - (BENCH_PG) PostgreSQL single-row commits per second (one pgbench client, synchronous_commit
#     on) on ext4 on a loop device over the plain, pairfs, pair and pair_curve targets' files;
#   - (BENCH_LINK_RTT) the round trip of a 4 KiB frame and a 64-byte answer between two threads on
#     127.0.0.1 (build/tools/link_rtt, its defaults: 20000 round trips each, a few seconds, run
#     first, before any daemon of the bench starts): over ZeroMQ as the peer link uses it (two
#     contexts, a ROUTER and a DEALER each) and over one plain TCP connection, p50/p90/p99/mean/min
#     each: how much of a sync write's round trip on loopback is ZeroMQ's own; and a third line,
#     `link_rtt wakeup`: two threads waking each other through eventfds, no transport, what each
#     of ZeroMQ's hand-offs between threads costs on this machine (a VM pays tens of us);
#   - pairfs's peak RSS (VmHWM) once a 16 GiB volume has been written fully;
#   - (BENCH_COPY) initial copy: a BENCH_COPY_SIZE volume filled with random data at site a of a
#     fresh pair of daemons, time from `pairctl create --mode sync` to PAIR, as MB/s, against `cp`
#     of a random file of that size on the same disk (time of cp plus the fsync of the copy); page
#     cache dropped before both. Then resync after 1% of the regions changed: sleep 3 s (the
#     activity log forgets regions both copies flushed every 2 s), split, 4 KiB written into every
#     100th 64 KiB region (1% of them, spread over the volume), fsync, resync; reported: the bytes
#     the primary copied (its last log line `copying N bytes`) as % of the volume, and the time from
#     `pairctl resync` to PAIR.
#   - the async pairs' targets (issue 13; scripts/bench/async.sh says how each is measured): the
#     table's async / unpaired and async / sync-across-the-WAN ratios; (BENCH_ASYNC) on a fresh
#     async pair across the WAN: lag_ms p50/p99/max at a sustained write rate, the bytes a
#     catch-up after a stalled link carries against the dirty bytes, the time of a planned swap
#     and of an unplanned takeover to writable (n/a with the reason where a takeover is refused).
#
# Environment (defaults in brackets); small values make a quick smoke run:
#   BENCH_TARGETS [plain bindfs pairfs pair pair_curve pair_wan pair_async pair_async_wan gluster gluster_virt]
#                         the columns, in order; the first is the baseline of the ratios
#   BENCH_WORKLOADS [seqwrite randwrite_fsync randread randwrite_4jobs randwrite_qd32]
#                         the rows, in order
#   BENCH_RUNS [3]        runs per cell, the median is reported
#   BENCH_WAN_DELAY_MS [10]  one-way delay of the pair_wan target's link (wan_proxy --delay-ms)
#   BENCH_WAN_RATE_MBPS [0]  its cap per direction in MB/s (wan_proxy --rate-mbps); 0: none
#   BENCH_SECONDS [10]    length of each time-based (IOPS) run
#   BENCH_SIZE [1G]       test file / volume size, and the size of the sequential write (K/M/G)
#   BENCH_PG [1]          0 skips the PostgreSQL commits/s line (scripts/bench/extras.sh)
#   BENCH_LINK_RTT [1]    0 skips the ZeroMQ and TCP round-trip lines (scripts/bench/extras.sh)
#   BENCH_RSS [1]         0 skips the peak-RSS measurement
#   BENCH_RSS_SIZE [16G]  volume size for the peak-RSS measurement
#   BENCH_COPY [1]        0 skips the initial-copy / resync measurement
#   BENCH_COPY_SIZE [4G]  volume size for it (a whole number of MiB)
#   BENCH_ASYNC [1]       0 skips the async pair's lag, catch-up, swap and takeover measurements
#   BENCH_JOURNAL_SIZE [1G]  [journal] size of every site the bench starts (the product's default;
#                         a sequential run of BENCH_SIZE that does not fit its high-water mark
#                         goes PFUL and is paced to the drain rate: size it for the burst to
#                         measure the journal's own speed)
#   BENCH_ASYNC_LAG_RATE [50]  MB/s of the lag measurement's writes (fio --rate)
#   BENCH_ASYNC_LAG_SECONDS [20]  its length
#   BENCH_ASYNC_CUT_SECONDS [60]  how long the link is stalled for the catch-up measurement
#   BENCH_ASYNC_CUT_RATE [10]  MB/s written meanwhile (the journal, [journal] size 1G by default,
#                         must hold RATE x SECONDS, else the pair goes PFUS)
#   BENCH_GLUSTER_HOST [auto]  brick host name: auto (see above), hosts (always the /etc/hosts
#                         line), or a name that resolves to this machine
#   BENCH_TMPDIR [/var/tmp]  where the scratch directory is made (mktemp -d)
#   BENCH_REF_PAIRFS []   the pairfs program of the targets pairfs_ref, pair_ref and
#                         pair_async_wan_ref (not in the default list): the same as pairfs, pair
#                         and pair_async_wan with an earlier build, for a before/after in one run
#                         (scripts/bench/targets.sh)
#   BENCH_LAYOUT [1]      0 skips writing each test file fully before the runs (a quick run, or
#                         stage latencies of one workload alone)
#   BENCH_STAGES [0]      1 adds, per pair target and site, the write path's stage latencies its
#                         daemon logged at unmount (node/latency_histogram.h) to the report
#   e.g. BENCH_SIZE=256M BENCH_SECONDS=3 BENCH_RUNS=1 BENCH_RSS=0 BENCH_COPY=0 BENCH_ASYNC_LAG_SECONDS=5 \
#        BENCH_ASYNC_CUT_SECONDS=5 scripts/bench.sh
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
#   ready     (optional) called once the file is laid out, before the runs
#   status    (optional) print the pair's status at the primary after each run (an async pair
#             in PFUL or PFUS is noted beside the run and the ratio: paced, not its own speed)
#   settle    (optional) return once the target's background work of the last run is done (an
#             async pair: the secondary holds every write), after the layout and after each run,
#             so that it does not run during the next target's run
# and add NAME to DEFAULT_TARGETS (and the space check's factor if it uses more than BENCH_SIZE of
# disk). The first target is the baseline of the ratios.
# Adding a workload (a row): one function wl_NAME (label, unit, fio args) and NAME in WORKLOADS.
#
# The parts, sourced below from scripts/bench/: checks.sh (settings and tools), processes.sh
# (cleanup, stopping by PID), sites.sh (pairfs sites, pairs, the WAN proxy), targets.sh and
# gluster.sh (the columns), fio.sh (the rows), matrix.sh (the table's runs), extras.sh (the lines
# after the table), async.sh (the async pairs' targets), report.sh (stdout).
set -euo pipefail

DEFAULT_TARGETS="plain bindfs pairfs pair pair_curve pair_wan pair_async pair_async_wan gluster gluster_virt"
read -r -a TARGETS <<< "${BENCH_TARGETS:-$DEFAULT_TARGETS}"
read -r -a WORKLOADS <<< "${BENCH_WORKLOADS:-seqwrite randwrite_fsync randread randwrite_4jobs randwrite_qd32}"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_PARTS=$ROOT/scripts/bench
PAIRFS=$ROOT/build/pairfs
PAIRCTL=$ROOT/build/pairctl
WAN_PROXY=$ROOT/build/tools/wan_proxy
LINK_RTT=$ROOT/build/tools/link_rtt

RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECONDS:-10}
SIZE=${BENCH_SIZE:-1G}
RSS=${BENCH_RSS:-1}
RSS_SIZE=${BENCH_RSS_SIZE:-16G}
TMPBASE=${BENCH_TMPDIR:-/var/tmp}
COPY=${BENCH_COPY:-1}
COPY_SIZE=${BENCH_COPY_SIZE:-4G}
GLUSTER_HOST_MODE=${BENCH_GLUSTER_HOST:-auto}
WAN_DELAY_MS=${BENCH_WAN_DELAY_MS:-10}
WAN_RATE_MBPS=${BENCH_WAN_RATE_MBPS:-0}
ASYNC=${BENCH_ASYNC:-1}
JOURNAL_SIZE=${BENCH_JOURNAL_SIZE:-1G}
ASYNC_LAG_RATE=${BENCH_ASYNC_LAG_RATE:-50}
ASYNC_LAG_SECONDS=${BENCH_ASYNC_LAG_SECONDS:-20}
ASYNC_CUT_SECONDS=${BENCH_ASYNC_CUT_SECONDS:-60}
ASYNC_CUT_RATE=${BENCH_ASYNC_CUT_RATE:-10}
REF_PAIRFS=${BENCH_REF_PAIRFS:-}
LAYOUT=${BENCH_LAYOUT:-1}
STAGES=${BENCH_STAGES:-0}

say() { echo "bench: $*" >&2; }
die() { echo "bench: error: $*" >&2; exit 1; }


# shellcheck source=scripts/bench/checks.sh
. "$BENCH_PARTS/checks.sh"
# shellcheck source=scripts/bench/processes.sh
. "$BENCH_PARTS/processes.sh"
# shellcheck source=scripts/bench/sites.sh
. "$BENCH_PARTS/sites.sh"
# shellcheck source=scripts/bench/targets.sh
. "$BENCH_PARTS/targets.sh"
# shellcheck source=scripts/bench/gluster.sh
. "$BENCH_PARTS/gluster.sh"
# shellcheck source=scripts/bench/fio.sh
. "$BENCH_PARTS/fio.sh"
# shellcheck source=scripts/bench/matrix.sh
. "$BENCH_PARTS/matrix.sh"
# shellcheck source=scripts/bench/extras.sh
. "$BENCH_PARTS/extras.sh"
# shellcheck source=scripts/bench/async.sh
. "$BENCH_PARTS/async.sh"
# shellcheck source=scripts/bench/report.sh
. "$BENCH_PARTS/report.sh"

LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
STAGE_LINES=()
mkdir -p "$TMPBASE"
SCRATCH=$(mktemp -d "$TMPBASE/pairfs-bench.XXXXXX")
_PIDS=() _MOUNTS=() _ACTIVE=()
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT
trap 'echo "bench: terminated" >&2; exit 143' TERM

bench_check_names
bench_check_space
bench_link_rtt
bench_setup_targets
bench_run_workloads
base=${TARGETS[0]}
bench_async_ratios
bench_secondary_read
bench_peak_rss_of_runs
bench_postgres
for ((i = ${#_ACTIVE[@]} - 1; i >= 0; i--)); do "target_${_ACTIVE[$i]}" teardown; done
_ACTIVE=()
bench_stage_lines
bench_peak_rss
bench_copy
bench_async
bench_print_report
