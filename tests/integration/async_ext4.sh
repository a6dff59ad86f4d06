#!/usr/bin/env bash
# ext4 on an async pair under a file workload (issue 13): the replication link goes through the WAN
# proxy (5 ms each way); at the primary an ext4 on a loop device over the volume file takes files of
# known content, each fsync'd, and after each file's fsync a line "name sha256" appended to a
# manifest in the same file system and fsync'd. Four times while that runs: the link is stalled, the
# secondary's restore is let finish what it received (applied_sequence = sent_sequence at b, the
# same two readings 0.5 s apart), b's image is copied to a scratch file through b's mount, the link
# healed. Each scratch copy must be a crash-consistent ext4: mounted read-write (the kernel replays
# its journal, as a DR site's VM booting would), unmounted, `e2fsck -fn` finds nothing (exit 0),
# and mounted read-only every file its manifest lists has exactly the content written (a prefix:
# the manifest can never list a file whose data is missing). At the end: the primary's ext4
# unmounted, lag 0, identical copies. Outcomes and order only; deadlines only catch hangs.
#
# Why e2fsck -fn after a journal replay, not e2fsck -fy's exit 0 or 1: a crash-consistent ext4 needs
# only its journal replayed; exit 1 of -fy would also accept a file system e2fsck had to repair,
# which is exactly what an out-of-order restore produces. Why b's mount and not b's data directory:
# the mount is what a user at the DR site reads (a VM started there after a takeover).
. "$(dirname "$0")/lib.sh"
for tool in mkfs.ext4 e2fsck losetup; do
  command -v "$tool" > /dev/null || { skip "async ext4" "$tool missing"; exit 0; }
done

write_pair_configs 'peer_timeout_ms = 1000
[journal]
size = "64M"'
start_sites_over_wan 5
ext4_on_pair async

# The workload: files of known content, each fsync'd, then its manifest line appended and fsync'd;
# until $WORK/stop exists or MAX files are written.
cat > "$WORK/workload.py" <<'PY'
import hashlib, os, random, sys
root, stop, most = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(root + "/files", exist_ok=True)
manifest = os.open(root + "/manifest", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
rng = random.Random(13)
for i in range(most):
    if os.path.exists(stop):
        break
    name = "files/f%05d" % i
    data = rng.randbytes(rng.randrange(1, 32 * 1024))
    with open(root + "/" + name, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.write(manifest, ("%s %s\n" % (name, hashlib.sha256(data).hexdigest())).encode())
    os.fsync(manifest)
print(i + 1)
PY
# check_copy K IMAGE: the checks of one scratch copy.
cat > "$WORK/manifest.py" <<'PY'
import hashlib, sys
root = sys.argv[1]
text = open(root + "/manifest", "rb").read()
# A line without its newline was being appended when the copy's point was cut: not yet promised.
lines = text.split(b"\n")[:-1]
bad = []
for line in lines:
    try:
        name, digest = line.decode().split(" ")
        ok = hashlib.sha256(open(root + "/" + name, "rb").read()).hexdigest() == digest
    except (ValueError, UnicodeDecodeError, OSError) as e:
        ok, name = False, "%r (%s)" % (line[:40], e)
    if not ok:
        bad.append(name)
print("%d files listed%s" % (len(lines), ", wrong or missing: %s" % bad[:5] if bad else ", all intact"))
sys.exit(1 if bad else 0)
PY
check_copy() {
  local k=$1 image=$2 out
  if mount -o loop "$image" "$S" 2> "$WORK/mount-$k.err" && umount "$S"; then
    pass "copy $k: b's ext4 mounts read-write (its journal replayed) and unmounts"
  else
    fail "copy $k: b's ext4 mounts read-write (its journal replayed) and unmounts" "$(tail -2 "$WORK/mount-$k.err")"
    return
  fi
  if e2fsck -fn "$image" > "$WORK/e2fsck-$k.out" 2>&1; then
    pass "copy $k: e2fsck -fn after the journal replay finds nothing (exit 0)"
  else
    fail "copy $k: e2fsck -fn after the journal replay finds nothing (exit 0)" \
      "exit $?: $(grep -v '^Pass\|^e2fsck\|^/' "$WORK/e2fsck-$k.out" | head -4 | tr '\n' ' ')"
  fi
  if mount -o loop,ro "$image" "$S" 2> "$WORK/mount-$k.err"; then
    if out=$(python3 "$WORK/manifest.py" "$S"); then
      pass "copy $k: every file b's manifest lists is intact ($out)"
    else
      fail "copy $k: every file b's manifest lists is intact" "$out"
    fi
    echo "$out" | cut -d' ' -f1 > "$WORK/listed-$k"
    umount "$S"
  else
    fail "copy $k: b's ext4 mounts read-only" "$(tail -2 "$WORK/mount-$k.err")"
  fi
}

# b_settled: b has applied everything it holds, and holds nothing new 0.5 s later (the link is
# stalled: nothing more arrives).
b_settled() {
  local applied sent
  applied=$(pair_field b disk applied_sequence) sent=$(pair_field b disk sent_sequence)
  [ -n "$sent" ] && [ "$applied" = "$sent" ] || return 1
  sleep 0.5
  [ "$(pair_field b disk applied_sequence)" = "$applied" ] && [ "$(pair_field b disk sent_sequence)" = "$sent" ]
}
files_written() { [ -f "$E/manifest" ] && [ "$(wc -l < "$E/manifest")" -ge "$1" ]; }
# b_applied_beyond SEQUENCE: b applied an entry after SEQUENCE (the link carries again).
b_applied_beyond() { [ "$(pair_field b disk applied_sequence)" -gt "$1" ]; }

python3 "$WORK/workload.py" "$E" "$WORK/stop" 6000 > "$WORK/workload.out" 2> "$WORK/workload.err" &
WRITER=$!
on_cleanup "kill $WRITER"
COPIES=4 settled=0
for k in $(seq $COPIES); do
  wait_until 20 files_written $((k * 60))   # some files between two copies
  # each copy a later point than the one before
  require "copy $k: b applies beyond the point of the copy before ($settled)" wait_until 30 b_applied_beyond "$settled"
  require "copy $k: stall the link (wan_proxy SIGUSR1)" wan_stall
  require "copy $k: b applied everything it received" wait_until 30 b_settled
  check "copy $k: b's image through b's mount to a scratch file" \
    dd if="$MB/disk" of="$WORK/copy-$k.img" bs=1M status=none
  settled=$(pair_field b disk applied_sequence)
  require "copy $k: heal the link" wan_heal
  check_copy "$k" "$WORK/copy-$k.img"
  rm -f "$WORK/copy-$k.img"
done
touch "$WORK/stop"
wait_exit "$WRITER" 120
rc=$?
if [ $rc -eq 0 ]; then pass "the workload at a ended without an error ($(cat "$WORK/workload.out") files)"
else fail "the workload at a ended without an error" "exit $rc: $(tail -2 "$WORK/workload.err")"; fi
check "the copies advanced: the last lists files ($(cat "$WORK/listed-$COPIES" 2>/dev/null))" \
  test "$(cat "$WORK/listed-$COPIES" 2>/dev/null || echo 0)" -gt 0
check "a's own ext4 is intact (its manifest)" python3 "$WORK/manifest.py" "$E"

check "umount the ext4 at a" umount "$E"
detach_loop "$LOOP"
lag_is_zero() { _field_is a disk journal_lag_bytes 0; }
check "after the heal b applies everything (journal_lag_bytes 0)" wait_until 30 lag_is_zero
identical "a's and b's images are identical at the end" disk
finish
