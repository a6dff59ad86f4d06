#!/usr/bin/env bash
# Prometheus metrics on [site] metrics (pairfs(8) METRICS): two real sites in a sync pair, each
# scraped with curl; every scrape passes python3-prometheus-client's parser and this file's strict
# line checks (TYPE before every sample, valid names and labels, one block per family, histogram
# buckets cumulative with +Inf == _count). Then: writes through the mount grow the replicated
# counters and the write-stage histograms, N writes + fsyncs to vm1 grow its own write and fsync
# latency histograms (not another volume's, not vm1's at the other site), N O_DSYNC writes are N
# fsyncs at a and N flushes at b, an async pair's writes
# and journal gauges show, the pair status gauge is PAIR=1 then PSUS=1 after a split, clusterd
# shows where it runs (garbage on its heartbeat port counted) and is pairfs_clusterd_up 0 where
# it does not, another path is 404, an idle client is disconnected, a bad key and a taken port
# refuse to start, and no metrics key = nothing listening.
. "$(dirname "$0")/lib.sh"

METRICS_A=$((PORT_A + 5)) METRICS_B=$((PORT_A + 6))
# A generous peer timeout: a loaded machine must not suspend the pair while the counters are
# being checked (this test is about what is counted, not about link losses).
write_pair_configs 'peer_timeout_ms = 5000
[journal]
size = "16M"'
sed -i "/^name = \"a\"$/a metrics = \"127.0.0.1:$METRICS_A\"" "$WORK/a.toml"
sed -i "/^name = \"b\"$/a metrics = \"127.0.0.1:$METRICS_B\"" "$WORK/b.toml"
# clusterd runs at site b only (pairfs_clusterd_up 1 and its series there; absent at a). Its
# determining volume does not exist: its state does not matter here, only that one state is 1.
cat >> "$WORK/b.toml" <<TOML
[cluster]
heartbeat_listen = ["tcp://127.0.0.1:$HB_B"]
heartbeat_peer = ["tcp://127.0.0.1:$HB_A"]
determining_volume = "quorum"
volumes = []
on_start = "true"
on_stop = "true"
TOML

# Debian's python3 (python3-prometheus-client is installed for it), also when another python3
# comes first in PATH.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# The strict checker: reads an exposition on stdin; prints the problems (none: nothing) and
# writes the samples as "name{label="value",...} value" lines, labels sorted, to argv[1].
cat > "$WORK/check.py" <<'PY'
import math, re, sys
from prometheus_client.parser import text_string_to_metric_families

text = sys.stdin.read()
problems = []
try:
    families = list(text_string_to_metric_families(text))
except Exception as e:
    families = []
    problems.append("prometheus_client cannot parse it: %r" % e)
NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$")
types, helps, done, current = {}, set(), set(), None
samples, seen = [], set()
if not text.endswith("\n"):
    problems.append("the text does not end with a newline")
for n, line in enumerate(text.split("\n")[:-1], 1):
    where = "line %d (%r)" % (n, line[:120])
    if line.startswith("# HELP ") or line.startswith("# TYPE "):
        parts = line.split(" ", 3)
        if len(parts) < 4 or not NAME.match(parts[2]):
            problems.append(where + ": malformed HELP/TYPE"); continue
        name = parts[2]
        if name != current:
            if name in done: problems.append(where + ": family %s written twice" % name)
            if current: done.add(current)
            current = name
        if parts[1] == "TYPE":
            if name in types: problems.append(where + ": second TYPE")
            if parts[3] not in ("counter", "gauge", "histogram"): problems.append(where + ": type")
            if parts[3] == "counter" and not name.endswith("_total"):
                problems.append(where + ": a counter's name must end in _total")
            types[name] = parts[3]
        else:
            if name in helps: problems.append(where + ": second HELP")
            helps.add(name)
        continue
    if line.startswith("#") or not line:
        problems.append(where + ": unexpected line"); continue
    m = SAMPLE.match(line)
    if not m:
        problems.append(where + ": not a sample"); continue
    name, body, value = m.group(1), m.group(3), m.group(4)
    family = name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and types.get(name[: -len(suffix)]) == "histogram":
            family = name[: -len(suffix)]
    if family != current or family not in types:
        problems.append(where + ": sample outside its family's block or without a TYPE")
    if types.get(family) == "histogram" and family == name:
        problems.append(where + ": a histogram sample without _bucket/_sum/_count")
    labels = []
    if body is not None:
        rest = body
        while rest:
            lm = LABEL.match(rest)
            if not lm:
                problems.append(where + ": malformed labels"); break
            labels.append((lm.group(1), lm.group(2)))
            rest = rest[lm.end():]
            if rest.startswith(","): rest = rest[1:]
            elif rest: problems.append(where + ": malformed labels"); break
    if len({k for k, _ in labels}) != len(labels):
        problems.append(where + ": a label twice")
    try:
        float(value)
    except ValueError:
        problems.append(where + ": value %r" % value)
    key = name + "{" + ",".join('%s="%s"' % l for l in sorted(labels)) + "}"
    if key in seen: problems.append(where + ": the same series twice")
    seen.add(key)
    samples.append((name, dict(labels), value, key))
