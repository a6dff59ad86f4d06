# Sourced by scripts/bench.sh: the GlusterFS columns (gluster, gluster_virt).

# ---------------------------------------------------------------------------------------------
# GlusterFS: one glusterd of our own for both gluster targets, started by the first setup and
# stopped (by the PID in its pidfile) by the last teardown or by cleanup. The brick and self-heal
# processes glusterd starts are recorded by PID from their pidfiles; the FUSE client by its command
# line (our mount point); all are killed by PID if `volume stop` / umount left them running.

GLUSTERD_PID="" GLUSTER_HOST="" HOSTS_LINE="" GLUSTER_VOLS=() GLUSTER_PIDS=()
GLUSTER_HOSTS_NAME=pairfs-bench-gluster GLUSTER_HOSTS_ADDR=127.0.1.77

# alive PID: the process exists and is not a zombie
alive() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# kill_gluster_pid PID: SIGTERM then SIGKILL a gluster process we started, if it still is one
kill_gluster_pid() {
  local pid=$1 comm _
  comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 0
  case $comm in glusterd | glusterfs | glusterfsd) ;; *) return 0 ;; esac
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do alive "$pid" || return 0; sleep 0.1; done
  say "$comm PID $pid did not stop on SIGTERM; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

# hosts_restore: remove the one /etc/hosts line gluster_host added (in place: /etc/hosts may be a
# bind mount)
hosts_restore() {
  [ -n "$HOSTS_LINE" ] || return 0
  python3 - "$HOSTS_LINE" <<'PY' || say "warning: could not remove '$HOSTS_LINE' from /etc/hosts"
import sys
line = sys.argv[1]
with open("/etc/hosts", "r+") as f:
    lines = f.read().split("\n")
    for i in range(len(lines) - 1, -1, -1):
        if lines[i] == line:
            del lines[i]
            break
    f.seek(0)
    f.write("\n".join(lines))
    f.truncate()
PY
  HOSTS_LINE=""
}

# gluster_host: sets GLUSTER_HOST, a name for this machine that the gluster CLI accepts as a brick
# host (it refuses localhost and 127.0.0.1 spelled out)
gluster_host() {
  [ -n "$GLUSTER_HOST" ] && return 0
  local h addr
  case $GLUSTER_HOST_MODE in
    auto)
      h=$(hostname)
      addr=$(getent hosts "$h" | awk '{print $1; exit}')
      if [ "$h" != localhost ] && [[ $addr == 127.* ]]; then GLUSTER_HOST=$h; return 0; fi
      ;;
    hosts) ;;
    *) GLUSTER_HOST=$GLUSTER_HOST_MODE; return 0 ;;
  esac
  if getent hosts "$GLUSTER_HOSTS_NAME" >/dev/null; then
    say "$GLUSTER_HOSTS_NAME already resolves ($(getent hosts "$GLUSTER_HOSTS_NAME" | head -1)); using it"
    GLUSTER_HOST=$GLUSTER_HOSTS_NAME; return 0
  fi
  HOSTS_LINE="$GLUSTER_HOSTS_ADDR $GLUSTER_HOSTS_NAME"
  [ -z "$(tail -c 1 /etc/hosts)" ] || echo >> /etc/hosts
  echo "$HOSTS_LINE" >> /etc/hosts
  say "added '$HOSTS_LINE' to /etc/hosts for the run"
  GLUSTER_HOST=$GLUSTER_HOSTS_NAME
}

gluster_cli() { timeout 120 gluster --mode=script "$@"; }

gluster_daemon_start() {
  [ -n "$GLUSTERD_PID" ] && return 0
  local pidfile=$SCRATCH/glusterd.pid _
  if pgrep -x glusterd >/dev/null; then
    say "a glusterd is already running (PID $(pgrep -x glusterd | tr '\n' ' ')); the benchmark runs only with a glusterd of its own"
    return 1
  fi
  if [ -d /var/lib/glusterd/vols ] && [ -n "$(ls -A /var/lib/glusterd/vols)" ]; then
    say "glusterd has volumes configured ($(ls /var/lib/glusterd/vols | tr '\n' ' ')); the benchmark would start their bricks too: delete them first"
    return 1
  fi
  gluster_host || return 1
  say "starting glusterd (bricks on host $GLUSTER_HOST)"
  glusterd -p "$pidfile" -l "$SCRATCH/glusterd.log" || { say "glusterd failed"; return 1; }
  for _ in $(seq 100); do [ -s "$pidfile" ] && break; sleep 0.1; done
  [ -s "$pidfile" ] || { say "glusterd wrote no pidfile"; tail -20 "$SCRATCH/glusterd.log" >&2; return 1; }
  GLUSTERD_PID=$(cat "$pidfile")
  for _ in $(seq 200); do
    gluster_cli pool list >/dev/null 2>&1 && return 0
    alive "$GLUSTERD_PID" || break
    sleep 0.1
  done
  say "glusterd did not answer:"; tail -20 "$SCRATCH/glusterd.log" >&2; return 1
}

