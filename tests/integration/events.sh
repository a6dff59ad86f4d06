#!/usr/bin/env bash
# ops (issue 15 part 1): `pairctl events` with real daemons. A follower at site b (node and
# clusterd, --json into a file) sees, in this order and exactly: a new pair ev1's create (COPY ->
# PAIR), a split, a resync and a takeover (swap) at b; then a failover by clusterd (kill -9 of the
# active site a's clusterd: b's clusterd wins and takes the managed vm1 over); `--now` prints the
# current state and exits 0; then kill -9 and a restart of b's node: the follower says so (a
# restart line, the current state again) and reports the changes after it (a reserve).
. "$(dirname "$0")/lib.sh"

write_cluster_configs "" "peer_timeout_ms = 1000"
must_start a
must_start b
create_cluster_pairs 4M
start_clusterds

EVENTS=$WORK/events.json
"$PAIRCTL" -c "$WORK/b.toml" --json events > "$EVENTS" 2> "$WORK/events.err" &
FOLLOWER=$!
on_cleanup "kill $FOLLOWER"
_current_printed() { grep -q '"current":true' "$EVENTS"; }
require "pairctl events starts with the current state" wait_until 5 _current_printed

# changes VOLUME [KIND]: the (field=new) of the follower's change events of VOLUME (kind pair by
# default), in the order printed; what is asserted below.
changes() {
  python3 - "$EVENTS" "$1" "${2:-pair}" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if not e["current"] and e["volume"] == sys.argv[2] and e["kind"] == sys.argv[3]:
        print(f'{e["field"]}={e["new"]}')
PY
}
# site_changes SOURCE KIND FIELD: the new values of the follower's change events of the site.
site_changes() {
  python3 - "$EVENTS" "$1" "$2" "$3" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if not e["current"] and e["source"] == sys.argv[2] and e["kind"] == sys.argv[3] and e["field"] == sys.argv[4]:
        print(e["new"])
PY
}
_printed() { grep -qF -- "$1" "$EVENTS"; }
# _last_change_is VOLUME FIELD=NEW: the follower's latest change event of VOLUME is that one.
_last_change_is() { [ "$(changes "$1" | tail -1)" = "$2" ]; }
# expect_changes NAME VOLUME EXPECTED...: the change events of VOLUME, exactly.
expect_changes() {
  local name=$1 volume=$2 got want; shift 2
  want=$(printf '%s\n' "$@")
  got=$(changes "$volume")
  if [ "$got" = "$want" ]; then pass "$name"; else
    fail "$name" "got: $(echo "$got" | paste -sd' '), expected: $(echo "$want" | paste -sd' ')"; fi
}

# ---- a pair's life: create, split, resync, takeover (swap) ----
require "volume create ev1" pairctl a volume create ev1 1M
require "create ev1's pair" pairctl a create ev1 --mode sync --fence never
require "ev1 in PAIR" pairctl a wait ev1 --status PAIR --timeout 30
require "split ev1" pairctl a split ev1
require "resync ev1" pairctl a resync ev1
require "ev1 in PAIR again" pairctl a wait ev1 --status PAIR --timeout 30
require "takeover of ev1 at b" pairctl b takeover ev1
require "the follower prints the takeover" wait_until 10 _last_change_is ev1 generation=3@b
expect_changes "create, split, resync, takeover: b's events of ev1, in order" ev1 \
  status=COPY role=secondary generation=1@a fence=never consistent=false \
  status=PAIR consistent=true \
  status=PSUS generation=2@a \
  status=COPY consistent=false \
  status=PAIR consistent=true \
  role=primary generation=3@b

# ---- a failover by clusterd: the active site's clusterd dies, b's wins and takes vm1 over ----
kill9_clusterd a
check "b's clusterd wins" wait_cluster b ACTIVE 6
check "the follower prints b's takeover of vm1" wait_until 10 _last_change_is vm1 generation=2@b
check "clusterd's state changes at b, in order" \
  test "$(site_changes clusterd cluster state | paste -sd' ')" = "RESERVING ACTIVE"
check "b's heartbeat link to a went down" \
  test "$(site_changes clusterd link "heartbeat:tcp://127.0.0.1:$HB_A" | paste -sd' ')" = "down"
expect_changes "the failover: b's events of vm1, in order (clusterd's reserve, then its takeover)" vm1 \
  reserved_by=b role=primary generation=2@b

# ---- --now: the current state, then exit 0 ----
expect_exit "pairctl events --now exits 0" 0 "" pairctl b --json events --now
NOW=$OUT
_now_has() { python3 -c 'import json, sys
want = json.loads(sys.argv[1])
for line in sys.stdin:
    e = json.loads(line)
    if all(e.get(k) == v for k, v in want.items()): sys.exit(0)
sys.exit(1)' "$1" <<<"$NOW"; }
check "--now shows ev1 in PAIR" _now_has '{"volume": "ev1", "field": "status", "new": "PAIR", "current": true}'
check "--now shows b primary of vm1" _now_has '{"volume": "vm1", "field": "role", "new": "primary", "current": true}'
check "--now shows clusterd ACTIVE" _now_has '{"source": "clusterd", "field": "state", "new": "ACTIVE", "current": true}'
_only_current() { ! grep -q '"current":false' <<<"$NOW"; }
check "--now prints the current state only" _only_current
expect_exit "pairctl events --now in text" 0 "node b pair ev1 status = PAIR" pairctl b events --now

# ---- kill -9 and restart of the node the follower follows ----
kill9_site b
must_start b
check "the follower says the node restarted" wait_until 10 _printed '"kind":"restart","volume":null,"field":"instance"'
# _state_after_restart: a current-state line of ev1's status follows the restart line.
_state_after_restart() { sed -n '/"kind":"restart"/,$p' "$EVENTS" | grep -q '"volume":"ev1","field":"status","old":null'; }
check "... and shows its current state again" wait_until 5 _state_after_restart
require "reserve ev1 at b after the restart" pairctl b reserve ev1
check "the follower reports the reserve after the restart" wait_until 5 _last_change_is ev1 reserved_by=b
check "the follower is still running" kill -0 "$FOLLOWER"

finish
