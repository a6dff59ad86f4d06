#!/usr/bin/env bash
# pairctl cluster takeover --force (issue 15 part 3) with real daemons, two sites and no witness:
# refused while the other site lives (heard on the heartbeats: a cut of the data link alone is
# not enough; heard on the data link: a cut of the heartbeat network alone is not enough either),
# then a's whole site killed -9: b is FENCED and its status names the command; the command makes
# b ACTIVE (on_start once), says what may be lost, and b's mount takes writes that read back; the
# old site restarted comes back outdated and refuses writes (no second writer), STANDBY.
. "$(dirname "$0")/lib.sh"
command -v iptables > /dev/null || { skip "cluster takeover" "iptables is not installed"; finish; }

# peer_timeout_ms 3000: the data link's short cut below must not suspend the pairs (a suspension
# while the link is cut bumps a's generation alone, and a forced takeover at b could then make an
# equal one: see BUGS in pairctl(8)); the pairs are checked in PAIR at one generation before the loss.
write_cluster_configs "" "peer_timeout_ms = 3000"
MA=$WORK/mnt-a MB=$WORK/mnt-b
must_start a
must_start b
create_cluster_pairs 16M
start_clusterds

# ---- refused while a lives ----
expect_exit "cluster takeover without --force is a usage error" 2 "needs --force" \
  pairctl b cluster takeover
expect_exit "cluster takeover --force is refused while a is heard" 1 "heard on heartbeat link" \
  pairctl b cluster takeover --force
require "cut the data link only" drop_ports "$PORT_A" "$PORT_B"
expect_exit "... also with the data link cut (the heartbeats hear a: not enough)" 1 \
  "data link alone" pairctl b cluster takeover --force
require "heal the data link" heal_ports
require "cut the heartbeat network only" drop_ports "$HB_A" "$HB_B"
check "b is FENCED (a's node holds the determining volume's primary)" wait_cluster b FENCED 6
expect_exit "... also with the heartbeats cut (a's node heard on the data link: not enough)" 1 \
  "heard on the data link" pairctl b cluster takeover --force
check "nothing was taken over at b" test "$(pair_field b vm1 role) $(pair_field b quorum role)" = "secondary secondary"
require "heal the heartbeat network" heal_ports
check "b recovers to STANDBY" wait_cluster b STANDBY 10
check "a is still ACTIVE" test "$(cluster_field a "d['state']")" = ACTIVE
expect_exit "refused at the STANDBY site while a is heard again" 1 "is alive" \
  pairctl b cluster takeover --force

# ---- a's whole site is lost ----
check "before the loss: vm1 in PAIR at one generation at both sites" test \
  "$(pair_field a vm1 status) $(pair_field a vm1 generation) $(pair_field b vm1 status) $(pair_field b vm1 generation)" = "PAIR 1 PAIR 1"
kill9_clusterd a
kill9_site a
check "b is FENCED without a witness" wait_cluster b FENCED 6
check "b's cluster status names cluster takeover --force" \
  bash -c "$PAIRCTL -c $WORK/b.toml cluster status | grep -q 'pairctl cluster takeover --force'"
check "b's node finds the data link silent (vm1 PSUE)" wait_field b vm1 status PSUE 10
expect_exit "cluster takeover --force at b is accepted and says what may be lost" 0 \
  "vm1 (sync, consistent): nothing site a acknowledged while the pair was in PAIR" \
  pairctl b cluster takeover --force
echo "$OUT" | sed 's/^/  | /'
check "... and says it is ACTIVE" grep -q "site b is ACTIVE" <<<"$OUT"
check "b is ACTIVE" test "$(cluster_field b "d['state']")" = ACTIVE
check "on_start ran at b once" test "$(hooks_count "started b")" = 1
check "b took over vm1 and the determining volume (SSWS)" \
  test "$(pair_field b vm1 status) $(pair_field b quorum status)" = "SSWS SSWS"
check "vm1 and the determining volume are reserved for b" \
  test "$(pair_field b vm1 reserved_by) $(pair_field b quorum reserved_by)" = "b b"
head -c 1M /dev/urandom > "$WORK/blob"
check "b's mount takes writes" dd if="$WORK/blob" of="$MB/vm1" bs=64k seek=32 conv=notrunc,fsync status=none
check "... which read back" cmp "$WORK/blob" <(dd if="$MB/vm1" bs=64k skip=32 count=16 status=none)
expect_exit "a second cluster takeover is refused: b is ACTIVE" 1 "not FENCED" \
  pairctl b cluster takeover --force

# ---- the old site returns: outdated, not a second writer ----
must_start a
check "a's vm1 is outdated once it hears b" wait_field a vm1 outdated true 10
expect_fail_with "a write at a's mount is refused" "" \
  dd if=/dev/zero of="$MA/vm1" bs=4k count=1 conv=notrunc,fsync status=none
if start_clusterd a > /dev/null 2>&1; then pass "clusterd a starts again"; else fail "clusterd a starts again" "$(tail -3 "$WORK/a.clusterd.log")"; fi
check "a is STANDBY (b is ACTIVE)" wait_cluster a STANDBY 6
check "b is still ACTIVE" test "$(cluster_field b "d['state']")" = ACTIVE
check "b's mount still takes writes" dd if="$WORK/blob" of="$MB/vm1" bs=64k seek=64 conv=notrunc,fsync status=none
check "on_start never ran at a again" test "$(hooks_count "started a")" = 1
finish
