# Sourced by scripts/bench.sh: cleanup (its EXIT trap) and process helpers. Everything the
# benchmark starts is recorded by PID / mount point (_PIDS, _MOUNTS, _ACTIVE) and stopped by them.

cleanup() {
  local rc=$? i t pid m
  trap - EXIT INT TERM
  set +e
  for ((i = ${#_ACTIVE[@]} - 1; i >= 0; i--)); do
    t=${_ACTIVE[$i]}
    "target_$t" teardown >/dev/null 2>&1
  done
  # safety net for whatever a teardown left behind
  for ((i = ${#_MOUNTS[@]} - 1; i >= 0; i--)); do
    m=${_MOUNTS[$i]}
    mountpoint -q "$m" && { umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; }
  done
  for pid in "${_PIDS[@]}"; do stop_pid "$pid"; done
  gluster_daemon_stop force
  hosts_restore
  for m in "${_MOUNTS[@]}"; do
    mountpoint -q "$m" && { echo "bench: warning: $m still mounted; scratch $SCRATCH left in place" >&2; exit "$rc"; }
  done
  rm -rf --one-file-system "$SCRATCH"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT
trap 'echo "bench: terminated" >&2; exit 143' TERM

# stop_pid PID: SIGTERM, wait up to 10 s, then SIGKILL. Only PIDs this script started are passed.
stop_pid() {
  local pid=$1 _
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    say "PID $pid did not stop on SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# unmount DIR (lazily if it is busy), if mounted
unmount() {
  mountpoint -q "$1" || return 0
  umount "$1" 2>/dev/null || umount -l "$1"
}

# wait_mount DIR PID LOG: until DIR is a mount point; fails if PID exits first or after 10 s.
wait_mount() {
  local dir=$1 pid=$2 log=$3 _
  for _ in $(seq 100); do
    mountpoint -q "$dir" && return 0
    kill -0 "$pid" 2>/dev/null || { say "the process mounting $dir exited:"; cat "$log" >&2; return 1; }
    sleep 0.1
  done
  say "$dir was not mounted after 10 s:"; cat "$log" >&2; return 1
}

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
