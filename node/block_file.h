// The bytes of one volume image, as Volume reads and writes them.
//
// PosixBlockFile is the real sparse image file on local disk. MemoryBlockFile keeps the bytes in
// memory for seeded simulations of the replication and cluster logic: it loses every write not
// yet synced when told to Crash(), as a kill -9 plus power loss would. Both are thread-safe.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "wire/messages.h"
#include "wire/status.h"

namespace pairfs::node {

struct BlockFileStat {
  uint64_t size_bytes = 0;
  uint64_t allocated_bytes = 0;
  struct timespec atime {};
  struct timespec mtime {};
  struct timespec ctime {};
};

// The unit of BlockFile::WriteSectors (and of the async journal's entries, node/journal_format.h).
inline constexpr uint64_t kSectorBytes = 512;

class BlockFile {
 public:
  virtual ~BlockFile() = default;
  // Reads `length` bytes at `offset` (the caller keeps within the size). `direct` asks to bypass
  // the host's page cache when offset, length and `out` are 4 KiB-aligned.
  virtual Result<size_t> ReadAt(uint64_t offset, size_t length, char* out, bool direct) = 0;
  // Writes all `length` bytes at `offset` or fails (IoError with errno; ENOSPC when the disk is
  // full).
  virtual Status WriteAt(uint64_t offset, const char* data, size_t length, bool direct) = 0;
  // Writes whole 512-byte sectors (offset, length and `data` 512-aligned) past the host's page
  // cache where the file system allows (O_DIRECT), else as WriteAt does; Sync still makes them
  // durable. For a file written in sectors only, so that an fdatasync flushes no neighbours'
  // pages (the async journal, node/journal.h).
  virtual Status WriteSectors(uint64_t offset, const char* data, size_t length) {
    return WriteAt(offset, data, length, false);
  }
  // Reads whole 512-byte sectors (offset, length and `out` 512-aligned) past the host's page
  // cache where the file system allows (O_DIRECT), else as ReadAt does: for a file written in
  // sectors, whose pages would only be read once and then evicted (the async journal's
  // transfer and restore reads).
  virtual Result<size_t> ReadSectors(uint64_t offset, size_t length, char* out) {
    return ReadAt(offset, length, out, false);
  }
  // Asks the host to drop the range's cached pages that are clean (a hint: what is dirty stays
  // until written back; nothing changes for readers). Does nothing where there is no page cache.
  virtual void DropCached(uint64_t /*offset*/, uint64_t /*length*/) {}
  // Punches a hole or zeroes a range; the size does not change.
  virtual Status Deallocate(wire::WriteKind kind, uint64_t offset, uint64_t length) = 0;
  // Makes every completed write durable.
  virtual Status Sync() = 0;
  // Sets the size (growing adds zeros) and makes the new size durable.
  virtual Status Resize(uint64_t size_bytes) = 0;
  virtual BlockFileStat Stat() const = 0;
  // Sets access and modification times (UTIME_NOW and UTIME_OMIT as in utimensat).
  virtual Status SetTimes(const struct timespec times[2]) = 0;
};

class PosixBlockFile final : public BlockFile {
 public:
  // Creates `path` sparse and `size_bytes` long, fsynced. AlreadyExists if it exists.
  static Status Create(const std::string& path, uint64_t size_bytes);
  // Opens an existing image. IoError naming the path.
  static Result<std::unique_ptr<BlockFile>> Open(const std::string& path);
  ~PosixBlockFile() override;

  Result<size_t> ReadAt(uint64_t offset, size_t length, char* out, bool direct) override;
  Status WriteAt(uint64_t offset, const char* data, size_t length, bool direct) override;
  Status WriteSectors(uint64_t offset, const char* data, size_t length) override;
  Result<size_t> ReadSectors(uint64_t offset, size_t length, char* out) override;
  void DropCached(uint64_t offset, uint64_t length) override;
  Status Deallocate(wire::WriteKind kind, uint64_t offset, uint64_t length) override;
  Status Sync() override;
  Status Resize(uint64_t size_bytes) override;
  BlockFileStat Stat() const override;
  Status SetTimes(const struct timespec times[2]) override;

 private:
  PosixBlockFile(std::string path, int fd, int direct_fd)
      : path_(std::move(path)), fd_(fd), direct_fd_(direct_fd) {}
  const std::string path_;
  const int fd_;         // buffered
  const int direct_fd_;  // O_DIRECT, or -1 where the file system has none (tmpfs)
  // WriteSectors or ReadSectors met EINVAL (a device whose logical sectors are larger than 512
  // bytes): buffered from then on.
  std::atomic<bool> sectors_refused_{false};
};

class MemoryBlockFile final : public BlockFile {
 public:
  explicit MemoryBlockFile(uint64_t size_bytes);

  Result<size_t> ReadAt(uint64_t offset, size_t length, char* out, bool direct) override;
  Status WriteAt(uint64_t offset, const char* data, size_t length, bool direct) override;
  Status Deallocate(wire::WriteKind kind, uint64_t offset, uint64_t length) override;
  Status Sync() override;
  Status Resize(uint64_t size_bytes) override;
  BlockFileStat Stat() const override;
  Status SetTimes(const struct timespec times[2]) override;

  // Forgets every write since the last Sync, as a crash before the data reached the disk does.
  void Crash();
  // From now on every write fails with ENOSPC (a full disk), or works again.
  void SetFull(bool full);
  // Disk faults on cue: once `after_writes` more writes (or discards) have succeeded, every one
  // fails with IoError(`error_number`) (ENOSPC a full disk, EIO a failing one) until called with 0.
  void FailWrites(int error_number, uint64_t after_writes = 0);
  // Every Sync fails with IoError(`error_number`) until called with 0 (a lost writeback).
  void FailSyncs(int error_number);
  // Writes asked for with `direct` (O_DIRECT at a real file; here as durable as any other write:
  // a crash before the next Sync loses them, as a disk's volatile cache would).
  uint64_t direct_writes() const;

 private:
  static constexpr uint64_t kPageBytes = 4096;
  using Pages = std::map<uint64_t, std::string>;  // page number -> kPageBytes bytes; absent = zeros
  void WriteLocked(uint64_t offset, const char* data, size_t length);
  // The fault armed by FailWrites for the next write or discard, counting it down.
  Status WriteFaultLocked();

  mutable std::mutex mutex_;
  uint64_t size_bytes_;
  uint64_t durable_size_bytes_;
  Pages pages_;
  Pages durable_pages_;
  int write_error_ = 0;  // what writes fail with once writes_until_error_ is 0
  uint64_t writes_until_error_ = 0;
  int sync_error_ = 0;
  uint64_t direct_writes_ = 0;
  struct timespec times_[2]{};
};

}  // namespace pairfs::node
