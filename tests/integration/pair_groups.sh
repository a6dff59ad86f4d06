#!/usr/bin/env bash
# Consistency groups of sync pairs (pairctl(8) --group): two volumes in group app and a writer of
# numbered records that alternate between them, each record written (O_DIRECT) only once the one
# before it returned; `split --group app` while it writes leaves the two secondaries at one point
# (the records at b are exactly records 0..k, none missing, across both volumes); resync --group
# brings both back to PAIR; display and wait --group; split --group issued at the secondaries'
# site; a group with primaries at two sites (split refused, takeover --group brings them
# together); takeover --group at b with a killed; the refusals (unknown group, NAME and --group,
# a pair whose primary is elsewhere joining the group).
# PAIR_GROUPS_NAIVE=1 splits the two pairs one after the other instead (by hand, to see the
# record check fail: the writer then gets a record onto one secondary after the other was split).
. "$(dirname "$0")/lib.sh"

write_pair_configs 'peer_timeout_ms = 1000'
MA=$WORK/mnt-a MB=$WORK/mnt-b
must_start a
must_start b

for v in db log solo; do require "volume create $v at a" pairctl a volume create "$v" 32M; done
require "create db --group app" pairctl a create db --mode sync --group app
require "create log --group app" pairctl a create log --mode sync --group app
require "create solo (a group of its own)" pairctl a create solo --mode sync
require "wait --group app --status PAIR" pairctl a wait --group app --status PAIR --timeout 60

# ---- refusals ----
expect_exit "split --group of an unknown group: exit 1, not found" 1 "no pair in group nosuch" \
  pairctl a split --group nosuch
expect_exit "display --group of an unknown group: exit 1" 1 "no pair in group nosuch" \
  pairctl a display --group nosuch
expect_exit "split NAME --group G: usage, exit 2" 2 "not both" pairctl a split db --group app
expect_exit "takeover without NAME or --group: usage, exit 2" 2 "NAME or --group" pairctl b takeover
require "volume create other at b" pairctl b volume create other 32M
expect_exit "a pair with its primary at b cannot join group app (primaries at a)" 1 "cannot join" \
  pairctl b create other --mode sync --group app

# ---- display --group lists exactly the group's pairs, at both sites ----
for site in a b; do
  expect_exit "display --group app --json at $site" 0 "" pairctl "$site" --json display --group app
  got=$(echo "$OUT" | json "sorted((v['name'], v['group']) for v in d)")
  if [ "$got" = '[["db", "app"], ["log", "app"]]' ]; then pass "display --group app at $site: db and log only"
  else fail "display --group app at $site: db and log only" "$got"; fi
done
expect_exit "display --group solo: the pair created without a group" 0 "solo" pairctl a display --group solo

