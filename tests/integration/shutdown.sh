#!/usr/bin/env bash
# Shutdown and exclusivity: SIGTERM and umount end pairfs cleanly (exit 0, mount gone, pairctl
# then says at once that it is not running); a second pairfs on the same data directory, mount
# point or control socket is refused and the first one keeps serving.
. "$(dirname "$0")/lib.sh"

write_config a
must_start a
M=$WORK/mnt-a
require "pairctl volume create vm1 64M succeeds" pairctl a volume create vm1 64M
require "random data written to vm1" dd if=/dev/urandom of="$M/vm1" bs=1M count=4 conv=notrunc,fsync status=none
want=$(sum_of "$M/vm1")

# serving NAME: the first pairfs still runs, its mount shows vm1 and its control socket answers.
serving() {
  if kill -0 "$PID_a" 2>/dev/null && [ "$(sum_of "$M/vm1")" = "$want" ] && pairctl a volume list 2>/dev/null | grep -q '^vm1 '; then
    pass "$1"
  else fail "$1" "running: $(kill -0 "$PID_a" 2>/dev/null && echo yes || echo no); list: $(pairctl a volume list 2>&1 | tr '\n' ' ')"; fi
}

# --- a second pairfs on the same data directory
mkdir -p "$WORK/mnt-second"
_MOUNTS+=("$WORK/mnt-second")
expect_exit "a second pairfs on the same data directory is refused (exit 1, says another pairfs serves it)" 1 \
  "another pairfs" timeout 10 "$PAIRFS" -f -c "$WORK/a.toml" "$WORK/mnt-second"
if mountpoint -q "$WORK/mnt-second"; then fail "the refused second pairfs mounts nothing" "$WORK/mnt-second is mounted"
else pass "the refused second pairfs mounts nothing"; fi
serving "the first pairfs keeps serving after a second one on its data directory was refused"
expect_exit "a second pairfs on the same data directory and mount point is refused" 1 "another pairfs" \
  timeout 10 "$PAIRFS" -f -c "$WORK/a.toml" "$M"
serving "the first pairfs keeps serving after a second one on its mount point was refused"

# --- a second site's pairfs configured, by mistake, with the first one's control socket
write_config b
sed -i "s|^control = .*|control = \"ipc://$WORK/a/control.sock\"|" "$WORK/b.toml"
"$PAIRFS" -f -c "$WORK/b.toml" "$WORK/mnt-b" > "$WORK/b.log" 2>&1 &
PID_b=$!
_PIDS+=("$PID_b")
_MOUNTS+=("$WORK/mnt-b")
wait_exit "$PID_b" 5; rc=$?
if [ "$rc" = 124 ]; then
  fail "a pairfs whose control socket is already served by another pairfs is refused" "it runs and serves $WORK/a/control.sock"
  list=$(pairctl a volume list 2>&1)
  if grep -q '^vm1 ' <<<"$list"; then pass "pairctl for site a still reaches site a"
  else fail "pairctl for site a still reaches site a" "it reaches another node: $(tr '\n' ' ' <<<"$list")"; fi
  kill -TERM "$PID_b"; wait_exit "$PID_b" 10
else
  if [ "$rc" = 1 ] && grep -qi "control.sock" "$WORK/b.log"; then
    pass "a pairfs whose control socket is already served by another pairfs is refused"
  else fail "a pairfs whose control socket is already served by another pairfs is refused" "exit $rc: $(tail -2 "$WORK/b.log" | tr '\n' ' ')"; fi
fi
serving "the first pairfs keeps serving (mount and control socket) after the control socket clash"

# --- SIGTERM: exit 0, mount gone, pairctl says promptly that pairfs is not running
stop_site a; rc=$?
if [ "$rc" = 0 ]; then pass "SIGTERM makes pairfs exit 0"; else fail "SIGTERM makes pairfs exit 0" "exit $rc: $(tail -2 "$WORK/a.log" | tr '\n' ' ')"; fi
if mountpoint -q "$M"; then fail "after SIGTERM the mount is gone" "$M is still a mountpoint"
else pass "after SIGTERM the mount is gone"; fi
# "not running" comes from pairctl's probe of the socket file, not from waiting for an answer
# (that would say "did not answer"): the outcome shows pairctl did not wait.
expect_exit "after SIGTERM pairctl exits 4 and says pairfs is not running" 4 "not running" pairctl a volume list

# --- SIGTERM while a volume is held open
must_start a
exec 3<"$M/vm1"
stop_site a; rc=$?
exec 3<&-
if [ "$rc" = 0 ]; then pass "SIGTERM with a volume held open makes pairfs exit 0"
else fail "SIGTERM with a volume held open makes pairfs exit 0" "exit $rc"; fi
if mountpoint -q "$M"; then fail "after SIGTERM with a volume held open the mount is gone" "$M is still a mountpoint"
else pass "after SIGTERM with a volume held open the mount is gone"; fi

# --- umount: pairfs exits 0; the data is there on the next start
must_start a
check "umount of the mount succeeds" umount "$M"
wait_exit "$PID_a" 10; rc=$?
if [ "$rc" = 0 ]; then pass "after umount pairfs exits 0"; else fail "after umount pairfs exits 0" "exit $rc"; fi
must_start a
if [ "$(sum_of "$M/vm1")" = "$want" ]; then pass "after clean stops the data is intact on the next start"
else fail "after clean stops the data is intact on the next start" "checksum differs"; fi

finish
