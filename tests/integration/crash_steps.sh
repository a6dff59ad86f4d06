#!/usr/bin/env bash
# kill -9 at each step of a multi-step change (doc/design.md "Faults of the local disk"): the daemon is
# started with PAIRFS_FAULT=POINT (a test-only fault point, pairfs(8) ENVIRONMENT) and kills
# itself there; after a restart without it, the volume is in the old or the new state, a pair
# reaches PAIR, `pairctl verify` is clean and the data is intact at both sites.
# Points: pair create (after the peer, after the region set, after the metadata), resize (after
# the intent, after the image), takeover with swap (after the peer's demote).
. "$(dirname "$0")/lib.sh"

write_pair_configs "peer_timeout_ms = 1000"
must_start a
must_start b

# crash_at SITE POINT COMMAND...: restarts SITE with PAIRFS_FAULT=POINT, runs the pairctl COMMAND
# there (it fails: the daemon dies under it), checks that the daemon died at that point, and
# starts SITE again without the fault.
crash_at() {
  local site=$1 point=$2 pid_var="PID_$1"; shift 2
  stop_site "$site" > /dev/null
  if ! PAIRFS_FAULT=$point start_site "$site" > "$WORK/start-$site.out" 2>&1; then
    fail "$point: $site starts with the fault armed" "$(tail -3 "$WORK/start-$site.out" | tr '\n' ' ')"
    finish
  fi
  pairctl "$site" "$@" > "$WORK/$point.out" 2>&1 &
  local command=$!
  wait_exit "${!pid_var}" 30 2>/dev/null  # (bash would report the SIGKILL)
  local rc=$?
  # The command waits for an answer that will never come: no need to sit out its timeout.
  kill "$command" 2>/dev/null
  wait "$command" 2>/dev/null
  umount "$WORK/mnt-$site" 2>/dev/null || umount -l "$WORK/mnt-$site" 2>/dev/null || true
  if [ "$rc" -eq 137 ] && grep -q "PAIRFS_FAULT=$point" "$WORK/$site.log"; then
    pass "$point: pairfs at $site was killed at the fault point"
  else
    fail "$point: pairfs at $site was killed at the fault point" "exit $rc: $(tail -2 "$WORK/$point.out" | tr '\n' ' ')"
  fi
  must_start "$site"
}

# reach_pair POINT SITE VOLUME: the pair reaches PAIR; a side that lost its link to the crashed
# site meanwhile suspended (PSUE), and then an operator's resync brings it there.
reach_pair() {
  local i status
  for i in $(seq 600); do
    status=$(pair_field "$2" "$3" status 2>/dev/null)
    [ "$status" = PAIR ] || [ "$status" = PSUE ] && break
    sleep 0.1
  done
  if [ "$status" = PSUE ]; then
    echo "$1: $3 suspended while $2's peer was down: resync"
    pairctl "$2" resync "$3" > /dev/null 2>&1
  fi
  check "$1: the pair reaches PAIR" pairctl "$2" wait "$3" --status PAIR --timeout 60
}

# identical_to NAME VOLUME FILE: both sites' copies hold FILE's bytes.
identical_to() {
  local want got_a got_b
  want=$(sum_of "$3") got_a=$(sum_of "$WORK/mnt-a/$2") got_b=$(sum_of "$WORK/mnt-b/$2")
  if [ "$got_a" = "$want" ] && [ "$got_b" = "$want" ]; then pass "$1"
  else fail "$1" "a $( [ "$got_a" = "$want" ] && echo intact || echo differs ), b $( [ "$got_b" = "$want" ] && echo intact || echo differs )"; fi
}

# ---- pair create ----
for point in create-after-peer create-after-regions create-after-metadata; do
  vol=c-$point
  require "$point: volume $vol created" pairctl a volume create "$vol" 8M
  head -c 8M /dev/urandom > "$WORK/$vol.data"
  require "$point: 8 MiB written before the pair" \
    dd if="$WORK/$vol.data" of="$WORK/mnt-a/$vol" bs=1M conv=notrunc,fsync status=none
  crash_at a "$point" create "$vol" --mode sync
  status=$(pair_field a "$vol" status)
  case "$status" in
    SMPL) pass "$point: after the restart $vol is simplex at a (the old state)"
          check "$point: create again succeeds" pairctl a create "$vol" --mode sync ;;
    COPY|PAIR) pass "$point: after the restart $vol is a primary in $status at a (the new state)" ;;
    *) fail "$point: after the restart $vol is in the old or the new state" "status $status" ;;
  esac
  reach_pair "$point" a "$vol"
  check "$point: verify is clean" pairctl a verify "$vol"
  identical_to "$point: the data is intact at both sites" "$vol" "$WORK/$vol.data"
done

