#!/usr/bin/env bash
# clusterd gets back to one active site on its own after a fault that leaves nobody active: the
# active site's pairfs stalls (SIGSTOP: its storage stops answering, its clusterd still beats).
# Its clusterd hands over (FENCED, on_stop); the standby's race cannot be decided while the
# determining volume's primary is the stalled node, so it is FENCED too. Once the node answers
# again (SIGCONT), a FENCED site races again (nobody is active) and exactly one wins: it lifts
# its own fence, runs on_start, the other recovers to STANDBY, the pairs are in PAIR and a write
# at the winner's mount reaches the other site. (Before, both stayed FENCED until the operator.)
. "$(dirname "$0")/lib.sh"

write_cluster_configs "auto_resync = true" "peer_timeout_ms = 1000"
MA=$WORK/mnt-a MB=$WORK/mnt-b

must_start a
must_start b
create_cluster_pairs 16M
start_clusterds
check "the determining volume is released once both are healthy" wait_field a quorum reserved_by null 5
check "a write at a before the stall" dd if=/dev/urandom of="$MA/vm1" bs=64k count=4 conv=notrunc,fsync status=none

# ---- a's storage stalls: its clusterd hands over, b cannot decide the race: both FENCED ----
on_cleanup "kill -CONT $PID_a"
kill -STOP "$PID_a"
check "a hands over when its node stops answering: FENCED" wait_cluster a FENCED 15
check "on_stop ran at a" test "$(hooks_count "stopped a")" -ge 1
check "b cannot win while the determining volume's primary (a's stalled node) is silent: FENCED" \
  wait_cluster b FENCED 15
check "b says why" grep -q "cannot be decided" <<<"$(cluster_field b "d['reason']")"
check "on_start did not run at b" test "$(hooks_count "started b")" = 0
sleep 2
check "still nobody ACTIVE while a's node is stalled" \
  test "$(cluster_field a "d['state']")/$(cluster_field b "d['state']")" = FENCED/FENCED

# ---- a's node answers again: a FENCED site races again; exactly one site wins ----
t0=$(ms_now)
kill -CONT "$PID_a"
winner=""
for _ in $(seq 300); do
  sa=$(cluster_field a "d['state']") sb=$(cluster_field b "d['state']")
  [ "$sa" = ACTIVE ] && { winner=a; break; }
  [ "$sb" = ACTIVE ] && { winner=b; break; }
  sleep 0.05
done
if [ -n "$winner" ]; then pass "one site ACTIVE again on its own ($winner, $(($(ms_now) - t0)) ms after the node answered)"
else fail "one site ACTIVE again on its own" "a $sa, b $sb"; finish; fi
other=$([ "$winner" = a ] && echo b || echo a)
check "the other site recovers to STANDBY (no failback, its fence lifted)" wait_cluster "$other" STANDBY 20
check "the winner is still ACTIVE" test "$(cluster_field "$winner" "d['state']")" = ACTIVE
check "on_start ran at the winner once" test "$(hooks_count "started $winner")" = $([ "$winner" = a ] && echo 2 || echo 1)
check "vm1 in PAIR at $winner" pairctl "$winner" wait vm1 --status PAIR --timeout 30
check "the determining volume in PAIR" pairctl "$winner" wait quorum --status PAIR --timeout 30
check "vm1 is reserved for the winner" test "$(pair_field "$winner" vm1 reserved_by)" = "$winner"
check "vm1 is not fenced at the winner" test "$(pair_field "$winner" vm1 fenced)" = false
check "a write at the winner's mount succeeds" \
  dd if=/dev/urandom of="$WORK/mnt-$winner/vm1" bs=64k count=4 seek=8 conv=notrunc,fsync status=none
expect_fail_with "a write at the other site's mount is refused (reserved for the winner)" "exchange" \
  dd if=/dev/zero of="$WORK/mnt-$other/vm1" bs=4k count=1 conv=notrunc status=none
identical "identical copies at both sites" vm1
finish
