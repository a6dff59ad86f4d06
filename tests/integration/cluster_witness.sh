#!/usr/bin/env bash
# clusterd with a witness (pairfs --witness, a third site holding a copy of the determining
# volume's reservation record): a whole-site loss of the active site fails over automatically
# (the survivor's copy and the witness make a majority), the old site comes back outdated and a
# resync --swap joins it again; a cut between the two sites (both still reach the witness) has
# exactly one winner; a site recorded as outdated by a majority cannot win when the other site
# dies (the witness refuses it).
. "$(dirname "$0")/lib.sh"
command -v iptables > /dev/null || { skip "cluster with a witness" "iptables is not installed"; finish; }

write_cluster_configs "" "peer_timeout_ms = 1000"
for site in a b; do
  printf '[witness]\nendpoint = "tcp://127.0.0.1:%s"\n' "$PORT_W" >> "$WORK/$site.toml"
done
write_witness_config "tcp://127.0.0.1:$PORT_W"
"$PAIRFS" --witness -f -c "$WORK/w.toml" >> "$WORK/w.log" 2>&1 &
_PIDS+=("$!")
MA=$WORK/mnt-a MB=$WORK/mnt-b

must_start a
must_start b
create_cluster_pairs 64M
start_clusterds
check "cluster status names the witness" test "$(cluster_field b "d['witness']")" = "tcp://127.0.0.1:$PORT_W"
check "the determining volume is released once both are healthy" wait_field a quorum reserved_by null 5

# ---- whole site a lost: b and the witness are a majority ----
require "fsync'd writes at a" dd if=/dev/urandom of="$MA/vm1" bs=1M count=4 seek=8 conv=notrunc,fsync status=none
want=$(sum_of "$MA/vm1" $((8 << 20)) $((4 << 20)))
t0=$(ms_now)
kill9_clusterd a
kill9_site a
check "b wins with the witness after site a is lost" wait_cluster b ACTIVE 6
took=$(($(ms_now) - t0))
report_ms "whole-site loss: kill -9 of site a to b ACTIVE" "$took"
check "on_start ran at b" test "$(hooks_count "started b")" = 1
check "b's vm1 is writable (SSWS: a's storage did not answer)" test "$(pair_field b vm1 status)" = SSWS
if [ "$(sum_of "$MB/vm1" $((8 << 20)) $((4 << 20)))" = "$want" ]; then pass "every fsync'd byte of a is at b"
else fail "every fsync'd byte of a is at b" "the 4 MiB differ"; fi
check "writes at b" dd if=/dev/urandom of="$MB/vm1" bs=64k count=8 seek=3 conv=notrunc,fsync status=none
must_start a
start_clusterd a > /dev/null 2>&1
check "a's clusterd comes back STANDBY" wait_cluster a STANDBY 5
check "a's vm1 comes back outdated" wait_field a vm1 outdated true 10
check "resync --swap of vm1 at b" pairctl b resync vm1 --swap
check "resync --swap of the determining volume at b" pairctl b resync quorum --swap
check "vm1 back in PAIR" pairctl b wait vm1 --status PAIR --timeout 30
check "quorum back in PAIR" pairctl b wait quorum --status PAIR --timeout 30
identical "after the site loss and resync --swap: identical copies" vm1
check "the determining volume is released again" wait_field b quorum reserved_by null 10

# ---- the two sites cut from each other, both reaching the witness: exactly one winner ----
require "cut every link between a and b" drop_ports "$HB_A" "$HB_B" "$PORT_A" "$PORT_B"
check "a (standby) is FENCED" wait_cluster a FENCED 6
check "b (active) stays ACTIVE" test "$(cluster_field b "d['state']")" = ACTIVE
check "b writes alone" dd if=/dev/urandom of="$MB/vm1" bs=4k count=4 seek=100 conv=notrunc,fsync status=none
expect_fail_with "a's writes are refused" "" dd if=/dev/zero of="$MA/vm1" bs=4k count=1 conv=notrunc status=none
check "b's record marks a outdated" test "$(cluster_field b "d['reservation']['outdated']")" = a

# ---- ... and then b's whole site dies: the witness refuses the outdated a ----
kill9_clusterd b
kill9_site b
heal_ports
refusals() { grep -c "witness: refused.*outdated" "$WORK/w.log"; }
refused_before=$(refusals)
refused_again() { [ "$(refusals)" -gt "$refused_before" ]; }
check "the operator unfences a (it races again: b is lost)" pairctl a cluster unfence
# Order, not a fixed wait (it was 3 s): the witness refuses a's race, then a is FENCED again.
check "the witness refused site a as outdated" wait_until 5 refused_again
check "a does not win: the witness records it outdated" wait_cluster a FENCED 5
check "on_start did not run at a again" test "$(hooks_count "started a")" = 1
check "takeover --force of vm1 at a is the way on" pairctl a takeover vm1 --force

finish