# ---- resize ----
for point in resize-after-intent resize-after-image; do
  vol=r-$point
  require "$point: volume $vol created" pairctl a volume create "$vol" 4M
  head -c 4M /dev/urandom > "$WORK/$vol.data"
  require "$point: 4 MiB written" dd if="$WORK/$vol.data" of="$WORK/mnt-a/$vol" bs=1M conv=notrunc,fsync status=none
  crash_at a "$point" volume resize "$vol" 8M
  size=$(volume_field a "$vol" size_bytes 2>/dev/null)
  if [ "$size" = $((4 << 20)) ] || [ "$size" = $((8 << 20)) ]; then
    pass "$point: after the restart $vol is loaded, $size bytes (old or new)"
  else
    fail "$point: after the restart $vol is loaded with the old or the new size" "size '${size}'"
  fi
  if [ "$(sum_of "$WORK/mnt-a/$vol" 0 $((4 << 20)))" = "$(sum_of "$WORK/$vol.data")" ]; then
    pass "$point: the data written before the resize is intact"
  else
    fail "$point: the data written before the resize is intact" "it differs"
  fi
  check "$point: a resize to 8M afterwards succeeds" pairctl a volume resize "$vol" 8M
done

# ---- takeover with swap ----
point=takeover-after-demote
require "$point: volume t created" pairctl a volume create t 8M
head -c 8M /dev/urandom > "$WORK/t.data"
require "$point: pair t in PAIR" bash -c "$PAIRCTL -c $WORK/a.toml create t --mode sync && \
  $PAIRCTL -c $WORK/a.toml wait t --status PAIR --timeout 60"
require "$point: 8 MiB written at a" dd if="$WORK/t.data" of="$WORK/mnt-a/t" bs=1M conv=notrunc,fsync status=none
crash_at b "$point" takeover t
# a was demoted (durably secondary) before b died; b, restarted, finishes the swap (or stays
# secondary, the old state, if a's demote did not happen).
if wait_field b t role primary 30 && wait_field b t status PAIR 30 && wait_field a t role secondary 10; then
  pass "$point: the swap is finished after the restart: b primary in PAIR, a secondary"
elif [ "$(pair_field a t role)" = primary ]; then
  pass "$point: the old state after the restart: a is still the primary"
else
  fail "$point: the old or the new state after the restart" "a $(pair_field a t role) $(pair_field a t status), b $(pair_field b t role) $(pair_field b t status)"
fi
primary=$( [ "$(pair_field b t role)" = primary ] && echo b || echo a )
reach_pair "$point" "$primary" t
check "$point: verify is clean" pairctl "$primary" verify t
identical_to "$point: the data is intact at both sites" t "$WORK/t.data"

# ---- resync --swap ----
point=swap-after-peer
require "$point: volume s created" pairctl a volume create s 8M
require "$point: pair s in PAIR" bash -c "$PAIRCTL -c $WORK/a.toml create s --mode sync && \
  $PAIRCTL -c $WORK/a.toml wait s --status PAIR --timeout 60"
stop_site a > /dev/null
check "$point: takeover at b while a is down (SSWS)" pairctl b takeover s
head -c 8M /dev/urandom > "$WORK/s.data"
require "$point: 8 MiB written at b" dd if="$WORK/s.data" of="$WORK/mnt-b/s" bs=1M conv=notrunc,fsync status=none
must_start a
crash_at b "$point" resync s --swap
# a was made the target of b's copy before b died; b still took over (SSWS, the old state here):
# the same resync --swap again finishes the swap (a newer generation: a, in COPY or PSUE, takes
# it as outdated and becomes the target again).
if [ "$(pair_field b s status)" = SSWS ] || [ "$(pair_field b s role)" = primary ]; then
  pass "$point: after the restart b is still SSWS (its last step was lost) or already the primary"
else
  fail "$point: b's state after the restart" "$(pair_field b s role) $(pair_field b s status)"
fi
[ "$(pair_field b s role)" = primary ] || check "$point: resync --swap at b again" pairctl b resync s --swap
reach_pair "$point" b s
check "$point: b is the primary" test "$(pair_field b s role)" = primary
check "$point: verify is clean" pairctl b verify s
identical_to "$point: b's data is at both sites" s "$WORK/s.data"

# ---- damaged files: a bad region-set header counts every region changed; a volume whose
# metadata is damaged is left out; the others serve ----
stop_site a > /dev/null
printf 'XXXX' | dd of="$WORK/a/volumes/c-create-after-metadata.regions" conv=notrunc status=none
printf 'garbage' > "$WORK/a/volumes/r-resize-after-image.meta"
must_start a
grep -q "c-create-after-metadata.regions: bad region set header; every region of the volume counts as changed" \
  "$WORK/a.log" && pass "a bad region-set header is logged: every region counts as changed" ||
  fail "a bad region-set header is logged" "no such line in a.log"
if pairctl a volume list | grep -q r-resize-after-image; then
  fail "the volume with damaged metadata is left out of volume list" "it is listed"
else
  pass "the volume with damaged metadata is left out of volume list"
fi
grep -q "volume r-resize-after-image not loaded" "$WORK/a.log" && pass "... and the log says so" ||
  fail "... and the log says so" "no 'not loaded' line in a.log"
check "the other volumes serve: r-resize-after-intent reads" dd if="$WORK/mnt-a/r-resize-after-intent" of=/dev/null bs=1M status=none
reach_pair "damaged region set" a c-create-after-metadata
check "damaged region set: verify is clean after the full copy" pairctl a verify c-create-after-metadata
identical_to "damaged region set: the data is intact at both sites" c-create-after-metadata "$WORK/c-create-after-metadata.data"

finish
