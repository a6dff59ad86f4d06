"""Numbered fsync'd records across the two volumes (db, log) of an async group, and the check
that a secondary holds a prefix of them (tests/integration/async_pair.sh, async_resync.sh).

  async_records.py write MOUNT FIRST COUNT LOG   records FIRST..FIRST+COUNT-1 at MOUNT, each
                                                 fsync'd, then its number appended to LOG
  async_records.py prefix DATA COUNT             exit 0 when DATA's images hold records 1..k and
                                                 none after k (printed), 1 otherwise
"""
import os
import sys

RECORD_BYTES = 4096


def record(k):
    return (b"REC%08d" % k).ljust(RECORD_BYTES, b".")


def write(mount, first, count, log_path):
    log = open(log_path, "a")
    fds = [os.open(mount + "/db", os.O_WRONLY), os.open(mount + "/log", os.O_WRONLY)]
    for k in range(first, first + count):
        fd = fds[k % 2]  # records alternate between the group's two volumes
        os.pwrite(fd, record(k), (k // 2) * RECORD_BYTES)
        os.fsync(fd)
        log.write("%d\n" % k)
        log.flush()


def prefix(data, count):
    images = [open(data + "/volumes/db.img", "rb").read(),
              open(data + "/volumes/log.img", "rb").read()]
    present = [images[k % 2][(k // 2) * RECORD_BYTES:(k // 2) * RECORD_BYTES + 11] == b"REC%08d" % k
               for k in range(1, count + 1)]
    held = present.index(False) if False in present else count
    beyond = [k + 1 for k in range(held, count) if present[k]]
    print("records 1..%d at the secondary%s"
          % (held, "; beyond them: %s" % beyond[:5] if beyond else ""))
    return 1 if beyond else 0


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "write":
        write(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    elif len(sys.argv) == 4 and sys.argv[1] == "prefix":
        sys.exit(prefix(sys.argv[2], int(sys.argv[3])))
    else:
        sys.exit(__doc__)