# Histograms: per series, le ascending, counts cumulative, the last le="+Inf" equal to _count.
buckets, counts = {}, {}
for name, labels, value, key in samples:
    if name.endswith("_bucket") and "le" in labels:
        base = name[:-7] + repr(sorted((k, v) for k, v in labels.items() if k != "le"))
        buckets.setdefault(base, []).append((float(labels["le"]), float(value)))
    if name.endswith("_count") and types.get(name[:-6]) == "histogram":
        counts[name[:-6] + repr(sorted(labels.items()))] = float(value)
for base, series in buckets.items():
    les = [le for le, _ in series]
    if les != sorted(les) or len(set(les)) != len(les): problems.append(base + ": le not ascending")
    if any(b[1] < a[1] for a, b in zip(series, series[1:])): problems.append(base + ": not cumulative")
    if not math.isinf(les[-1]): problems.append(base + ": no +Inf bucket")
    if counts.get(base) != series[-1][1]: problems.append(base + ": +Inf bucket != _count")
if not buckets: problems.append("no histogram buckets at all")
with open(sys.argv[1], "w") as out:
    for name, labels, value, key in samples: out.write("%s %s\n" % (key, value))
print("\n".join(problems[:10]))
PY

# scrape SITE PORT: GET /metrics into $WORK/scrape-SITE.txt (headers in .headers), strictly
# checked (fail lines name the problems), samples in $WORK/samples-SITE.txt.
scrape() {
  local site=$1 port=$2 problems
  if ! curl -sS --max-time 20 -D "$WORK/scrape-$site.headers" -o "$WORK/scrape-$site.txt" \
      "http://127.0.0.1:$port/metrics"; then
    fail "curl /metrics at site $site" "no answer"; return 1
  fi
  rm -f "$WORK/samples-$site.txt"
  problems=$("$PY" "$WORK/check.py" "$WORK/samples-$site.txt" < "$WORK/scrape-$site.txt" 2>&1)
  if [ -n "$problems" ]; then fail "the exposition of site $site passes the strict checks" "$problems"; return 1; fi
}
# metric SITE SERIES: the value of one series (as the checker writes it: labels sorted) in the
# last scrape of SITE; empty when absent.
metric() { awk -v k="$2" '$1 == k { print $2 }' "$WORK/samples-$1.txt" 2>/dev/null; }
# metric_is NAME SITE SERIES VALUE
metric_is() {
  local got; got=$(metric "$2" "$3")
  if [ "$got" = "$4" ]; then pass "$1"; else fail "$1" "$3 = '${got}', want $4"; fi
}

# --- refusals at start: a malformed key names it; a taken port is refused (exit 1, no hang)
write_config bad "metrics = \"127.0.0.1\""
expect_exit "a malformed [site] metrics is a config error naming the key" 1 "site.metrics" \
  timeout 20 "$PAIRFS" -f -c "$WORK/bad.toml" "$WORK/mnt-bad"

must_start a
must_start b
# An idle client (connects, sends nothing) is disconnected by the read timeout: in the background
# while the rest runs; its outcome is read at the end.
python3 - "$METRICS_A" > "$WORK/idle.out" 2>&1 <<'PY' &
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(120)  # only catches a hang
try:
    print("closed" if s.recv(1) == b"" else "answered")
except socket.timeout:
    print("still open")
PY
IDLE_PID=$!
on_cleanup "kill $IDLE_PID"

write_config taken "metrics = \"127.0.0.1:$METRICS_A\""
mkdir -p "$WORK/mnt-taken"
_MOUNTS+=("$WORK/mnt-taken")
expect_exit "pairfs with the metrics port of a running site exits 1 naming site.metrics" 1 \
  "site.metrics: cannot listen on 127.0.0.1:$METRICS_A" \
  timeout 20 "$PAIRFS" -f -c "$WORK/taken.toml" "$WORK/mnt-taken"