# ---- split --group while a writer alternates numbered records between the two volumes ----
cat > "$WORK/writer.py" <<'PY'
import mmap, os, sys
# Record k goes to volume k % 2, block k // 2; written with O_DIRECT, one at a time, in order.
vols, progress, stop = sys.argv[1:3], sys.argv[3], sys.argv[4]
fds = [os.open(v, os.O_WRONLY | os.O_DIRECT) for v in vols]
block = mmap.mmap(-1, 4096)
limit = 2 * (os.path.getsize(vols[0]) // 4096)
k = 0
while k < limit and not os.path.exists(stop):
    block.seek(0)
    block.write(b"record %012d\n" % k)
    os.pwrite(fds[k % 2], block, (k // 2) * 4096)
    k += 1
    if k % 20 == 0:
        with open(progress + ".tmp", "w") as f: f.write(str(k))
        os.replace(progress + ".tmp", progress)
with open(progress + ".tmp", "w") as f: f.write(str(k))
os.replace(progress + ".tmp", progress)
PY
cat > "$WORK/records.py" <<'PY'
import sys
# The records present on the two volumes, as numbers; each must sit where the writer put it.
present, misplaced = set(), []
for j, path in enumerate(sys.argv[1:3]):
    data = open(path, "rb").read()
    for i in range(len(data) // 4096):
        head = data[i * 4096:i * 4096 + 20]
        if not head.startswith(b"record "): continue
        k = int(head[7:19])
        if k != 2 * i + j: misplaced.append((path, i, k))
        present.add(k)
top = max(present) if present else -1
missing = sorted(set(range(top + 1)) - present)
print(top + 1, len(missing), missing[:5], misplaced[:5])
PY
written() { cat "$WORK/progress" 2>/dev/null || echo 0; }
at_least() { [ "$(written)" -ge "$1" ]; }
python3 "$WORK/writer.py" "$MA/db" "$MA/log" "$WORK/progress" "$WORK/stop" 2> "$WORK/writer.err" &
WRITER=$!
on_cleanup "touch $WORK/stop; kill $WRITER"
if ! wait_until 30 at_least 400; then fail "the writer writes" "$(cat "$WORK/writer.err")"; finish; fi
if [ -n "${PAIR_GROUPS_NAIVE:-}" ]; then
  pairctl a split db > "$WORK/split.out" 2>&1 && pairctl a split log >> "$WORK/split.out" 2>&1
else
  pairctl a split --group app > "$WORK/split.out" 2>&1
fi
split_rc=$? after_split=$(written)
if [ "$split_rc" -eq 0 ]; then pass "split --group app while writing"
else fail "split --group app while writing" "$(tr '\n' ' ' < "$WORK/split.out")"; fi
if ! wait_until 30 at_least $((after_split + 400)); then fail "the writer goes on after the split" "$(cat "$WORK/writer.err")"; fi
touch "$WORK/stop"
wait_exit "$WRITER" 30
check "the writer had no error" test ! -s "$WORK/writer.err"
total=$(written)
for site in a b; do
  for v in db log; do
    check "$v at $site: PSUS after split --group" _field_is "$site" "$v" status PSUS
  done
done
read -r top missing first_missing misplaced <<<"$(python3 "$WORK/records.py" "$MB/db" "$MB/log")"
if [ "$missing" = 0 ] && [ "$top" -gt 0 ]; then
  pass "the secondaries hold records 0..$((top - 1)), none missing across db and log: one point"
else
  fail "the secondaries are at one point" "top $top, $missing missing: $first_missing $misplaced"
fi
if [ "$top" -lt "$total" ] && [ "$top" -ge 400 ]; then
  pass "the split point fell while the writer wrote ($top of $total records replicated)"
else
  fail "the split point fell while the writer wrote" "$top of $total records at b"
fi
read -r top_a missing_a _ <<<"$(python3 "$WORK/records.py" "$MA/db" "$MA/log")"
check "the primaries hold every record the writer wrote ($total)" test "$top_a" = "$total" -a "$missing_a" = 0

# ---- resync --group, wait --group ----
expect_exit "resync --group app --json" 0 "" pairctl a --json resync --group app
got=$(echo "$OUT" | json "[d['group'], d['done']] + [(p['name'], p['done']) for p in d['pairs']]")
if [ "$got" = '["app", true, ["db", true], ["log", true]]' ]; then pass "resync --group --json: one object per pair, all done"
else fail "resync --group --json: one object per pair, all done" "$got"; fi
require "wait --group app --status PAIR after the resync" pairctl a wait --group app --status PAIR --timeout 60
identical "db identical after resync --group" db
identical "log identical after resync --group" log
check "solo was left alone in PAIR" _field_is a solo status PAIR

# ---- split --group at the secondaries' site: run at the primary, both sites split ----
expect_exit "split --group app at b (forwarded to a)" 0 "split db" pairctl b split --group app
for site in a b; do
  for v in db log; do check "$v at $site: PSUS after the forwarded split" _field_is "$site" "$v" status PSUS; done
done
expect_exit "split --group again: already suspended, done" 0 "already suspended" pairctl a split --group app
require "resync --group app at b (forwarded per pair)" pairctl b resync --group app
require "wait --group app PAIR at b" pairctl b wait --group app --status PAIR --timeout 60

# ---- primaries at two sites: split --group refused; takeover --group brings them together ----
require "takeover log at b alone (a swap: log's primary moves to b)" pairctl b takeover log
expect_exit "split --group of a group with primaries at a and b is refused" 1 "inconsistent" \
  pairctl a split --group app
expect_exit "takeover --group app at b: db swapped, log already the primary" 0 \
  "already the primary here" pairctl b takeover --group app
for v in db log; do check "$v primary at b after takeover --group" _field_is b "$v" role primary; done
require "takeover --group app at a: both swap back" pairctl a takeover --group app
for v in db log; do check "$v primary PAIR at a again" _field_is a "$v" status PAIR; done

# ---- takeover --group at b with a killed ----
kill9_site a
expect_exit "takeover --group app at b while a is dead" 0 "" pairctl b --json takeover --group app
got=$(echo "$OUT" | json "[(p['name'], p['status'], p['done']) for p in d['pairs']]")
if [ "$got" = '[["db", "SSWS", true], ["log", "SSWS", true]]' ]; then pass "takeover --group: db and log SSWS at b"
else fail "takeover --group: db and log SSWS at b" "$got"; fi
for v in db log; do
  check "$v writable at b after takeover --group" dd if=/dev/urandom of="$MB/$v" bs=4k count=4 conv=notrunc,fsync status=none
done
check "solo (not in the group) is not taken over" bash -c "[ \"\$($PAIRCTL -c $WORK/b.toml --json display solo | python3 -c 'import json,sys; print(json.load(sys.stdin)[0][\"status\"])')\" != SSWS ]"
expect_exit "takeover --group again: already taken over, exit 0" 0 "already taken over" pairctl b takeover --group app

finish
