#!/usr/bin/env bash
# The witness site (pairfs --witness): it starts in the background and answers reserve votes by
# the rule of pairfs(8) WITNESS (first asker wins, the holder is granted again, release by the
# holder only, an outdated site needs --force), keeps its record across kill -9, refuses sites it
# does not serve, survives garbage, refuses the votes of a corrupt record only, and refuses bad
# command lines and configs with exit 2.
. "$(dirname "$0")/lib.sh"

W=tcp://127.0.0.1:$((PORT_A + 2))
write_witness_config "$W"

# expect_vote NAME CODE TEXT SITE VOLUME HOLDER [--release] [--force] [--outdated SITE]: one vote
# sent as SITE must exit with CODE (0 granted, 1 refused) and print TEXT.
expect_vote() {
  local name=$1 code=$2 text=$3; shift 3
  expect_exit "$name" "$code" "$text" timeout 10 "$TOOLS/wire_send" "$W" vote "$@"
}

# answering: the witness answers a vote (a refused one from a site it does not serve) within 5 s.
answering() {
  local rc
  for _ in $(seq 10); do
    timeout 10 "$TOOLS/wire_send" "$W" vote c probe c > /dev/null 2>&1; rc=$?
    [ "$rc" -eq 1 ] && return 0
    sleep 0.5
  done
  return 1
}

# witness_daemon_pid: the PID of the background witness of this test (its binary and config).
witness_daemon_pid() {
  local proc binary
  binary=$(readlink -f "$PAIRFS")
  for proc in /proc/[0-9]*; do
    [ "$(readlink -f "$proc/exe" 2>/dev/null)" = "$binary" ] || continue
    if tr '\0' ' ' < "$proc/cmdline" 2>/dev/null | grep -qF -- "--witness -c $WORK/w.toml"; then
      echo "${proc#/proc/}"
      return 0
    fi
  done
  return 1
}

# start_witness: the witness in the foreground (in the background of this shell), PID in $PID_w.
start_witness() {
  "$PAIRFS" --witness -f -c "$WORK/w.toml" >> "$WORK/w.log" 2>&1 &
  PID_w=$!
  _PIDS+=("$PID_w")
  answering || { fail "the restarted witness answers" "$(tail -3 "$WORK/w.log" | tr '\n' ' ')"; finish; }
}

# ---- command line and config
printf '[site]\nname = "w"\ndata_dir = "%s/x"\n[witness]\nendpoint = "%s"\n' "$WORK" "$W" > "$WORK/no-sites.toml"
expect_exit "pairfs --witness with a config without witness.sites exits 2 and says so" 2 \
  "witness.sites: missing" timeout 10 "$PAIRFS" --witness -f -c "$WORK/no-sites.toml"
if [ "$(wc -l <<<"$OUT")" -eq 1 ]; then pass "the missing witness.sites is one line"; else fail "the missing witness.sites is one line" "$OUT"; fi
printf '[site]\nname = "w"\ndata_dir = "%s/x"\n' "$WORK" > "$WORK/no-witness.toml"
expect_exit "pairfs --witness with a config without [witness] exits 2 and says so" 2 \
  "witness]: missing" timeout 10 "$PAIRFS" --witness -f -c "$WORK/no-witness.toml"
printf '[site]\nname = "a"\ndata_dir = "%s/x"\n[witness]\nendpoint = "%s"\nsites = ["a", "b"]\n' "$WORK" "$W" > "$WORK/self.toml"
expect_exit "pairfs --witness serving its own site name exits 2 and says so" 2 \
  "names this witness's own site a" timeout 10 "$PAIRFS" --witness -f -c "$WORK/self.toml"
mkdir -p "$WORK/mnt"
expect_exit "pairfs --witness with a mount point exits 2 (usage)" 2 "mounts nothing" \
  timeout 10 "$PAIRFS" --witness -f -c "$WORK/w.toml" "$WORK/mnt"
if [ ! -e "$WORK/x" ]; then pass "refused witness command lines create no data directory"
else fail "refused witness command lines create no data directory" "$WORK/x exists"; fi

# ---- in the background
require "pairfs --witness starts in the background (exit 0 once detached)" timeout 10 "$PAIRFS" --witness -c "$WORK/w.toml"
if PID_daemon=$(witness_daemon_pid); then
  _PIDS+=("$PID_daemon")
  pass "the background witness runs"
else
  fail "the background witness runs" "no process; log: $(tail -3 "$WORK/w/pairfs.log" | tr '\n' ' ')"; finish
fi
check "the background witness answers" answering
check "its log names the sites and the endpoint" grep -q "witness w: serving sites a and b at $W" "$WORK/w/pairfs.log"

expect_vote "first asker a is granted" 0 "^granted epoch=1 holder=a outdated=$" a quorum a
expect_vote "second asker b is refused" 1 "^refused: reserved by a$" b quorum b
expect_vote "a asking again is granted, epoch unchanged" 0 "^granted epoch=1 holder=a outdated=$" a quorum a
expect_vote "release by b is refused" 1 "^refused: reserved by a$" b quorum b --release
expect_vote "release by a is granted and bumps the epoch" 0 "^granted epoch=2 holder= outdated=$" a quorum a --release
expect_vote "a wins again, marking b outdated" 0 "^granted epoch=3 holder=a outdated=b$" a quorum a --outdated b
expect_vote "outdated b is refused and told it is outdated" 1 \
  "^refused: reserved by a; site b is outdated (its copies may miss acknowledged writes); only --force can make it win$" b quorum b
check "grants and refusals are logged" grep -q "witness: refused the reservation of quorum to site b (asked by site b): reserved by a" "$WORK/w/pairfs.log"
check "grants are logged with the epoch" grep -q "witness: granted the reservation of quorum to site a (asked by site a), epoch 3, site b outdated" "$WORK/w/pairfs.log"

