#!/usr/bin/env bash
# Real block-I/O clients on a volume file: fio with direct=1 and crc32c verification (libaio and
# io_uring, queue depth > 1, 4k and mixed block sizes), fio's verify proven able to fail, and
# qemu-io / qemu-img with cache=none (O_DIRECT).
. "$(dirname "$0")/lib.sh"

write_config a
must_start a
M=$WORK/mnt-a
require "pairctl volume create vol 1G succeeds" pairctl a volume create vol 1G

# fio_verified NAME FIO_ARGS...: runs fio with crc32c verification and passes if it exits 0, reports
# no error, and read back (verified) everything it wrote.
fio_verified() {
  local name=$1 out=$WORK/fio.json rc result; shift
  fio --filename="$M/vol" --direct=1 --verify=crc32c --verify_fatal=1 --verify_state_save=0 --group_reporting \
    --output-format=json --output="$out" "$@" > "$WORK/fio.err" 2>&1
  rc=$?
  result=$(python3 - "$out" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
jobs = json.loads(text[text.index("{"):])["jobs"]
written = sum(j["write"]["io_bytes"] for j in jobs)
read = sum(j["read"]["io_bytes"] for j in jobs)
errors = [j["error"] for j in jobs if j["error"]]
ok = written > 0 and read >= written and not errors
print(("ok " if ok else "") + f"wrote {written} bytes, verified {read}, errors {errors}")
PY
  ) || result="no fio report: $(tail -3 "$WORK/fio.err" "$out" 2>/dev/null | tr '\n' ' ')"
  if [ "$rc" -eq 0 ] && [[ "$result" == ok* ]]; then pass "$name"
  else fail "$name" "fio exit $rc; $result $(grep -m1 -i 'verify\|error' "$WORK/fio.err" "$out" 2>/dev/null)"; fi
}

fio_verified "fio randwrite bs=4k iodepth=16 libaio direct=1 verifies (crc32c)" \
  --name=rand4k --ioengine=libaio --iodepth=16 --rw=randwrite --bs=4k --offset=0 --size=64M
fio_verified "fio randwrite of mixed block sizes (4k-1m) iodepth=8 libaio direct=1 verifies" \
  --name=mixed --ioengine=libaio --iodepth=8 --rw=randwrite --bssplit=4k/40:16k/20:64k/20:256k/10:1m/10 \
  --offset=128M --size=128M
fio_verified "fio with two io_uring writers (iodepth=16, bs=8k) on separate ranges verifies" \
  --name=uring --ioengine=io_uring --iodepth=16 --rw=randwrite --bs=8k --numjobs=2 \
  --offset=512M --offset_increment=64M --size=64M
fio_verified "fio sequential 1m writes iodepth=4 up to the volume's last byte verify" \
  --name=seqend --ioengine=libaio --iodepth=4 --rw=write --bs=1m --offset=960M --size=64M

# The verification can fail: data written by one fio run is verified by a second (verify_only),
# then one block is overwritten behind fio's back and the next verify_only must report it.
seq=(--name=seq --filename="$M/vol" --direct=1 --ioengine=libaio --iodepth=4 --rw=write --bs=64k
     --offset=256M --size=16M --verify=crc32c --verify_state_save=0)
if fio "${seq[@]}" --do_verify=0 --output="$WORK/seq.out" > /dev/null 2>&1 &&
   fio "${seq[@]}" --verify_only --output="$WORK/seq.out" > /dev/null 2>&1; then
  pass "a later fio run (verify_only) verifies data an earlier one wrote"
else fail "a later fio run (verify_only) verifies data an earlier one wrote" "$(grep -m2 -i verify "$WORK/seq.out" | tr '\n' ' ')"; fi
dd if=/dev/urandom of="$M/vol" bs=4k seek=$(((256 + 8) * 256)) count=1 oflag=direct conv=notrunc status=none
if fio "${seq[@]}" --verify_only --output="$WORK/seq.out" > "$WORK/seq.err" 2>&1; then
  fail "fio verify_only detects one overwritten 4k block" "verify passed over a corrupted block"
elif grep -q "verify: bad" "$WORK/seq.err"; then pass "fio verify_only detects one overwritten 4k block"
else fail "fio verify_only detects one overwritten 4k block" "fio failed without a verify report: $(tail -2 "$WORK/seq.err")"; fi

# qemu-io with cache=none (O_DIRECT) on a second volume.
require "pairctl volume create img 64M succeeds" pairctl a volume create img 64M
I=$M/img
expect_exit "qemu-io -t none writes 0xab at 1M and reads it back (pattern check passes)" 0 "read 65536/65536" \
  qemu-io -f raw -t none -c 'write -P 0xab 1M 64k' -c 'read -P 0xab 1M 64k' "$I"
if grep -q "Pattern verification failed" <<<"$OUT"; then fail "qemu-io's pattern check of its own write reports no mismatch" "$OUT"
else pass "qemu-io's pattern check of its own write reports no mismatch"; fi
expect_exit "qemu-io's pattern check fails on a region holding another pattern" 1 "Pattern verification failed" \
  qemu-io -f raw -t none -c 'read -P 0xcd 1M 64k' "$I"
expect_exit "qemu-io -t none -i native: queued aio writes then reads check their patterns" 0 "" \
  qemu-io -f raw -t none -i native -c 'aio_write -P 0x11 0 256k' -c 'aio_write -P 0x22 256k 256k' \
  -c 'aio_write -P 0x33 512k 4k' -c aio_flush -c 'read -P 0x11 0 256k' -c 'read -P 0x22 256k 256k' -c 'read -P 0x33 512k 4k' "$I"
if grep -q "Pattern verification failed" <<<"$OUT"; then fail "the aio writes read back with no pattern mismatch" "$OUT"
else pass "the aio writes read back with no pattern mismatch"; fi
expect_exit "qemu-io -t none: an unaligned write (1000+3000 bytes) reads back, its neighbours intact" 0 "" \
  qemu-io -f raw -t none -c 'write -P 0x5a 1000 3000' -c 'read -P 0x5a 1000 3000' -c 'read -P 0x11 0 1000' \
  -c 'read -P 0x11 4000 96' -c 'read -P 0xab 1M 64k' "$I"
if grep -q "Pattern verification failed" <<<"$OUT"; then fail "the unaligned write read back with no pattern mismatch" "$OUT"
else pass "the unaligned write read back with no pattern mismatch"; fi

# qemu-img convert into the volume (no create: -n) with cache=none, then qemu-img compare.
truncate -s 64M "$WORK/src.raw"
for off in 0 7 19 40 63; do dd if=/dev/urandom of="$WORK/src.raw" bs=1M seek=$off count=1 conv=notrunc status=none; done
check "qemu-img convert -n -t none copies a raw image into a volume" \
  qemu-img convert -n -f raw -O raw -t none "$WORK/src.raw" "$I"
check "qemu-img compare says the volume and the source image are identical" qemu-img compare -f raw -F raw "$WORK/src.raw" "$I"
dd if=/dev/urandom of="$I" bs=4k seek=5000 count=1 oflag=direct conv=notrunc status=none
expect_exit "qemu-img compare notices a changed 4k block (exit 1)" 1 "mismatch" \
  qemu-img compare -f raw -F raw "$WORK/src.raw" "$I"

finish
