#!/usr/bin/env bash
# clusterd fails an async pair over the way it fails a sync one (issue 13 part 5), with real
# processes: vm1 an async pair (fence never) next to the determining volume; a host failure of the
# active site a (its clusterd killed -9, its pairfs alive) with fsync'd records of vm1 still in
# a's master journal (the link stalled): b wins the race and its takeover of vm1 is the four-role
# swap (a demoted, its journal drained and turned; b's turned): every record a acknowledged is at
# b, b journals its writes back to a. Outcomes and order only; deadlines only catch hangs.
. "$(dirname "$0")/lib.sh"
[ -x "$WAN" ] || { fail "wan_proxy is built" "$WAN missing: make build/tools/wan_proxy"; finish; }

write_cluster_configs "" 'peer_timeout_ms = 1000
[journal]
size = "16M"'
require "a's and b's peer endpoints point at the proxy" route_peers_through_wan
start_wan 5 > "$WORK/start-wan.out" 2>&1 || { fail "wan_proxy starts" "$(tail -3 "$WORK/start-wan.out")"; finish; }
MA=$WORK/mnt-a MB=$WORK/mnt-b
must_start a
must_start b
require "volume create quorum 1M" pairctl a volume create quorum 1M
require "volume create vm1 8M" pairctl a volume create vm1 8M
require "create the determining volume's pair" pairctl a create quorum --mode sync --fence never
require "create vm1 --mode async --fence never" pairctl a create vm1 --mode async --fence never
require "quorum in PAIR" pairctl a wait quorum --status PAIR --timeout 60
require "vm1 in PAIR" pairctl a wait vm1 --status PAIR --timeout 60
start_clusterds

cat > "$WORK/records.py" <<'PY'
import os, sys
mount, count, log = sys.argv[1], int(sys.argv[2]), open(sys.argv[3], "w")
fd = os.open(mount + "/vm1", os.O_WRONLY)
for k in range(1, count + 1):
    os.pwrite(fd, (b"REC%08d" % k).ljust(4096, b"."), k * 4096)
    os.fsync(fd)
    log.write("%d\n" % k)
    log.flush()
PY
cat > "$WORK/present.py" <<'PY'
import sys
image, count = open(sys.argv[1] + "/volumes/vm1.img", "rb").read(), int(sys.argv[2])
missing = [k for k in range(1, count + 1) if image[k * 4096:k * 4096 + 11] != b"REC%08d" % k]
print("%d of %d present" % (count - len(missing), count))
sys.exit(1 if missing else 0)
PY
require "stall the replication link" wan_stall
check "200 fsync'd records at a while the link is stalled" \
  timeout 60 python3 "$WORK/records.py" "$MA" 200 "$WORK/acked.log"
check "a's journal holds records b lacks" test "$(pair_field a vm1 journal_lag_bytes)" -gt 0
require "heal the link" wan_heal
kill9_clusterd a
check "b wins after a's clusterd is killed" wait_cluster b ACTIVE 10
check "b is the primary of vm1" wait_field b vm1 role primary 60
check "b's clusterd logged the four-role swap of vm1" \
  grep -q "takeover of vm1: swapped group vm1" "$WORK/b.clusterd.log"
check "vm1 stays in PAIR (swapped, not SSWS)" _field_is b vm1 status PAIR
check "b holds every record a acknowledged (zero loss)" python3 "$WORK/present.py" "$WORK/b" 200
check "writes at b after the failover" \
  timeout 60 dd if=/dev/urandom of="$MB/vm1" bs=64k count=8 seek=20 conv=notrunc,fsync status=none
check "b's writes are journaled to a (journal_lag_bytes 0)" wait_field b vm1 journal_lag_bytes 0 30
identical "vm1 identical after the failover" vm1
finish