# gluster_daemon_stop [force]: once no benchmark volume is left (or with force): kill what glusterd
# started for us, then glusterd, by PID
gluster_daemon_stop() {
  local pid
  [ "${1:-}" = force ] || [ ${#GLUSTER_VOLS[@]} -eq 0 ] || return 0
  [ ${#GLUSTER_VOLS[@]} -eq 0 ] || say "warning: gluster volume(s) ${GLUSTER_VOLS[*]} not deleted; see /var/lib/glusterd/vols"
  for pid in "${GLUSTER_PIDS[@]}"; do kill_gluster_pid "$pid"; done
  GLUSTER_PIDS=()
  if [ -n "$GLUSTERD_PID" ]; then
    kill_gluster_pid "$GLUSTERD_PID"
    GLUSTERD_PID=""
  fi
  hosts_restore
}

# gluster_record_pids VOLUME MOUNTPOINT: the PIDs of its bricks, self-heal daemon and FUSE client
gluster_record_pids() {
  local vol=$1 mnt=$2 f pid c
  for f in /var/run/gluster/vols/"$vol"/*.pid /var/run/gluster/shd/"$vol"/*.pid /var/lib/glusterd/vols/"$vol"/run/*.pid; do
    [ -s "$f" ] || continue
    pid=$(tr -dc 0-9 < "$f")
    [ -n "$pid" ] && GLUSTER_PIDS+=("$pid")
  done
  for c in /proc/[0-9]*/cmdline; do
    if { tr '\0' ' ' < "$c"; } 2>/dev/null | grep -qE "^/usr/sbin/glusterfs .*--volfile-id=/?$vol .*$mnt( |\$)"; then
      pid=${c#/proc/}; GLUSTER_PIDS+=("${pid%/cmdline}")
    fi
  done
}

# gluster_target NAME VIRT ACTION: the gluster and gluster_virt targets
gluster_target() {
  local t=$1 virt=$2 vol=pairfsbench_${1}_${SCRATCH##*.} mnt=$SCRATCH/$1-mnt bricks=$SCRATCH/$1-bricks
  local log=$SCRATCH/$1.log v kept=()
  case $3 in
    label) if [ -n "$virt" ]; then echo "GlusterFS replica 2, group virt"; else echo "GlusterFS replica 2"; fi ;;
    setup)
      gluster_daemon_start || return 1
      mkdir -p "$bricks/1" "$bricks/2" "$mnt"
      # force: bricks on the root file system, and two bricks of a replica set on one host
      if ! gluster_cli volume create "$vol" replica 2 "$GLUSTER_HOST:$bricks/1" "$GLUSTER_HOST:$bricks/2" force \
          > "$log" 2>&1; then
        # a CLI that timed out may have left it created
        gluster_cli volume info "$vol" >/dev/null 2>&1 && GLUSTER_VOLS+=("$vol")
        say "gluster volume create failed:"; cat "$log" >&2; return 1
      fi
      GLUSTER_VOLS+=("$vol")
      if [ -n "$virt" ]; then
        [ -f /var/lib/glusterd/groups/virt ] \
          || { say "group virt: /var/lib/glusterd/groups/virt is missing (glusterfs-server ships it)"; return 1; }
        gluster_cli volume set "$vol" group virt >> "$log" 2>&1 \
          || { say "gluster volume set $vol group virt failed:"; cat "$log" >&2; return 1; }
      fi
      gluster_cli volume start "$vol" >> "$log" 2>&1 || { say "gluster volume start failed:"; cat "$log" >&2; return 1; }
      gluster_record_pids "$vol" ""
      _MOUNTS+=("$mnt")
      mount -t glusterfs "$GLUSTER_HOST:/$vol" "$mnt" >> "$log" 2>&1 \
        || { say "mount -t glusterfs failed:"; cat "$log" >&2; return 1; }
      gluster_record_pids "$vol" "$mnt"
      ;;
    path) echo "$mnt/testfile" ;;
    teardown)
      unmount "$mnt" 2>/dev/null || true
      for v in "${GLUSTER_VOLS[@]}"; do
        if [ "$v" = "$vol" ]; then
          gluster_cli volume stop "$vol" >> "$log" 2>&1 || say "warning: gluster volume stop $vol failed"
          if gluster_cli volume delete "$vol" >> "$log" 2>&1; then continue; fi
          say "warning: gluster volume delete $vol failed"
        fi
        kept+=("$v")
      done
      GLUSTER_VOLS=("${kept[@]}")
      gluster_daemon_stop
      mountpoint -q "$mnt" || rm -rf --one-file-system "$bricks"
      ;;
  esac
}
target_gluster() { gluster_target gluster "" "$1"; }
target_gluster_virt() { gluster_target gluster_virt virt "$1"; }