require "volume create vm1 16M at a" pairctl a volume create vm1 16M
require "create vm1 --mode sync" pairctl a create vm1 --mode sync
require "wait vm1 PAIR" pairctl a wait vm1 --status PAIR --timeout 60

# --- both sites' expositions, strictly checked
scrape a "$METRICS_A" && pass "site a's /metrics passes prometheus_client's parser and the strict checks"
scrape b "$METRICS_B" && pass "site b's /metrics passes prometheus_client's parser and the strict checks"
if grep -qi '^content-type: text/plain; version=0.0.4' "$WORK/scrape-a.headers"; then
  pass "the Content-Type is text/plain; version=0.0.4"
else fail "the Content-Type is text/plain; version=0.0.4" "$(grep -i content-type "$WORK/scrape-a.headers")"; fi
metric_is "pair status gauge at a: PAIR 1" a 'pairfs_pair_status{status="PAIR",volume="vm1"}' 1
metric_is "pair status gauge at a: PSUS 0" a 'pairfs_pair_status{status="PSUS",volume="vm1"}' 0
metric_is "pair status gauge at b: PAIR 1" b 'pairfs_pair_status{status="PAIR",volume="vm1"}' 1
metric_is "role gauge at b: secondary 1" b 'pairfs_pair_role{role="secondary",volume="vm1"}' 1
metric_is "the data link is up at a" a 'pairfs_peer_link_up{peer_site="b"}' 1
metric_is "clusterd absent: pairfs_clusterd_up 0" a 'pairfs_clusterd_up{}' 0
if [ ! -s "$WORK/samples-a.txt" ] || grep -q '^pairfs_cluster_state' "$WORK/samples-a.txt"; then
  fail "clusterd absent: no pairfs_cluster_state series" "present (or no scrape)"
else pass "clusterd absent: no pairfs_cluster_state series"; fi

if start_clusterd b > /dev/null 2>&1; then
  scrape b "$METRICS_B"
  metric_is "clusterd at b: pairfs_clusterd_up 1" b 'pairfs_clusterd_up{}' 1
  states=$(awk '/^pairfs_cluster_state\{/ { n += $2 } END { print n + 0 }' "$WORK/samples-b.txt")
  if [ "$states" = 1 ]; then pass "clusterd at b: exactly one pairfs_cluster_state is 1"
  else fail "clusterd at b: exactly one pairfs_cluster_state is 1" "sum $states"; fi
  metric_is "clusterd at b: its heartbeat link has a series" b \
    "pairfs_heartbeat_link_up{listen=\"tcp://127.0.0.1:$HB_B\",peer=\"tcp://127.0.0.1:$HB_A\"}" 0
  HB_SERIES="{listen=\"tcp://127.0.0.1:$HB_B\",peer=\"tcp://127.0.0.1:$HB_A\"}"
  metric_is "clusterd at b: no heartbeat frame refused yet" b \
    "pairfs_heartbeat_refused_frames_total$HB_SERIES" 0
  # _hb_refused_counted: a scrape of b shows the garbage frames refused on its heartbeat link.
  _hb_refused_counted() {
    scrape b "$METRICS_B" && [ "$(metric b "pairfs_heartbeat_refused_frames_total$HB_SERIES")" -ge 1 ] 2>/dev/null
  }
  check "20 malformed frames sent to b's heartbeat port" timeout 60 "$TOOLS/wire_send" \
    "tcp://127.0.0.1:$HB_B" garbage 20 "${PAIRFS_TEST_SEED:-$RANDOM}"
  check "clusterd at b: the garbage is counted in pairfs_heartbeat_refused_frames_total" \
    wait_until 10 _hb_refused_counted
else fail "clusterd at b starts" "$(tail -3 "$WORK/b.clusterd.log")"; fi

# --- writes through the mount grow the counters and the histograms
SERIES='{mode="sync",peer_site="b",volume="vm1"}'
writes0=$(metric a "pairfs_replicated_writes_total$SERIES")
bytes0=$(metric a "pairfs_replicated_bytes_total$SERIES")
fuse0=$(metric a 'pairfs_write_stage_latency_seconds_count{stage="fuse_write"}')
served0=$(metric b 'pairfs_write_stage_latency_seconds_count{stage="serve_write"}')
require "8 direct writes of 128 KiB through the mount at a" \
  dd if=/dev/urandom of="$WORK/mnt-a/vm1" bs=128k count=8 oflag=direct conv=notrunc status=none
