#!/usr/bin/env bash
# A VM manager chowns an image and runs qemu as another user: with `-o allow_other` the owner
# (not root) reads and writes the volume, others get EACCES by its mode; without allow_other no
# other user gets in at all.
. "$(dirname "$0")/lib.sh"

chmod 755 "$WORK"   # the other users must be able to reach the mount point
write_config a
must_start a -o allow_other
M=$WORK/mnt-a
OWNER=65534 OTHER=4242
as() { local uid=$1; shift; setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@"; }

require "pairctl volume create vm1 64M succeeds" pairctl a volume create vm1 64M
check "chown of vm1 to another user works" chown "$OWNER:$OWNER" "$M/vm1"
check "chmod 600 of vm1 works" chmod 600 "$M/vm1"

check "with allow_other, the volume's owner (not root) writes it with qemu-io -t none" \
  as "$OWNER" qemu-io -f raw -t none -c 'write -P 0x42 0 64k' "$M/vm1"
expect_exit "with allow_other, the volume's owner reads back what it wrote" 0 "read 65536/65536" \
  as "$OWNER" qemu-io -f raw -t none -c 'read -P 0x42 0 64k' "$M/vm1"
expect_fail_with "another user cannot open a mode-600 volume (EACCES)" "Permission denied" \
  as "$OTHER" dd if="$M/vm1" of=/dev/null bs=4k count=1 status=none
expect_fail_with "the owner cannot chown the volume to someone else (EPERM)" "Operation not permitted" \
  as "$OWNER" chown "$OTHER" "$M/vm1"
check "chmod 644 by the owner works" as "$OWNER" chmod 644 "$M/vm1"
check "after chmod 644 another user can read the volume" as "$OTHER" dd if="$M/vm1" of=/dev/null bs=4k count=1 status=none
expect_fail_with "after chmod 644 another user still cannot write it (EACCES)" "Permission denied" \
  as "$OTHER" dd if=/dev/zero of="$M/vm1" bs=4k count=1 conv=notrunc status=none
expect_fail_with "a user cannot create files in the mount either" "Permission denied\|Operation not permitted" \
  as "$OWNER" touch "$M/new"

stop_site a || { fail "pairfs stops on SIGTERM" "exit $?"; finish; }
must_start a
expect_fail_with "without allow_other even the volume's owner cannot open it" "Permission denied" \
  as "$OWNER" dd if="$M/vm1" of=/dev/null bs=4k count=1 status=none
owner=$(stat -c '%u %a' "$M/vm1")
if [ "$owner" = "$OWNER 644" ]; then pass "owner and mode persist across a restart"
else fail "owner and mode persist across a restart" "stat says $owner"; fi

finish
