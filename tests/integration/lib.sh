# Shared helpers for integration tests. Source it first thing:  . "$(dirname "$0")/lib.sh"
#
# Every test gets its own scratch directory ($WORK) and a cleanup trap that, even on failure,
# unmounts what it mounted, detaches loop devices, and stops by PID the daemons it started.
# Results are lines the runner counts: `pass NAME`, `fail NAME WHY`, `skip NAME WHY`.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PAIRFS=$ROOT/build/pairfs
PAIRCTL=$ROOT/build/pairctl
TOOLS=$ROOT/build/tools
WORK=$(mktemp -d /var/tmp/pairfs-test.XXXXXX)
FAILURES=0
_PIDS=() _MOUNTS=() _LOOPS=() _CLEANUPS=()

# python3 resolved once: behind a version manager's shim (pyenv's is a bash script that runs
# `pyenv exec`) each call costs about 0.6 s of CPU more, and the tests call python3 hundreds of
# times (json below, in every poll of a field; records.py). $WORK/bin/python3 is the interpreter
# the shim picks, first in PATH for the tests and what they start; no python3: nothing changes.
# tests/run.sh resolves it once for all the scripts (PAIRFS_TEST_PYTHON3).
if _python3=${PAIRFS_TEST_PYTHON3:-$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)} &&
   [ -x "$_python3" ]; then
  mkdir -p "$WORK/bin" && ln -s "$_python3" "$WORK/bin/python3" && PATH=$WORK/bin:$PATH
fi

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: ${2:-}"; FAILURES=$((FAILURES + 1)); }
skip() { echo "SKIP: $1: ${2:-}"; }
# check NAME COMMAND...: pass if the command succeeds, else fail with its output.
check() {
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$(echo "$out" | tail -3 | tr '\n' ' ')"; fi
}
# expect_errno NAME ERRNO_NAME COMMAND...: the command must fail and its message name the errno text.
expect_fail_with() {
  local name=$1 text=$2; shift 2
  local out
  if out=$("$@" 2>&1); then fail "$name" "succeeded, expected: $text"; return; fi
  if grep -qi -- "$text" <<<"$out"; then pass "$name"; else fail "$name" "expected '$text', got: $(echo "$out" | tail -2 | tr '\n' ' ')"; fi
}

on_cleanup() { _CLEANUPS+=("$*"); }

