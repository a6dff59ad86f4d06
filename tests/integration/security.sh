#!/usr/bin/env bash
# Who may talk to a site (doc/design.md "Security"): two sites in PAIR with a witness and both
# clusterds, every site-to-site socket on CURVE keys made by `pairctl keygen`. Well-formed frames
# (a replica write, dissolve and demote commands, heartbeats announcing FENCED, reserve votes)
# from a client without a key, from one with a key nobody admits, and from a holder of another
# site's valid key who claims to be the peer, have no effect at all: the pair stays in PAIR with
# identical copies, the clusterds keep their states, the witness records nothing, and every
# refusal is counted in the logs. The same forged write sent with the real key of site a lands
# (what a stolen key can do): the refusals are the keys' doing, not a broken forger. Secure by
# default: a non-loopback endpoint without [security] is refused unless insecure = true; control
# sockets are 0600 in a 0700 data directory; a data directory others can write is refused.
. "$(dirname "$0")/lib.sh"
[ -x "$TOOLS/wire_send" ] || { skip "security" "build/tools/wire_send is not built"; finish; }

K=$WORK/keys
mkdir -m 0700 "$K"
for site in a b w x; do
  require "pairctl keygen $site" "$PAIRCTL" keygen "$site" --dir "$K"
done
check "keygen writes the secret key mode 0600" test "$(stat -c %a "$K/a.key")" = 600
check "a public key file is one line of 40 Z85 characters" \
  bash -c "[ \$(wc -l < '$K/a.pub') = 1 ] && [ \$(tr -d '\n' < '$K/a.pub' | wc -c) = 40 ]"
expect_fail_with "keygen refuses to overwrite a key" "exists" "$PAIRCTL" keygen a --dir "$K"
check "the refused keygen left the old key alone" test "$(stat -c %a "$K/a.key")" = 600

# ---- two sites, a witness and both clusterds, all on keys ----
write_cluster_configs "" "peer_timeout_ms = 1000"
for pair in a:b b:a; do
  site=${pair%:*} peer=${pair#*:}
  cat >> "$WORK/$site.toml" <<TOML
[witness]
endpoint = "tcp://127.0.0.1:$PORT_W"
[security]
secret_key = "$K/$site.key"
peer_public_keys = ["$K/$peer.pub", "$K/w.pub"]
TOML
done
write_witness_config "tcp://127.0.0.1:$PORT_W"
printf '[security]\nsecret_key = "%s"\npeer_public_keys = ["%s", "%s"]\n' "$K/w.key" "$K/a.pub" "$K/b.pub" >> "$WORK/w.toml"
"$PAIRFS" --witness -f -c "$WORK/w.toml" >> "$WORK/w.log" 2>&1 &
_PIDS+=("$!")
must_start a
must_start b
create_cluster_pairs 16M
start_clusterds
MA=$WORK/mnt-a MB=$WORK/mnt-b
require "data at a" dd if=/dev/urandom of="$MA/vm1" bs=1M count=2 conv=notrunc,fsync status=none

check "display --json says the link to the peer is authenticated" test "$(pair_field a vm1 link_authenticated)" = true
check "display shows the link as curve" bash -c "$PAIRCTL -c $WORK/b.toml display vm1 | grep -Eq '^vm1 .* curve\$'"
check "cluster status --json says the heartbeat link is authenticated" \
  test "$(cluster_field b "d['links'][0]['authenticated']")" = true
check "cluster status says so too" bash -c "$PAIRCTL -c $WORK/a.toml cluster status | grep -q '^authentication: CURVE keys'"
check "the control socket is mode 0600" test "$(stat -c %a "$WORK/a/control.sock")" = 600
check "clusterd's control socket is mode 0600" test "$(stat -c %a "$WORK/a/clusterd.sock")" = 600
check "the data directory is mode 0700" test "$(stat -c %a "$WORK/a")" = 700

# forge CLIENT TOOL_ARGS...: wire_send as CLIENT: none (no key), stranger (x.key, admitted
# nowhere) or impostor (site w's valid key), each trusting the server's real key.
forge() {
  local who=$1 server_key=$2; shift 2
  case $who in
    none) timeout 20 "$TOOLS/wire_send" "$@" ;;
    stranger) timeout 20 "$TOOLS/wire_send" --key "$K/x.key" --server-key "$K/$server_key.pub" "$@" ;;
    impostor) timeout 20 "$TOOLS/wire_send" --key "$K/w.key" --server-key "$K/$server_key.pub" "$@" ;;
  esac
}

gen=$(pair_field b vm1 generation) gen_site=$(pair_field b vm1 generation_site)
before_b=$(sum_of "$MB/vm1")
B_PEER=tcp://127.0.0.1:$PORT_B
# The node answers a peer's frame over its own link to the peer, never to the sender: what these
# did shows in the pair's state and data below, not in an answer.
for who in none stranger impostor; do
  forge "$who" b "$B_PEER" replica-write a vm1 0 "$gen" "$gen_site" > /dev/null 2>&1
  for command in dissolve demote; do
    forge "$who" b "$B_PEER" peer-command a "$command" vm1 "$gen" "$gen_site" > /dev/null 2>&1
  done
done
# The forged frames went out before these: were they taken, their effect would show now.
check "b's vm1 stays a secondary in PAIR" test "$(pair_field b vm1 role) $(pair_field b vm1 status)" = "secondary PAIR"
check "a's vm1 stays the primary in PAIR" test "$(pair_field a vm1 role) $(pair_field a vm1 status)" = "primary PAIR"
check "b's copy is unchanged" test "$(sum_of "$MB/vm1")" = "$before_b"
check "pairctl verify finds both copies identical" pairctl a verify vm1
check "b's log counts the connection refused for an unknown key" \
  grep -q "security: refused a connection from .*is not in peer_public_keys" "$WORK/b.log"
