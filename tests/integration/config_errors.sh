#!/usr/bin/env bash
# Config errors: pairfs and pairctl refuse a bad config with exit 1 and a message naming the file,
# the key and the reason, and pairfs mounts nothing; a missing mount point is a usage error (2).
. "$(dirname "$0")/lib.sh"

MNT=$WORK/mnt-bad
mkdir -p "$MNT"
_MOUNTS+=("$MNT")   # should a bad config be accepted, cleanup unmounts what it mounted

# bad_config NAME TOML TEXT...: pairfs and pairctl on this config exit 1, and their messages
# contain the config's path and every TEXT.
bad_config() {
  local name=$1 toml=$2; shift 2
  local file=$WORK/$name.toml what out rc missing
  printf '%s\n' "$toml" > "$file"
  for what in pairfs pairctl; do
    if [ "$what" = pairfs ]; then
      out=$(timeout 10 "$PAIRFS" -f -c "$file" "$MNT" 2>&1); rc=$?
    else
      out=$(timeout 10 "$PAIRCTL" -c "$file" volume list 2>&1); rc=$?
    fi
    missing=
    for text in "$file" "$@"; do grep -qiF -- "$text" <<<"$out" || missing+=" '$text'"; done
    if [ "$rc" -eq 1 ] && [ -z "$missing" ]; then pass "$what refuses a config with $name (exit 1, message names the file and what is wrong)"
    else fail "$what refuses a config with $name (exit 1, message names the file and what is wrong)" "exit $rc, missing$missing in: $(tr '\n' ' ' <<<"$out")"; fi
    if mountpoint -q "$MNT"; then fail "$what with $name mounts nothing" "$MNT is mounted"; umount "$MNT"; fi
  done
}

D=$WORK/data
bad_config "malformed TOML" "$(printf '[site\nname = "a"\ndata_dir = "%s"' "$D")" ":1:"
bad_config "an unterminated string" "$(printf '[site]\nname = "a\ndata_dir = "%s"' "$D")" ":2:"
bad_config "an unknown key" "$(printf '[site]\nname = "a"\ndata_dir = "%s"\nbogus_key = 1' "$D")" "site.bogus_key" "unknown"
bad_config "an unknown table" "$(printf '[site]\nname = "a"\ndata_dir = "%s"\n[sight]\nname = "b"' "$D")" "sight" "unknown"
bad_config "a missing site.name" "$(printf '[site]\ndata_dir = "%s"' "$D")" "site.name" "missing"
bad_config "a missing [site] table" "$(printf '[peer]\nname = "b"\nendpoint = "tcp://127.0.0.1:7200"')" "site" "missing"
bad_config "a bad site.name" "$(printf '[site]\nname = "a/b"\ndata_dir = "%s"' "$D")" "site.name" "a/b"
bad_config "a region_size that is not a power of two" \
  "$(printf '[site]\nname = "a"\ndata_dir = "%s"\nregion_size = "3K"' "$D")" "site.region_size" "power of two"
bad_config "a region_size that is not a size" \
  "$(printf '[site]\nname = "a"\ndata_dir = "%s"\nregion_size = "lots"' "$D")" "site.region_size" "lots"
bad_config "a region_size over 64M" \
  "$(printf '[site]\nname = "a"\ndata_dir = "%s"\nregion_size = "1G"' "$D")" "site.region_size" "64M"
bad_config "a peer_timeout_ms that is a string" \
  "$(printf '[site]\nname = "a"\ndata_dir = "%s"\npeer_timeout_ms = "fast"' "$D")" "site.peer_timeout_ms" "integer"
bad_config "a control that is not an endpoint" \
  "$(printf '[site]\nname = "a"\ndata_dir = "%s"\ncontrol = "/tmp/x.sock"' "$D")" "site.control" "endpoint"
bad_config "a peer named like the site" \
  "$(printf '[site]\nname = "a"\ndata_dir = "%s"\n[peer]\nname = "a"\nendpoint = "tcp://127.0.0.1:7200"' "$D")" "peer.name" "differ"
if [ ! -e "$D" ]; then pass "no refused config created its data directory"
else fail "no refused config created its data directory" "$D exists"; fi

# A config file that is not there.
for what in pairfs pairctl; do
  if [ "$what" = pairfs ]; then out=$(timeout 10 "$PAIRFS" -f -c "$WORK/nonexistent.toml" "$MNT" 2>&1); rc=$?
  else out=$(timeout 10 "$PAIRCTL" -c "$WORK/nonexistent.toml" volume list 2>&1); rc=$?; fi
  if [ "$rc" -eq 1 ] && grep -qF "$WORK/nonexistent.toml" <<<"$out"; then pass "$what with a missing config file exits 1 and names it"
  else fail "$what with a missing config file exits 1 and names it" "exit $rc: $(tr '\n' ' ' <<<"$out")"; fi
done

# Command-line errors of pairfs.
write_config a
expect_exit "pairfs without a mount point exits 2 (usage)" 2 "MOUNTPOINT" timeout 10 "$PAIRFS" -f -c "$WORK/a.toml"
expect_exit "pairfs with an unknown option exits 2 (usage)" 2 "" timeout 10 "$PAIRFS" -f -c "$WORK/a.toml" --no-such-option "$MNT"
expect_exit "pairfs with a mount point that does not exist exits 1 and names it" 1 "$WORK/no-such-dir" \
  timeout 10 "$PAIRFS" -f -c "$WORK/a.toml" "$WORK/no-such-dir"
if mountpoint -q "$MNT"; then fail "pairfs with command-line errors mounts nothing" "$MNT is mounted"; umount "$MNT"
else pass "pairfs with command-line errors mounts nothing"; fi

# And a good config works, so the refusals above are about the errors.
must_start a
pass "pairfs starts with a good config"
check "pairctl works with a good config" pairctl a volume list

finish
