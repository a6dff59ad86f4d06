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

cleanup() {
  local i
  for ((i = ${#_CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${_CLEANUPS[$i]}" >/dev/null 2>&1 || true; done
  for dev in "${_LOOPS[@]}"; do losetup -d "$dev" 2>/dev/null || true; done
  for ((i = ${#_MOUNTS[@]} - 1; i >= 0; i--)); do
    umount "${_MOUNTS[$i]}" 2>/dev/null || umount -l "${_MOUNTS[$i]}" 2>/dev/null || true
  done
  for pid in "${_PIDS[@]}"; do
    kill "$pid" 2>/dev/null && for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# write_config SITE [EXTRA_TOML]: a one-site config at $WORK/SITE.toml, data in $WORK/SITE.
write_config() {
  local site=$1
  mkdir -p "$WORK/$site" "$WORK/mnt-$site"
  cat > "$WORK/$site.toml" <<TOML
[site]
name = "$site"
data_dir = "$WORK/$site"
control = "ipc://$WORK/$site/control.sock"
${2:-}
TOML
}

# start_site SITE: runs pairfs in the foreground (in the background of this shell) on
# $WORK/mnt-SITE, records its PID, and waits until the mount and the control socket answer.
start_site() {
  local site=$1
  "$PAIRFS" -f -c "$WORK/$site.toml" "$WORK/mnt-$site" >> "$WORK/$site.log" 2>&1 &
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
  umount "$WORK/mnt-$site" 2>/dev/null || umount -l "$WORK/mnt-$site" 2>/dev/null || true
}

# stop_site SITE: SIGTERM, wait for a clean exit; returns pairfs's exit code.
stop_site() {
  local site=$1 pid_var="PID_$1"
  kill -TERM "${!pid_var}" 2>/dev/null
  wait "${!pid_var}"
}

pairctl() { "$PAIRCTL" -c "$WORK/$1.toml" "${@:2}"; }

# attach_loop FILE: attaches a loop device (detached again by cleanup) and sets $LOOP to it.
attach_loop() {
  LOOP=$(losetup -f --show "$1") || return 1
  _LOOPS+=("$LOOP")
}

finish() { [ "$FAILURES" -eq 0 ]; exit $?; }