scrape a "$METRICS_A"
scrape b "$METRICS_B"
writes1=$(metric a "pairfs_replicated_writes_total$SERIES")
bytes1=$(metric a "pairfs_replicated_bytes_total$SERIES")
if [ -n "$writes1" ] && [ "$((writes1 - writes0))" -ge 8 ] && [ "$((bytes1 - bytes0))" -ge $((1024 * 1024)) ]; then
  pass "replicated writes and bytes grew by the writes (at least 8 writes, 1 MiB)"
else fail "replicated writes and bytes grew by the writes" "writes $writes0 -> $writes1, bytes $bytes0 -> $bytes1, PAIR gauge $(metric a 'pairfs_pair_status{status="PAIR",volume="vm1"}')"; fi
fuse1=$(metric a 'pairfs_write_stage_latency_seconds_count{stage="fuse_write"}')
served1=$(metric b 'pairfs_write_stage_latency_seconds_count{stage="serve_write"}')
if [ -n "$fuse1" ] && [ -n "$served1" ] && [ "${fuse1%.*}" -ge $(( ${fuse0%.*} + 8 )) ] &&
  [ "${served1%.*}" -ge $(( ${served0%.*} + 8 )) ]; then
  pass "the fuse_write histogram at a and the serve_write one at b counted the writes"
else fail "the write-stage histograms counted the writes" "fuse_write $fuse0 -> $fuse1, serve_write $served0 -> $served1"; fi

# --- per volume: N writes + fsyncs to vm1 through a's mount grow vm1's write and fsync
# histograms by at least N; the idle volume's (same site, no request) and vm1's at b (nothing
# through b's mount) stay 0
require "volume create idle 1M at a" pairctl a volume create idle 1M
scrape a "$METRICS_A"
vw0=$(metric a 'pairfs_write_latency_seconds_count{volume="vm1"}')
vf0=$(metric a 'pairfs_fsync_latency_seconds_count{volume="vm1"}')
N=8
require "$N writes, each followed by an fsync, to vm1 at a" python3 - "$WORK/mnt-a/vm1" "$N" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
for i in range(int(sys.argv[2])):
    os.pwrite(fd, os.urandom(4096), i * 4096)
    os.fsync(fd)
os.close(fd)
PY
scrape a "$METRICS_A"
scrape b "$METRICS_B"
vw1=$(metric a 'pairfs_write_latency_seconds_count{volume="vm1"}')
vf1=$(metric a 'pairfs_fsync_latency_seconds_count{volume="vm1"}')
if [ -n "$vw0" ] && [ -n "$vf0" ] && [ -n "$vw1" ] && [ -n "$vf1" ] &&
  [ "${vw1%.*}" -ge $(( ${vw0%.*} + N )) ] && [ "${vf1%.*}" -ge $(( ${vf0%.*} + N )) ]; then
  pass "vm1's write and fsync latency histograms at a counted the $N writes and fsyncs"
else fail "vm1's write and fsync latency histograms at a counted the $N writes and fsyncs" \
  "write _count $vw0 -> $vw1, fsync _count $vf0 -> $vf1"; fi
metric_is "the idle volume's write histogram stays 0" a 'pairfs_write_latency_seconds_count{volume="idle"}' 0
metric_is "the idle volume's fsync histogram stays 0" a 'pairfs_fsync_latency_seconds_count{volume="idle"}' 0
metric_is "... and its +Inf bucket" a 'pairfs_fsync_latency_seconds_bucket{le="+Inf",volume="idle"}' 0
metric_is "vm1's write histogram at b (nothing through b's mount) stays 0" b \
  'pairfs_write_latency_seconds_count{volume="vm1"}' 0

# --- O_DSYNC writes (no fsync call): each is a write and an fsync (pairfs(8) O_DSYNC), counted in
# vm1's fsync histogram at a and flushed at b (its serve_flush stage: b's fdatasync)
scrape a "$METRICS_A"
scrape b "$METRICS_B"
df0=$(metric a 'pairfs_fsync_latency_seconds_count{volume="vm1"}')
sf0=$(metric b 'pairfs_write_stage_latency_seconds_count{stage="serve_flush"}')
require "$N O_DSYNC writes to vm1 at a" python3 - "$WORK/mnt-a/vm1" "$N" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_DSYNC)
for i in range(int(sys.argv[2])):
    os.pwrite(fd, os.urandom(4096), i * 4096)
