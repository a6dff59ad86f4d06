# Sourced by scripts/bench.sh: pairfs sites and pairs of sites, the WAN proxy between them,
# pairctl at a site.

# ---------------------------------------------------------------------------------------------
# pairfs sites (one site each; used by the pairfs target and the RSS measurement)

PAIRFS_PID_bench="" PAIRFS_PID_rss=""
# pairfs_start NAME [SITE [TOML]]: config $SCRATCH/NAME.toml for site SITE (default a), TOML being
# more lines after the [site] keys (listen, a [peer] table), data $SCRATCH/NAME-data, mount
# $SCRATCH/NAME-mnt, log $SCRATCH/NAME.log (pairfs -f logs to stderr); sets PAIRFS_PID_NAME.
# PAIRFS_BIN, if set, is the pairfs program to run instead of build/pairfs (the *_ref targets).
pairfs_start() {
  local name=$1 site=${2:-a} extra=${3:-} data=$SCRATCH/$1-data mnt=$SCRATCH/$1-mnt conf=$SCRATCH/$1.toml
  local log=$SCRATCH/$1.log pid _
  mkdir -p "$data" "$mnt"
  cat > "$conf" <<TOML
[site]
name = "$site"
data_dir = "$data"
control = "ipc://$data/control.sock"
$extra
TOML
  "${PAIRFS_BIN:-$PAIRFS}" -f -c "$conf" "$mnt" >> "$log" 2>&1 &
  pid=$!
  _PIDS+=("$pid")
  _MOUNTS+=("$mnt")
  printf -v "PAIRFS_PID_$name" '%s' "$pid"
  wait_mount "$mnt" "$pid" "$log" || return 1
  for _ in $(seq 100); do
    "$PAIRCTL" -c "$conf" volume list >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { say "pairfs exited:"; cat "$log" >&2; return 1; }
    sleep 0.1
  done
  say "pairfs control endpoint did not answer after 10 s:"; cat "$log" >&2; return 1
}

# free_ports N FROM: N TCP ports on 127.0.0.1 from FROM upwards that can be bound now (below the
# ephemeral range, so that no outgoing connection takes one meanwhile)
free_ports() {
  python3 - "$1" "$2" <<'PY'
import socket, sys
n, p, out = int(sys.argv[1]), int(sys.argv[2]), []
while len(out) < n and p < 32768:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        out.append(p)
    except OSError:
        pass
    finally:
        s.close()
    p += 1
if len(out) < n:
    sys.exit("no free ports")
print(" ".join(map(str, out)))
PY
}

# pair_start NAME_A NAME_B FIRST_PORT [curve|wan]: sites a (NAME_A) and b (NAME_B), each the
# other's peer on two free loopback ports from FIRST_PORT up. With curve, [security] keys; with
# wan, each site's peer endpoint is a route of one wan_proxy (two more free ports) toward the
# other's listen endpoint: a dials one route, b the other (log $SCRATCH/NAME_A-wan.log, PID in
# WAN_PID_NAME_A, stopped by wan_stop).
pair_start() {
  local na=$1 nb=$2 ports pa pb wab wba peer_a peer_b sec_a="" sec_b=""
  ports=$(free_ports 4 "$3") || { say "no free TCP ports from $3 up"; return 1; }
  read -r pa pb wab wba <<< "$ports"
  peer_a=$pb peer_b=$pa
  if [ "${4:-}" = wan ]; then
    wan_start "$na" "$wab" "$pb" "$wba" "$pa" || return 1
    peer_a=$wab peer_b=$wba
  fi
  if [ "${4:-}" = curve ]; then
    local keys=$SCRATCH/$na-keys
    mkdir -p "$keys" && "$PAIRCTL" keygen a --dir "$keys" >/dev/null && "$PAIRCTL" keygen b --dir "$keys" >/dev/null \
      || { say "pairctl keygen failed"; return 1; }
    printf -v sec_a '\n[security]\nsecret_key = "%s"\npeer_public_keys = ["%s"]' "$keys/a.key" "$keys/b.pub"
    printf -v sec_b '\n[security]\nsecret_key = "%s"\npeer_public_keys = ["%s"]' "$keys/b.key" "$keys/a.pub"
  fi
  local journal
  printf -v journal '\n[journal]\nsize = "%s"' "$JOURNAL_SIZE"
  pairfs_start "$na" a "listen = \"tcp://127.0.0.1:$pa\"
[peer]
name = \"b\"
endpoint = \"tcp://127.0.0.1:$peer_a\"$sec_a$journal" || return 1
  pairfs_start "$nb" b "listen = \"tcp://127.0.0.1:$pb\"
[peer]
name = \"a\"
endpoint = \"tcp://127.0.0.1:$peer_b\"$sec_b$journal" || return 1
}

