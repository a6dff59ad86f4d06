#!/usr/bin/env bash
# The OCF resource agent scripts/ocf/pairfs (issue 15 part 4) against real sites: ocf-tester(8)
# from Debian's resource-agents runs its whole protocol on site a (meta-data against
# ra-api-1.dtd, validate-all, start, monitor as probe and as recurring, promote, demote, each
# twice, stop, a start of a started node and a stop of a stopped one); then what Pacemaker would
# do: b promoted while a runs (a swap: b primary, reserved for b; a's writes get EBADE), then b's
# whole site killed -9 and a promoted (SSWS, reserved for a, a's mount takes writes).
. "$(dirname "$0")/lib.sh"
command -v ocf-tester > /dev/null || { skip "OCF agent" "ocf-tester (resource-agents) is not installed"; finish; }

# ocf-tester runs meta-data as user nobody: the agent must be readable by it, outside $WORK.
AGENT_DIR=$(mktemp -d /tmp/pairfs-ocf.XXXXXX)
on_cleanup "rm -rf $AGENT_DIR"
chmod 755 "$AGENT_DIR"
install -m 755 "$ROOT/scripts/ocf/pairfs" "$AGENT_DIR/pairfs"
write_pair_configs
agent() {  # agent SITE ACTION: the agent's exit code for SITE's node, volume vm1
  env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE="pairfs-$1" OCF_RESKEY_config="$WORK/$1.toml" \
    OCF_RESKEY_mountpoint="$WORK/mnt-$1" OCF_RESKEY_volume=vm1 OCF_RESKEY_pairfs="$PAIRFS" \
    OCF_RESKEY_pairctl="$PAIRCTL" OCF_RESKEY_CRM_meta_interval=10000 "$AGENT_DIR/pairfs" "$2" \
    >> "$WORK/agent-$1.log" 2>&1
}
agent_rc() { agent "$@"; echo $?; }
on_cleanup "agent a stop"

check "meta-data validates against ra-api-1.dtd" \
  bash -c "'$AGENT_DIR/pairfs' meta-data | (cd /usr/share/resource-agents && xmllint --noout --valid -)"
check "monitor of a stopped node: 7 (not running)" test "$(agent_rc a monitor)" = 7
check "start starts a's node" test "$(agent_rc a start)" = 0
check "a's mount is up" mountpoint -q "$WORK/mnt-a"
must_start b
require "volume create vm1 at a" pairctl a volume create vm1 16M
require "create vm1's pair at a" pairctl a create vm1 --mode sync
require "vm1 in PAIR" pairctl a wait vm1 --status PAIR --timeout 60
check "monitor at a, primary but not reserved: 0 (unpromoted)" test "$(agent_rc a monitor)" = 0

if out=$(ocf-tester -n pairfs-a -o config="$WORK/a.toml" -o mountpoint="$WORK/mnt-a" -o volume=vm1 \
           -o pairfs="$PAIRFS" -o pairctl="$PAIRCTL" "$AGENT_DIR/pairfs" 2>&1) &&
   grep -q "passed all tests" <<<"$out"; then
  pass "ocf-tester: the agent passes all tests"
else
  fail "ocf-tester: the agent passes all tests" "$(echo "$out" | tail -5 | tr '\n' ' ')"
fi
check "after ocf-tester a's node is stopped (7) and unmounted" \
  test "$(agent_rc a monitor) $(mountpoint -q "$WORK/mnt-a" && echo mounted)" = "7 "

# ---- what Pacemaker does: start both, promote one, move it, lose a site ----
check "start a again" test "$(agent_rc a start)" = 0
check "start at b, whose node runs already: 0" test "$(agent_rc b start)" = 0
# a's stops may have suspended the pair (b lost a): resync it from a, as an operator would.
pair_back() {
  local here there
  here=$(pair_field a vm1 status 2> /dev/null) there=$(pair_field b vm1 status 2> /dev/null)
  [ "$here $there" = "PAIR PAIR" ] && return 0
  { [ "$here" = PSUE ] || [ "$there" = PSUE ]; } && pairctl a resync vm1 > /dev/null 2>&1
  return 1
}
check "vm1 in PAIR at both sites again (resynced from a if suspended)" wait_until 30 pair_back
check "promote a: 0, then monitor 8 (promoted)" test "$(agent_rc a promote) $(agent_rc a monitor)" = "0 8"
check "vm1 is reserved for a" test "$(pair_field a vm1 reserved_by)" = a
check "monitor at b: 0 (unpromoted)" test "$(agent_rc b monitor)" = 0
check "demote a: 0, then monitor 0" test "$(agent_rc a demote) $(agent_rc a monitor)" = "0 0"
check "promote b: 0, then monitor 8" test "$(agent_rc b promote) $(agent_rc b monitor)" = "0 8"
check "b is vm1's primary (a swap: both still in PAIR), reserved for b" \
  test "$(pair_field b vm1 role) $(pair_field b vm1 status) $(pair_field a vm1 reserved_by)" = "primary PAIR b"
check "a is unpromoted" test "$(agent_rc a monitor)" = 0
expect_fail_with "a write at a's mount gets EBADE (reserved for b)" "exchange" \
  dd if=/dev/zero of="$WORK/mnt-a/vm1" bs=4k count=1 conv=notrunc,fsync status=none
check "a write at b's mount works" \
  dd if=/dev/urandom of="$WORK/mnt-b/vm1" bs=4k count=4 conv=notrunc,fsync status=none

kill9_site b
check "promote a with b's site lost: 0, then monitor 8" test "$(agent_rc a promote) $(agent_rc a monitor)" = "0 8"
check "a took vm1 over (SSWS), reserved for a" \
  test "$(pair_field a vm1 status) $(pair_field a vm1 reserved_by)" = "SSWS a"
head -c 256K /dev/urandom > "$WORK/blob"
check "a's mount takes writes" dd if="$WORK/blob" of="$WORK/mnt-a/vm1" bs=64k seek=8 conv=notrunc,fsync status=none
check "... which read back" cmp "$WORK/blob" <(dd if="$WORK/mnt-a/vm1" bs=64k skip=8 count=4 status=none)
check "stop a: 0, monitor 7, unmounted" \
  test "$(agent_rc a stop) $(agent_rc a monitor) $(mountpoint -q "$WORK/mnt-a" && echo mounted)" = "0 7 "
finish