# _ours PID: the process still runs one of this test's daemons (its command line names $WORK).
# A daemon that has exited and been reaped may have its PID reused by an unrelated process.
_ours() { [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$WORK"; }
# _forget_pid PID: the process has been waited for; cleanup must not signal that PID again.
_forget_pid() {
  local kept=() pid
  for pid in "${_PIDS[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
  _PIDS=("${kept[@]}")
}

cleanup() {
  local i
  for ((i = ${#_CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${_CLEANUPS[$i]}" >/dev/null 2>&1 || true; done
  for dev in "${_LOOPS[@]}"; do losetup -d "$dev" 2>/dev/null || true; done
  for ((i = ${#_MOUNTS[@]} - 1; i >= 0; i--)); do
    umount "${_MOUNTS[$i]}" 2>/dev/null || umount -l "${_MOUNTS[$i]}" 2>/dev/null || true
  done
  for pid in "${_PIDS[@]}"; do
    _ours "$pid" || continue
    kill "$pid" 2>/dev/null && for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    _ours "$pid" && kill -9 "$pid" 2>/dev/null || true
  done
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# write_config SITE [EXTRA_TOML]: a one-site config at $WORK/SITE.toml, data in $WORK/SITE.
write_config() {
  local site=$1
  mkdir -p -m 0700 "$WORK/$site"   # the daemons refuse a data directory others can write
  mkdir -p "$WORK/mnt-$site"
  cat > "$WORK/$site.toml" <<TOML
[site]
name = "$site"
data_dir = "$WORK/$site"
control = "ipc://$WORK/$site/control.sock"
${2:-}
TOML
}

# Two sites' peer ports, apart per test process so that tests never meet each other's daemons;
# the next ones are the sites' heartbeat ports and a witness's.
PORT_A=$((20000 + ($$ % 1500) * 8))
PORT_B=$((PORT_A + 1))
HB_A=$((PORT_A + 2)) HB_B=$((PORT_A + 3))
PORT_W=$((PORT_A + 4))

# write_pair_configs [SITE_TOML_EXTRA]: configs for sites a and b that are each other's peer, on
# loopback ports $PORT_A and $PORT_B; the extra lines go into both [site] tables.
write_pair_configs() {
  write_config a "listen = \"tcp://127.0.0.1:$PORT_A\"
${1:-}
[peer]
name = \"b\"
endpoint = \"tcp://127.0.0.1:$PORT_B\""
  write_config b "listen = \"tcp://127.0.0.1:$PORT_B\"
${1:-}
[peer]
name = \"a\"
endpoint = \"tcp://127.0.0.1:$PORT_A\""
}

# secure_pair_configs: CURVE keys for sites a and b from `pairctl keygen` in $WORK/keys, and a
# [security] table in each site's config that trusts the other's public key only (call after
# write_pair_configs).
secure_pair_configs() {
  local keys=$WORK/keys pair
  mkdir -m 0700 "$keys"
  for pair in a:b b:a; do
    "$PAIRCTL" keygen "${pair%:*}" --dir "$keys" > /dev/null || return 1
  done
  for pair in a:b b:a; do
    printf '[security]\nsecret_key = "%s"\npeer_public_keys = ["%s"]\n' \
      "$keys/${pair%:*}.key" "$keys/${pair#*:}.pub" >> "$WORK/${pair%:*}.toml"
  done
}

# pair_field SITE NAME FIELD: a field of `pairctl --json display NAME` at SITE.
pair_field() {
  pairctl "$1" --json display "$2" | json "d[0]['$3']"
}

# start_site SITE [PAIRFS_OPTIONS...]: runs pairfs in the foreground (in the background of this
# shell) on $WORK/mnt-SITE, records its PID, and waits until the mount and the control socket answer.
start_site() {
  local site=$1
  "$PAIRFS" -f -c "$WORK/$site.toml" "${@:2}" "$WORK/mnt-$site" >> "$WORK/$site.log" 2>&1 &
  local pid=$!
  _PIDS+=("$pid")
  _MOUNTS+=("$WORK/mnt-$site")
  eval "PID_$site=$pid"
  for _ in $(seq 100); do
    if mountpoint -q "$WORK/mnt-$site" && "$PAIRCTL" -c "$WORK/$site.toml" volume list >/dev/null 2>&1; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { echo "pairfs for $site exited:"; cat "$WORK/$site.log"; return 1; }
    sleep 0.1
  done
  echo "pairfs for $site did not come up"; cat "$WORK/$site.log"; return 1
}

# kill9_site SITE: kill -9 the site's pairfs and clear its dead mount.
kill9_site() {
  local site=$1 pid_var="PID_$1"
  kill -9 "${!pid_var}" 2>/dev/null
  wait "${!pid_var}" 2>/dev/null
  _forget_pid "${!pid_var}"
  umount "$WORK/mnt-$site" 2>/dev/null || umount -l "$WORK/mnt-$site" 2>/dev/null || true
}

# stop_site SITE: SIGTERM, wait for a clean exit; returns pairfs's exit code (124 if it is still
# running 30 s later; cleanup then kills it).
stop_site() {
  local site=$1 pid_var="PID_$1"
  kill -TERM "${!pid_var}" 2>/dev/null
  wait_exit "${!pid_var}" 30
}

pairctl() { "$PAIRCTL" -c "$WORK/$1.toml" "${@:2}"; }

# attach_loop FILE [LOSETUP_OPTIONS...]: attaches a loop device (detached again by cleanup) and
# sets $LOOP to it.
attach_loop() {
  LOOP=$(losetup -f --show "${@:2}" "$1") || return 1
  _LOOPS+=("$LOOP")
}

# detach_loop DEV: detaches a loop device attach_loop made (and forgets it, so that cleanup never
# detaches a device of that number attached since by someone else).
detach_loop() {
  losetup -d "$1" || return 1
  local kept=() dev
  for dev in "${_LOOPS[@]}"; do [ "$dev" = "$1" ] || kept+=("$dev"); done
  _LOOPS=("${kept[@]}")
}

# wait_exit PID SECONDS: waits up to SECONDS for PID (a child of this shell) to exit and returns
# its exit code; returns 124 if it still runs (it is left to cleanup).
wait_exit() {
  local pid=$1 ticks=$(($2 * 10)) rc
  while [ "$ticks" -gt 0 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; ticks=$((ticks - 1)); done
  kill -0 "$pid" 2>/dev/null && return 124
  wait "$pid"; rc=$?
  _forget_pid "$pid"
  return $rc
}

# require NAME COMMAND...: like check, but a failure ends the script (what follows depends on it).
# check, require, expect_exit and expect_fail_with run COMMAND in a subshell: never give them
# start_site, stop_site, kill9_site, attach_loop or detach_loop, whose bookkeeping would be lost.
require() {
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$(echo "$out" | tail -5 | tr '\n' ' ')"; finish; fi
}

# must_start SITE [PAIRFS_OPTIONS...]: start_site, or fail and end the script (nothing else can be
# checked).
must_start() {
  start_site "$@" > "$WORK/start-$1.out" 2>&1 && return 0
  fail "pairfs for site $1 starts and mounts" "$(tail -5 "$WORK/start-$1.out" | tr '\n' ' ')"
  finish
}

# expect_exit NAME CODE TEXT COMMAND...: the command must exit with CODE and, unless TEXT is empty,
# print TEXT (case-insensitive, stdout or stderr). Its output is left in $OUT.
OUT=
expect_exit() {
  local name=$1 code=$2 text=$3 rc; shift 3
  OUT=$("$@" 2>&1); rc=$?
  if [ "$rc" -ne "$code" ]; then
    fail "$name" "exit $rc, expected $code: $(echo "$OUT" | tail -2 | tr '\n' ' ')"
  elif [ -n "$text" ] && ! grep -qi -- "$text" <<<"$OUT"; then
    fail "$name" "exit $rc as expected, but no '$text' in: $(echo "$OUT" | tail -2 | tr '\n' ' ')"
  else
    pass "$name"
  fi
}

# sum_of FILE [OFFSET LENGTH]: the sha256 of a file, or of LENGTH bytes of it at OFFSET.
sum_of() {
  # Large reads: through FUSE every read is a round trip to pairfs.
  if [ $# -eq 1 ]; then dd if="$1" bs=1M status=none | sha256sum | cut -d' ' -f1; return; fi
  dd if="$1" bs=1M iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none | sha256sum | cut -d' ' -f1
}

# json EXPR: reads a JSON document on stdin and prints the Python expression EXPR over it (`d`),
# strings bare, everything else as JSON (true, null, 42, ...). -S: the standard library is all it
# needs, and site-packages' start-up (certifi's .pth, ...) costs it more than its work.
json() {
  python3 -S -c 'import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print(v if isinstance(v, str) else json.dumps(v))' "$1"
}

# volume_field SITE NAME FIELD: a field of `pairctl --json volume list` for one volume.
volume_field() {
  pairctl "$1" --json volume list | json "[v for v in d if v['name'] == '$2'][0]['$3']"
}

# ---- faults and comparisons shared by the pair and cluster tests ----
_IPTABLES_TAG="pairfs-test-$$"
# drop_ports PORT...: iptables DROP of TCP to these ports, tagged with this test's PID; undone by
# heal_ports, and by cleanup in any case.
drop_ports() {
  local port
  for port in "$@"; do
    iptables -I INPUT -p tcp --dport "$port" -m comment --comment "$_IPTABLES_TAG" -j DROP || return 1
  done
}
# heal_ports: removes every rule drop_ports added.
heal_ports() {
  command -v iptables > /dev/null || return 0
  while iptables -S INPUT | grep -q -- "$_IPTABLES_TAG"; do
    iptables -S INPUT | grep -- "$_IPTABLES_TAG" | head -1 | sed 's/^-A/-D/' | xargs iptables || return 1
  done
}
on_cleanup heal_ports
ms_now() { date +%s%3N; }
# identical NAME VOLUME: pass if the volume reads the same at sites a and b (sha256 of the files).
identical() {
  if [ "$(sum_of "$WORK/mnt-a/$2")" = "$(sum_of "$WORK/mnt-b/$2")" ]; then pass "$1"; else fail "$1" "the copies differ"; fi
}
# Deadlines of the waits below only catch hangs: a test names the time the wait takes on an idle
# machine and waits $DEADLINE_SLACK times as long (default 4; a shared, busy CI machine is slow at
# random). A wait that succeeds returns at once, so the slack costs nothing when things work.
DEADLINE_SLACK=${DEADLINE_SLACK:-4}

# wait_until SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds (0) or SECONDS times
# the slack have passed (1).
wait_until() {
  local end=$(( $(date +%s) + $1 * DEADLINE_SLACK ))
  while :; do
    "${@:2}" && return 0
    [ "$(date +%s)" -ge "$end" ] && return 1
    sleep 0.1
  done
}

_field_is() { [ "$(pair_field "$1" "$2" "$3" 2>/dev/null)" = "$4" ]; }
# wait_field SITE VOLUME FIELD VALUE SECONDS: until `display --json` shows FIELD = VALUE.
wait_field() { wait_until "$5" _field_is "$1" "$2" "$3" "$4"; }

# ---- clusterd ----
CLUSTERD=$ROOT/build/clusterd

# write_cluster_configs [CLUSTER_TOML_EXTRA] [SITE_TOML_EXTRA]: write_pair_configs plus a
# [cluster] table at both sites: one heartbeat link ($HB_A, $HB_B), interval 200, timeout 1000,
# standby delay 200, determining volume `quorum`, managed volume `vm1`, hooks that append
# "started SITE" / "stopped SITE" to $WORK/hooks.log.
write_cluster_configs() {
  local site peer hb hb_peer
  write_pair_configs "${2:-}"
  for site in a b; do
    if [ "$site" = a ]; then peer=b hb=$HB_A hb_peer=$HB_B; else peer=a hb=$HB_B hb_peer=$HB_A; fi
    cat >> "$WORK/$site.toml" <<TOML
[cluster]
heartbeat_listen = ["tcp://127.0.0.1:$hb"]
heartbeat_peer = ["tcp://127.0.0.1:$hb_peer"]
interval_ms = 200
timeout_ms = 1000
standby_delay_ms = 200
determining_volume = "quorum"
volumes = ["vm1"]
on_start = "echo started \$PAIRFS_SITE >> $WORK/hooks.log"
on_stop = "echo stopped \$PAIRFS_SITE >> $WORK/hooks.log"
${1:-}
TOML
  done
}

# start_clusterd SITE: runs clusterd -f for SITE in the background, records its PID
# (CLPID_SITE) and waits until `pairctl cluster status` answers.
start_clusterd() {
  local site=$1
  "$CLUSTERD" -f -c "$WORK/$site.toml" >> "$WORK/$site.clusterd.log" 2>&1 &
  local pid=$!
  _PIDS+=("$pid")
  eval "CLPID_$site=$pid"
  for _ in $(seq 100); do
    "$PAIRCTL" -c "$WORK/$site.toml" cluster status >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { echo "clusterd for $site exited:"; cat "$WORK/$site.clusterd.log"; return 1; }
    sleep 0.1
  done
  echo "clusterd for $site did not answer"; return 1
}

# kill9_clusterd SITE: kill -9 the site's clusterd.
kill9_clusterd() {
  local pid_var="CLPID_$1"
  kill -9 "${!pid_var}" 2>/dev/null
  wait "${!pid_var}" 2>/dev/null
  _forget_pid "${!pid_var}"
}

# cluster_field SITE EXPR: a field of `pairctl --json cluster status` at SITE (json's EXPR over d).
cluster_field() { pairctl "$1" --json cluster status 2>/dev/null | json "$2"; }

_cluster_is() { [ "$(cluster_field "$1" "d['state']")" = "$2" ]; }
# wait_cluster SITE STATE SECONDS: waits until clusterd at SITE is in STATE.
wait_cluster() { wait_until "$3" _cluster_is "$1" "$2"; }

# create_cluster_pairs VM1_SIZE: at a, the determining volume quorum (1M, fence never) and vm1
# (VM1_SIZE, the default fence level), both sync pairs, in PAIR; the script ends if one fails.
create_cluster_pairs() {
  require "volume create quorum 1M" pairctl a volume create quorum 1M
  require "volume create vm1 $1" pairctl a volume create vm1 "$1"
  require "create the determining volume's pair" pairctl a create quorum --mode sync --fence never
  require "create vm1's pair" pairctl a create vm1 --mode sync
  require "quorum in PAIR" pairctl a wait quorum --status PAIR --timeout 60
  require "vm1 in PAIR" pairctl a wait vm1 --status PAIR --timeout 60
}

# start_clusterds: clusterd at a, ACTIVE alone, then at b, STANDBY; the script ends if not.
start_clusterds() {
  start_clusterd a > /dev/null 2>&1 || { fail "clusterd a starts" "$(tail -3 "$WORK/a.clusterd.log")"; finish; }
  require "a becomes ACTIVE" wait_cluster a ACTIVE 6
  start_clusterd b > /dev/null 2>&1 || { fail "clusterd b starts" "$(tail -3 "$WORK/b.clusterd.log")"; finish; }
  require "b joins as STANDBY" wait_cluster b STANDBY 5
}

# write_witness_config ENDPOINT: $WORK/w.toml for a witness site w serving a and b at ENDPOINT.
write_witness_config() {
  mkdir -p -m 0700 "$WORK/w"
  cat > "$WORK/w.toml" <<TOML
[site]
name = "w"
data_dir = "$WORK/w"

[witness]
endpoint = "$1"
sites = ["a", "b"]
TOML
}

# report_ms NAME ELAPSED: prints how long NAME took, for the log only. Tests never fail on time
# (a shared, busy machine is slow at random); make bench and make bench-failover measure times.
report_ms() { echo "TIME: $1: $2 ms"; }

# hooks_count LINE: how many times LINE ("started a", "stopped b") is in $WORK/hooks.log.
hooks_count() { grep -cx -- "$1" "$WORK/hooks.log" 2>/dev/null || true; }

finish() { [ "$FAILURES" -eq 0 ]; exit $?; }

# ---- a WAN between the sites: build/tools/wan_proxy (tests/tools/wan_proxy/) ----
# The replication link is two TCP connections, one per direction: each site's DEALER dials the
# other's `listen` endpoint (its [peer] endpoint) and carries every frame that site sends; answers
# come back on the other one. One proxy process with two routes sits on both: a dials $WAN_AB
# (forwarded to b's $PORT_B), b dials $WAN_BA (forwarded to a's $PORT_A), so a request and its
# answer each cross the delay once, and one signal stalls or heals the whole link. What does NOT
# go through it: clusterd's heartbeats ([cluster] heartbeat_peer, $HB_A/$HB_B), a witness's
# endpoint ($PORT_W), the control sockets (local ipc://).
WAN_AB=$((PORT_A + 5)) WAN_BA=$((PORT_A + 6))
WAN=$ROOT/build/tools/wan_proxy
WAN_PID=

# start_wan DELAY_MS [RATE_MBPS] [WAN_PROXY_OPTIONS...]: starts the proxy between a and b (each
# direction delayed DELAY_MS, capped at RATE_MBPS MB/s unless empty or 0; log $WORK/wan.log),
# records WAN_PID and waits until both routes listen; cleanup stops it. Start it before the sites.
start_wan() {
  local rate=() before
  [ -n "${2:-}" ] && [ "${2:-0}" != 0 ] && rate=(--rate-mbps "$2")
  before=$(grep -c 'listening on' "$WORK/wan.log" 2>/dev/null)
  "$WAN" --listen "127.0.0.1:$WAN_AB" --to "127.0.0.1:$PORT_B" --listen "127.0.0.1:$WAN_BA" \
    --to "127.0.0.1:$PORT_A" --delay-ms "$1" "${rate[@]}" "${@:3}" >> "$WORK/wan.log" 2>&1 &
  WAN_PID=$!
  on_cleanup stop_wan
  for _ in $(seq 100); do
    [ "$(grep -c 'listening on' "$WORK/wan.log")" -ge $((${before:-0} + 2)) ] && return 0
    kill -0 "$WAN_PID" 2>/dev/null || { echo "wan_proxy exited:"; cat "$WORK/wan.log"; return 1; }
    sleep 0.1
  done
  echo "wan_proxy did not listen"; cat "$WORK/wan.log"; return 1
}

# stop_wan: SIGTERM to the proxy start_wan started (if that PID still runs wan_proxy on our
# ports), and its exit code (0: a clean exit; 124 if it still runs 10 s later, then SIGKILL).
stop_wan() {
  local rc=0
  [ -n "$WAN_PID" ] || return 0
  if tr '\0' ' ' < "/proc/$WAN_PID/cmdline" 2>/dev/null | grep -qF -- "127.0.0.1:$WAN_AB "; then
    kill -TERM "$WAN_PID" 2>/dev/null
    wait_exit "$WAN_PID" 10
    rc=$?
    [ $rc -eq 124 ] && kill -9 "$WAN_PID" 2>/dev/null
  fi
  WAN_PID=
  return $rc
}

# route_peers_through_wan: after write_pair_configs or write_cluster_configs, a's [peer] endpoint
# is the proxy's $WAN_AB and b's its $WAN_BA (the sites' own listen endpoints do not change).
route_peers_through_wan() {
  sed -i "s|^endpoint = \"tcp://127.0.0.1:$PORT_B\"\$|endpoint = \"tcp://127.0.0.1:$WAN_AB\"|" "$WORK/a.toml"
  sed -i "s|^endpoint = \"tcp://127.0.0.1:$PORT_A\"\$|endpoint = \"tcp://127.0.0.1:$WAN_BA\"|" "$WORK/b.toml"
  grep -qF "127.0.0.1:$WAN_AB" "$WORK/a.toml" && grep -qF "127.0.0.1:$WAN_BA" "$WORK/b.toml"
}

# wan_signal SIGNAL WORD: sends SIGNAL to the proxy and waits until it has logged one more line
# with WORD (the proxy logs it once the change took effect: no race with what the test does next).
wan_signal() {
  local before
  before=$(grep -c -- ": $2" "$WORK/wan.log")
  kill "-$1" "$WAN_PID" || return 1
  wait_until 5 _wan_logged_more "$2" "$before"
}
_wan_logged_more() { [ "$(grep -c -- ": $1" "$WORK/wan.log")" -gt "$2" ]; }
# wan_stall: forwarding stops both ways, connections stay open (like iptables DROP); wan_heal:
# forwarding resumes; wan_reset: every proxied connection is reset (RST), new ones are served;
# wan_cut (a proxy started with --usr1 cut): connections reset and new ones refused until wan_heal.
wan_stall() { wan_signal USR1 stalled; }
wan_cut() { wan_signal USR1 cut; }
wan_heal() { wan_signal USR2 healed; }
wan_reset() { wan_signal HUP reset; }

# ---- shared setups of the async and ext4 scripts (helper house, issue 12) ----
# start_sites_over_wan DELAY_MS [RATE_MBPS]: after write_pair_configs, both sites' replication
# link through a WAN of DELAY_MS each way (start_wan; RATE_MBPS as there), then a and b started;
# sets MA and MB (the mounts). Ends the script (finish) when the proxy is not built or does not
# start; a site that does not start ends it too (must_start).
start_sites_over_wan() {
  [ -x "$WAN" ] || { fail "wan_proxy is built" "$WAN missing: make build/tools/wan_proxy"; finish; }
  require "a's and b's peer endpoints point at the proxy" route_peers_through_wan
  start_wan "$@" > "$WORK/start-wan.out" 2>&1 || { fail "wan_proxy starts" "$(tail -3 "$WORK/start-wan.out")"; finish; }
  must_start a
  must_start b
  MA=$WORK/mnt-a MB=$WORK/mnt-b
}

# create_async_group DB_SIZE LOG_SIZE: the volumes db and log at a, paired async in group app,
# both waited for in PAIR (each step a `require`).
create_async_group() {
  require "volume create db $1" pairctl a volume create db "$1"
  require "volume create log $2" pairctl a volume create log "$2"
  require "create db --mode async --group app" pairctl a create db --mode async --group app
  require "create log --mode async --group app" pairctl a create log --mode async --group app
  require "db in PAIR" pairctl a wait db --status PAIR --timeout 60
  require "log in PAIR" pairctl a wait log --status PAIR --timeout 60
}

# ext4_on_pair MODE: a 256M volume disk at a paired in MODE (sync or async) and waited for in
# PAIR, a loop device on a's volume file ($LOOP), an ext4 made on it and mounted at $E; $S is a
# second mount point for scratch copies. Both mount points are unmounted at cleanup (the loop
# device is detached by attach_loop's own cleanup). Ends the script when the loop device fails.
ext4_on_pair() {
  MA=$WORK/mnt-a MB=$WORK/mnt-b
  E=$WORK/ext4 S=$WORK/scratch
  mkdir -p "$E" "$S"
  on_cleanup "umount '$E' 2>/dev/null || umount -l '$E'"
  on_cleanup "umount '$S' 2>/dev/null || umount -l '$S'"
  require "volume create disk 256M at a" pairctl a volume create disk 256M
  require "create disk --mode $1" pairctl a create disk --mode "$1"
  require "disk in PAIR" pairctl a wait disk --status PAIR --timeout 60
  if attach_loop "$MA/disk"; then pass "losetup on the primary's volume file"; else fail "losetup on the primary's volume file"; finish; fi
  require "mkfs.ext4 on the loop device" mkfs.ext4 -q -F "$LOOP"
  require "the ext4 mounts at a" mount "$LOOP" "$E"
}