check "b's log counts the connection refused for speaking without a key" \
  grep -q "security: refused a connection .*a client without CURVE" "$WORK/b.log"
check "b's log counts the frames of w's key claiming site a" \
  grep -q "security: peer link: refused a frame claiming site 'a' on a connection authenticated as site 'w'" "$WORK/b.log"

# ---- heartbeats announcing FENCED at b's clusterd ----
for who in none stranger impostor; do
  forge "$who" b "tcp://127.0.0.1:$HB_B" heartbeat a FENCED 0 20 > /dev/null 2>&1
done
check "clusterd b stays STANDBY" test "$(cluster_field b "d['state']")" = STANDBY
check "clusterd b still sees a ACTIVE" test "$(cluster_field b "d['peer_state']")" = ACTIVE
check "clusterd a stays ACTIVE" test "$(cluster_field a "d['state']")" = ACTIVE
check "no failover: on_start never ran at b" test "$(hooks_count "started b")" = 0
check "b's clusterd log counts the unknown key" \
  grep -q "security: refused a connection from .*is not in peer_public_keys" "$WORK/b.clusterd.log"
check "b's clusterd log counts the client without a key" \
  grep -q "security: refused a connection .*a client without CURVE" "$WORK/b.clusterd.log"
check "b's clusterd log counts the beats of w's key claiming site a" \
  grep -q "security: heartbeat: refused a frame claiming site 'a' on a connection authenticated as site 'w'" "$WORK/b.clusterd.log"

# ---- reserve votes at the witness (it admits a and b; a's key claims to be b) ----
W=tcp://127.0.0.1:$PORT_W
for who in none stranger; do
  expect_exit "a forged vote ($who) gets no answer" 4 "no answer" forge "$who" w "$W" vote b forged b
done
expect_exit "a vote of a's key claiming site b gets no answer" 4 "no answer" \
  timeout 20 "$TOOLS/wire_send" --key "$K/a.key" --server-key "$K/w.pub" "$W" vote b forged b
check "the witness recorded nothing of the forged votes" bash -c "! grep -q 'forged' '$WORK/w.log'"
check "the witness's log counts the connection refused for an unknown key" \
  grep -q "security: refused a connection from .*is not in peer_public_keys" "$WORK/w.log"
check "the witness's log counts the client without a key" \
  grep -q "security: refused a connection .*a client without CURVE" "$WORK/w.log"
check "the witness's log counts the vote of a's key claiming site b" \
  grep -q "security: witness: refused a vote claiming site 'b' on a connection authenticated as site 'a'" "$WORK/w.log"
expect_exit "the same vote with site b's own key is answered" 0 "granted" \
  timeout 20 "$TOOLS/wire_send" --key "$K/b.key" --server-key "$K/w.pub" "$W" vote b probe b

# ---- what a stolen key can do: the forged write with site a's real key lands ----
require "the forged write sent with a's real key" \
  timeout 20 "$TOOLS/wire_send" --key "$K/a.key" --server-key "$K/b.pub" "$B_PEER" replica-write a vm1 0 "$gen" "$gen_site"
changed() { for _ in $(seq 50); do [ "$(sum_of "$MB/vm1")" != "$before_b" ] && return 0; sleep 0.2; done; return 1; }
check "with a's real key the forged write lands at b: the refusals above were the keys' doing" changed

# ---- secure by default ----
C_LISTEN=tcp://0.0.0.0:$((PORT_A + 5))
write_config c "listen = \"$C_LISTEN\"
[peer]
name = \"d\"
endpoint = \"tcp://127.0.0.1:$((PORT_A + 6))\"
[cluster]
heartbeat_listen = [\"tcp://0.0.0.0:$((PORT_A + 7))\"]
heartbeat_peer = [\"tcp://127.0.0.1:$((PORT_A + 6))\"]
determining_volume = \"quorum\""
expect_fail_with "pairfs refuses a non-loopback listen without [security]" \
  "site.listen = $C_LISTEN is not a loopback address" timeout 20 "$PAIRFS" -f -c "$WORK/c.toml" "$WORK/mnt-c"
expect_fail_with "clusterd refuses it too" "is not a loopback address" timeout 20 "$CLUSTERD" -f -c "$WORK/c.toml"
write_witness_config "tcp://0.0.0.0:$((PORT_A + 7))"
expect_fail_with "the witness refuses a non-loopback endpoint without [security]" \
  "witness.endpoint = tcp://0.0.0.0:$((PORT_A + 7)) is not a loopback address" \
  timeout 20 "$PAIRFS" --witness -f -c "$WORK/w.toml"
printf '[security]\ninsecure = true\n' >> "$WORK/c.toml"
if start_site c > /dev/null 2>&1; then pass "with insecure = true it starts"; else fail "with insecure = true it starts" "$(tail -3 "$WORK/c.log")"; fi
check "and display says the link is not authenticated" bash -c "$PAIRCTL -c $WORK/c.toml volume create v 1M && $PAIRCTL -c $WORK/c.toml --json display v | grep -q '\"link_authenticated\": false'"
stop_site c > /dev/null 2>&1

# ---- a data directory others can write ----
chmod 777 "$WORK/c"
expect_fail_with "pairfs refuses a data directory others can write" "can be written by group or others" \
  timeout 20 "$PAIRFS" -f -c "$WORK/c.toml" "$WORK/mnt-c"
finish