os.close(fd)
PY
scrape a "$METRICS_A"
scrape b "$METRICS_B"
df1=$(metric a 'pairfs_fsync_latency_seconds_count{volume="vm1"}')
sf1=$(metric b 'pairfs_write_stage_latency_seconds_count{stage="serve_flush"}')
if [ -n "$df0" ] && [ -n "$df1" ] && [ -n "$sf0" ] && [ -n "$sf1" ] &&
  [ "${df1%.*}" -ge $(( ${df0%.*} + N )) ] && [ "${sf1%.*}" -ge $(( ${sf0%.*} + N )) ]; then
  pass "$N O_DSYNC writes were $N fsyncs at a and $N flushes at b"
else fail "$N O_DSYNC writes were $N fsyncs at a and $N flushes at b" \
  "vm1 fsync _count at a $df0 -> $df1, serve_flush _count at b $sf0 -> $sf1"; fi

# --- an async pair: its writes counted as journaled, its journal's gauges
require "volume create db 8M at a" pairctl a volume create db 8M
require "create db --mode async --group app" pairctl a create db --mode async --group app
require "wait db PAIR" pairctl a wait db --status PAIR --timeout 60
ASYNC='{mode="async",peer_site="b",volume="db"}'
scrape a "$METRICS_A"
async0=$(metric a "pairfs_replicated_writes_total$ASYNC")
require "4 direct writes of 64 KiB to db at a" \
  dd if=/dev/urandom of="$WORK/mnt-a/db" bs=64k count=4 oflag=direct conv=notrunc status=none
scrape a "$METRICS_A"
async1=$(metric a "pairfs_replicated_writes_total$ASYNC")
if [ -n "$async1" ] && [ "$((async1 - async0))" -ge 4 ]; then pass "the async pair's writes are counted"
else fail "the async pair's writes are counted" "$async0 -> $async1"; fi
metric_is "the async pair's journal size is [journal] size" a \
  'pairfs_journal_size_bytes{group="app",volume="db"}' 16777216
if [ -n "$(metric a 'pairfs_journal_lag_seconds{group="app",volume="db"}')" ] &&
  [ -z "$(metric a 'pairfs_journal_lag_seconds{group="",volume="vm1"}')" ]; then
  pass "journal lag series for the async pair only"
else fail "journal lag series for the async pair only" "$(grep journal_lag "$WORK/samples-a.txt")"; fi

# --- split: PSUS 1, PAIR 0
require "split vm1" pairctl a split vm1
scrape a "$METRICS_A"
metric_is "after split: PSUS 1 at a" a 'pairfs_pair_status{status="PSUS",volume="vm1"}' 1
metric_is "after split: PAIR 0 at a" a 'pairfs_pair_status{status="PAIR",volume="vm1"}' 0

# --- another path: 404
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "http://127.0.0.1:$METRICS_A/")
other=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "http://127.0.0.1:$METRICS_A/metrics/x")
if [ "$code" = 404 ] && [ "$other" = 404 ]; then pass "/ and /metrics/x are 404"
else fail "/ and /metrics/x are 404" "got $code and $other"; fi

# --- no metrics key: the node listens on no TCP port (its control endpoint is ipc://)
write_config solo
must_start solo
listening=$(ss -Hltnp 2>/dev/null | grep -c "pid=$PID_solo," || true)
if [ "$listening" = 0 ]; then pass "a site without [site] metrics listens on no TCP port"
else fail "a site without [site] metrics listens on no TCP port" "$(ss -Hltnp | grep "pid=$PID_solo,")"; fi

# --- the idle client was disconnected, not served forever
wait "$IDLE_PID" 2>/dev/null
if [ "$(cat "$WORK/idle.out")" = closed ]; then pass "an idle connection to /metrics is closed by the server"
else fail "an idle connection to /metrics is closed by the server" "$(cat "$WORK/idle.out")"; fi

# --- a clean stop with the endpoint serving; its port is free again
stop_site a
rc=$?
if [ "$rc" = 0 ]; then pass "site a stops cleanly (exit 0) with its metrics endpoint"
else fail "site a stops cleanly (exit 0) with its metrics endpoint" "exit $rc"; fi
if curl -s --max-time 5 -o /dev/null "http://127.0.0.1:$METRICS_A/metrics"; then
  fail "after the stop nothing listens on site a's metrics port" "it answered"
else pass "after the stop nothing listens on site a's metrics port"; fi
finish
