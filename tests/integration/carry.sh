#!/usr/bin/env bash
# Commands carried to the far site (pairctl --site SITE; seed 001, claims 42-47): pairctl at site a
# asks a's node, which carries the request over the peer link to b's node; b runs it with its own
# checks and its answer (exit status, text, JSON) comes back unchanged. --site a at a runs here;
# an unknown site is NotFound (exit 1); keygen and the cluster commands refuse --site (exit 2).
# A pair is created, waited for and split at b from a (b's node talks back to a while a's node
# waits for b's answer). A peer that sends a carry of a carry, a fence, a cluster command, a
# takeover as clusterd or an oversized carry is refused (logged, counted), nothing happens, and
# the node still answers; the sending node refuses the same. A cut link is exit 4.
. "$(dirname "$0")/lib.sh"

write_pair_configs 'peer_timeout_ms = 1000'
must_start a
must_start b
require "volume create va at a" pairctl a volume create va 8M
require "volume create vb at b" pairctl b volume create vb 8M

# ---- b's view, carried by a's node ----
expect_exit "--site b display shows b's volume vb" 0 vb pairctl a --site b display
check "... and not a's volume va" test -z "$(grep -w va <<<"$OUT")"
check "--site b --json display is b's own --json display" \
  test "$(pairctl a --site b --json display)" = "$(pairctl b --json display)"
check "--site b volume list is b's own volume list" \
  test "$(pairctl a --site b volume list)" = "$(pairctl b volume list)"

# ---- commands run at b ----
require "--site b volume create vc 4M" pairctl a --site b volume create vc 4M
check "vc is at b" pairctl b display vc
expect_exit "vc is not at a" 1 "no volume named vc" pairctl a display vc
# b's own checks answer, unchanged: the same exit status and text as at b.
expect_exit "--site b volume create vb again: b's refusal" 1 "exists" pairctl a --site b volume create vb 4M
carried_refusal=$OUT
expect_exit "(the same create at b)" 1 "exists" pairctl b volume create vb 4M
check "the carried refusal reads as b's own" test "$carried_refusal" = "$OUT"
expect_exit "--site b display va: b has no va (NotFound, exit 1)" 1 "no volume named va" pairctl a --site b display va
expect_exit "--site b volume delete vc" 0 "deleted" pairctl a --site b volume delete vc
expect_exit "vc is gone from b" 1 "no volume named vc" pairctl b display vc

# ---- this site's own name runs here ----
require "--site a volume create vd 4M at a" pairctl a --site a volume create vd 4M
check "vd is at a" pairctl a display vd
expect_exit "vd is not at b" 1 "no volume named vd" pairctl b display vd
check "--site a display is a's display" test "$(pairctl a --site a --json display)" = "$(pairctl a --json display)"

# ---- refusals before anything is carried ----
expect_exit "an unknown site is NotFound (exit 1)" 1 "site c is not the peer" pairctl a --site c display
expect_exit "a bad site name is a usage error" 2 "site" pairctl a --site 'b/x' display
expect_exit "keygen refuses --site" 2 "keygen" pairctl a --site b keygen k --dir "$WORK"
check "... and wrote no key" test ! -e "$WORK/k.key"
expect_exit "cluster status refuses --site b" 2 "clusterd" pairctl a --site b cluster status

# ---- a pair made, waited for and split at b from a ----
require "--site b volume create vm 8M" pairctl a --site b volume create vm 8M
require "--site b create vm --mode sync (b is the primary)" pairctl a --site b create vm --mode sync
require "--site b wait vm --status PAIR" pairctl a --site b wait vm --status PAIR --timeout 30
check "vm is b's primary" test "$(pair_field b vm role)" = primary
check "a holds vm's secondary" test "$(pair_field a vm role)" = secondary
require "--site b split vm" pairctl a --site b split vm
check "vm is PSUS at b" test "$(pair_field b vm status)" = PSUS
require "--site b resync vm" pairctl a --site b resync vm
require "vm back in PAIR" pairctl a --site b wait vm --status PAIR --timeout 30

# ---- a hostile peer: carries that no node may carry or run ----
# Sent to a as b's node would; a is vm's secondary, so a fence or a takeover would show.
before_refused=$(grep -c "refused a peer-carry from site b" "$WORK/a.log")
for kind in nested fence cluster clusterd oversized; do
  check "hostile carry ($kind) sent to a as b" \
    timeout 20 "$TOOLS/wire_send" "tcp://127.0.0.1:$PORT_A" peer-carry b "$kind"
done
_refusal_logged() { [ "$(grep -c "refused a peer-carry from site b" "$WORK/a.log")" -gt "$before_refused" ]; }
check "a logs the refusal of the hostile carries" wait_until 5 _refusal_logged
check "a ran none of them (nothing carried from b reached a's dispatch)" \
  test -z "$(grep -E 'control: a (carry|fence|cluster-unfence|takeover) carried from site b' "$WORK/a.log")"
check "vm at a is still the secondary in PAIR" test "$(pair_field a vm role)/$(pair_field a vm status)" = secondary/PAIR
check "vm at a is not fenced" test "$(pair_field a vm fenced)" = false
for kind in nested fence cluster clusterd oversized; do
  expect_exit "a's control endpoint refuses a $kind carry to b" 0 "invalid argument" \
    timeout 20 "$TOOLS/wire_send" "ipc://$WORK/a/control.sock" control-carry b "$kind"
done
check "a still runs" kill -0 "$PID_a"
check "b still runs" kill -0 "$PID_b"
check "a still carries to b after the hostile carries" pairctl a --site b display vm

# ---- a cut link: the far site's node does not answer (exit 4) ----
require "cut the link both ways" drop_ports "$PORT_A" "$PORT_B"
# Two carries wait for b (8 s each); a's node carries them on its carrier threads, so its control
# endpoint answers meanwhile. (Carried on the control thread, they would hold a's own display for
# 16 s, past pairctl's 10 s: exit 4.)
carried_pids=()
for i in 1 2; do
  timeout 60 "$PAIRCTL" -c "$WORK/a.toml" --site b display > "$WORK/cut$i.out" 2>&1 &
  carried_pids+=($!)
done
sleep 0.5  # lets both carries reach a's node before the display below (not a deadline)
check "a's own display answers while two carries wait for b" pairctl a display va
# (pairctl prints its outcome only when it ends: an empty output is a carry still waiting.)
check "... before those carries have ended" test ! -s "$WORK/cut1.out" -a ! -s "$WORK/cut2.out"
for i in 1 2; do
  wait "${carried_pids[$((i - 1))]}"; rc=$?
  check "--site b display $i with the link cut: unreachable (exit 4, was $rc)" test "$rc" -eq 4
  check "... saying that b did not answer" grep -q "did not answer" "$WORK/cut$i.out"
done
require "heal the link" heal_ports
check "--site b display answers again after the heal" wait_until 10 pairctl a --site b display vb

# ---- over an authenticated link (CURVE keys from pairctl keygen) ----
require "CURVE keys from pairctl keygen in both configs" secure_pair_configs
stop_site a; stop_site b
must_start a
must_start b
check "the link is authenticated (CURVE)" wait_until 10 _field_is a vm link_authenticated true
expect_exit "--site b display over CURVE shows b's vm" 0 vm pairctl a --site b display vm
check "b's own answer comes back unchanged over CURVE" \
  test "$(pairctl a --site b --json display vb)" = "$(pairctl b --json display vb)"
finish