# wan_start NAME PORT_AB TO_B PORT_BA TO_A: one wan_proxy with the routes PORT_AB -> TO_B and
# PORT_BA -> TO_A, BENCH_WAN_DELAY_MS each way (BENCH_WAN_RATE_MBPS, if not 0); waits until both listen.
wan_start() {
  local name=$1 log=$SCRATCH/$1-wan.log rate=() pid _
  [ "$WAN_RATE_MBPS" != 0 ] && rate=(--rate-mbps "$WAN_RATE_MBPS")
  "$WAN_PROXY" --listen "127.0.0.1:$2" --to "127.0.0.1:$3" --listen "127.0.0.1:$4" --to "127.0.0.1:$5" \
    --delay-ms "$WAN_DELAY_MS" "${rate[@]}" >> "$log" 2>&1 &
  pid=$!
  _PIDS+=("$pid")
  printf -v "WAN_PID_$name" '%s' "$pid"
  for _ in $(seq 100); do
    [ "$(grep -c 'listening on' "$log")" -ge 2 ] && return 0
    kill -0 "$pid" 2>/dev/null || { say "wan_proxy exited:"; cat "$log" >&2; return 1; }
    sleep 0.1
  done
  say "wan_proxy did not listen:"; cat "$log" >&2; return 1
}

# wan_stop NAME: stops the proxy wan_start NAME started, if any.
wan_stop() {
  local var=WAN_PID_$1
  [ -n "${!var:-}" ] && stop_pid "${!var}"
  printf -v "$var" '%s' ""
}

# pairfs_stop NAME: SIGTERM its pairfs (which unmounts), wait; clear a leftover mount.
pairfs_stop() {
  local name=$1 var=PAIRFS_PID_$1
  local pid=${!var:-}
  [ -n "$pid" ] && stop_pid "$pid"
  unmount "$SCRATCH/$name-mnt" 2>/dev/null || true
  printf -v "$var" '%s' ""
}

pairctl_site() { local name=$1; shift; "$PAIRCTL" -c "$SCRATCH/$name.toml" "$@"; }

# pair_field NAME VOLUME FIELD: a field of `pairctl --json display VOLUME` at site NAME
pair_field() {
  pairctl_site "$1" --json display "$2" | python3 -c 'import json, sys; print(json.load(sys.stdin)[0][sys.argv[1]])' "$3"
}

# pair_create NAME VOLUME MODE: `pairctl create VOLUME --mode MODE` at site NAME. An async pair's
# create writes the first 64 MiB of both sites' journals before it answers (earlier releases wrote
# them whole), which took longer than pairctl's 10 s on a busy disk: pairctl then gives up while
# the node goes on.
# So after "no answer" this waits up to 120 s for the pair to leave SMPL, and asks again (at most 3
# times) if it has not (a create whose request to the peer timed out leaves the volume SMPL).
pair_create() {
  local msg attempt _
  for attempt in 1 2 3; do
    msg=$(pairctl_site "$1" create "$2" --mode "$3" 2>&1) && return 0
    grep -q "no answer within" <<< "$msg" || { say "pairctl create $2 --mode $3 failed: $msg"; return 1; }
    say "note: pairctl create $2 --mode $3 got no answer in time (attempt $attempt; journals being written?)"
    for _ in $(seq 120); do
      [ "$(pair_field "$1" "$2" status 2>/dev/null)" != SMPL ] && return 0
      sleep 1
    done
  done
  say "pairctl create $2 --mode $3: still SMPL after 3 attempts"; return 1
}

# now: seconds since the epoch, with fractions
now() { date +%s.%N; }