# ---- durable across kill -9
kill -9 "$PID_daemon"
for _ in $(seq 50); do kill -0 "$PID_daemon" 2>/dev/null || break; sleep 0.1; done
_forget_pid "$PID_daemon"
start_witness
expect_vote "after kill -9 and a restart the record is still held by a with b outdated" 0 \
  "^granted epoch=3 holder=a outdated=b$" a quorum a
expect_vote "after the restart outdated b is still refused" 1 "site b is outdated" b quorum b
expect_vote "b wins with --force, which clears its own mark" 0 "^granted epoch=4 holder=b outdated=$" b quorum b --force
expect_vote "then a is refused" 1 "^refused: reserved by b$" a quorum a

# ---- numbered votes (house, issue 12): a release sent before the holder's newer reserve and
# delivered after it (cluster simulation seed 93) is late: refused and counted, the hold kept.
expect_vote "a numbered reserve is granted and recorded with its number" 0 \
  "^granted epoch=1 holder=a outdated= hold=100$" a late a --hold 100
expect_vote "the holder's newer reserve keeps the epoch and records its number" 0 \
  "^granted epoch=1 holder=a outdated= hold=300$" a late a --hold 300
expect_vote "the holder's release numbered before that reserve is refused as late" 1 \
  "^refused: a late release: site a reserved again after it (hold 300, the release 200)$" \
  a late a --release --hold 200
check "the late release is logged as a warning with the count" \
  grep -q "warning.*witness: refused the release of late for site a.*1 late vote(s) refused so far" "$WORK/w.log"
expect_vote "after the late release b is still refused" 1 "^refused: reserved by a$" b late b
expect_vote "the holder's release numbered after its reserve is granted" 0 \
  "^granted epoch=2 holder= outdated=$" a late a --release --hold 400

# ---- sites it does not serve
expect_vote "a vote from a foreign site is refused" 1 "votes from site c are not accepted" c quorum c
expect_vote "a vote for a foreign holder is refused" 1 "site c cannot hold" a quorum c --force
expect_vote "a vote marking a foreign site outdated is refused" 1 "site c cannot be marked outdated" b quorum b --outdated c
expect_vote "a bad volume name is refused" 1 "refused: " b ../quorum b
expect_vote "after the foreign votes the record is unchanged" 0 "^granted epoch=4 holder=b outdated=$" b quorum b

# ---- garbage
SEED=${PAIRFS_TEST_SEED:-$RANDOM}
echo "wire_send seed $SEED (set PAIRFS_TEST_SEED to repeat)"
check "wire_send sends 200 malformed frames" timeout 60 "$TOOLS/wire_send" "$W" garbage 200 "$SEED"
if kill -0 "$PID_w" 2>/dev/null; then pass "the witness still runs after 200 malformed frames"
else fail "the witness still runs after 200 malformed frames" "$(tail -3 "$WORK/w.log" | tr '\n' ' ')"; finish; fi
expect_vote "the witness answers after the garbage, its record unchanged" 0 "^granted epoch=4 holder=b outdated=$" b quorum b
warnings=$(grep -c "witness: refused a message" "$WORK/w.log")
# One line per kind per 10 s (wire/log_limit.h); the sender ran at most 60 s: at most 7 lines.
if [ "$warnings" -ge 1 ] && [ "$warnings" -le 7 ]; then pass "malformed frames are logged, not each ($warnings lines for 200)"
else fail "malformed frames are logged, not each" "$warnings warnings for 200 frames"; fi

# ---- a corrupt record
expect_vote "a second determining volume gets its own record" 0 "^granted epoch=1 holder=a outdated=$" a quorum2 a
kill -TERM "$PID_w"
wait_exit "$PID_w" 10
rc=$?
if [ "$rc" -eq 0 ]; then pass "SIGTERM stops the witness with exit 0"; else fail "SIGTERM stops the witness with exit 0" "exit $rc"; fi
python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[-1] ^= 0x55; open(p, "wb").write(b)' \
  "$WORK/w/witness/quorum2.record"
start_witness
expect_vote "votes for a volume whose record is corrupt are refused" 1 "record of quorum2 is unusable.*checksum mismatch" a quorum2 a
expect_vote "even forced" 1 "unusable" b quorum2 b --force
expect_vote "another volume still votes" 0 "^granted epoch=4 holder=b outdated=$" b quorum b
check "the corrupt record is logged as an error" grep -q "error: witness: the record of quorum2 is unusable" "$WORK/w.log"
if [ "$(grep -c "error: witness: the record of quorum2" "$WORK/w.log")" -eq 1 ]; then pass "the corrupt record is logged as an error once"
else fail "the corrupt record is logged as an error once" "$(grep -c "error: witness" "$WORK/w.log") error lines"; fi

# ---- a second witness: refused before it detaches
expect_exit "a second witness on the same data directory exits 1" 1 "another pairfs is serving" \
  timeout 10 "$PAIRFS" --witness -c "$WORK/w.toml"
sed "s|data_dir = \"$WORK/w\"|data_dir = \"$WORK/w2\"|" "$WORK/w.toml" > "$WORK/w2.toml"
expect_exit "a second witness on a busy endpoint exits 1 before detaching" 1 "$W" \
  timeout 10 "$PAIRFS" --witness -c "$WORK/w2.toml"
expect_vote "the first witness still answers" 0 "^granted epoch=4 holder=b outdated=$" b quorum b

kill -INT "$PID_w"
wait_exit "$PID_w" 10
rc=$?
if [ "$rc" -eq 0 ]; then pass "SIGINT stops the witness with exit 0"; else fail "SIGINT stops the witness with exit 0" "exit $rc"; fi

finish
