// One volume: a sparse image file, its durable metadata, and the I/O on it.
//
// Thread-safe: reads and writes run in parallel (overlapping writes serialize on the range lock);
// metadata changes are serialized inside and saved atomically before they take effect.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "node/block_file.h"
#include "node/latency_histogram.h"
#include "node/metadata.h"
#include "node/range_lock.h"
#include "wire/messages.h"
#include "wire/status.h"

namespace pairfs::node {

// What a stat of the volume file shows: the image's allocation and times, with the volume's
// size, inode, owner and mode.
struct VolumeAttributes : BlockFileStat {
  uint64_t inode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t mode = 0;
};

class Volume {
 public:
  // Creates NAME.img (sparse, `metadata.size_bytes` long) and NAME.meta under `directory`.
  // AlreadyExists if either file exists (an image without metadata is never overwritten).
  static Result<std::unique_ptr<Volume>> Create(const std::string& directory,
                                                const VolumeMetadata& metadata);

  // Opens an existing volume. NotFound, Corruption (metadata), IoError (image).
  static Result<std::unique_ptr<Volume>> Open(const std::string& directory,
                                              const std::string& name);

  // A volume over any image (a MemoryBlockFile in simulations and tests); its metadata is saved
  // under `directory` as usual.
  static std::unique_ptr<Volume> Attach(const std::string& directory, VolumeMetadata metadata,
                                        std::unique_ptr<BlockFile> image);

  Volume(const Volume&) = delete;
  Volume& operator=(const Volume&) = delete;

  const std::string& name() const { return name_; }
  uint64_t inode() const { return inode_; }
  uint64_t size_bytes() const { return size_bytes_.load(std::memory_order_acquire); }
  VolumeMetadata metadata() const;  // a snapshot

  // Reads up to `length` bytes at `offset` into `out`; fewer at the end, 0 at or past it.
  // `direct` asks for O_DIRECT on the image (used when offset, length and `out` are aligned).
  Result<size_t> Read(uint64_t offset, size_t length, char* out, bool direct);

  // Writes `length` bytes at `offset` on behalf of `origin_site`, holding exclusive status on the
  // range. Returns the bytes written: fewer if the write crosses the end. NoSpace at or past the
  // end; Conflict if another site holds the reservation; ReadOnly if the copy refuses writes by
  // role or status; IoError from the disk (ENOSPC when the disk is full).
  Result<size_t> Write(const std::string& origin_site, uint64_t offset, const char* data,
                       size_t length, bool direct);

  // Deallocates (kPunchHole) or zeroes (kZeroRange) a range, under the same rules as Write.
  Status Discard(const std::string& origin_site, wire::WriteKind kind, uint64_t offset,
                 uint64_t length);

  // Makes every completed write durable (fdatasync of the image).
  Status Flush();

  VolumeAttributes Attributes() const;

  // Changes owner, group or permission bits (persisted before returning). Unset ones stay.
  Status SetOwnership(std::optional<uint32_t> uid, std::optional<uint32_t> gid,
                      std::optional<uint32_t> mode);

  // Sets the file's access and modification times (UTIME_NOW and UTIME_OMIT as in utimensat).
  Status SetTimes(const struct timespec times[2]);

  // Grows the volume to `size_bytes`. InvalidArgument for a smaller size; Busy in a pair.
  Status Grow(uint64_t size_bytes);

  // Reserves the volume for `holder`. Ok if free or already held by `holder`; Conflict if held
  // by another site. Durable before it returns.
  Status Reserve(const std::string& holder);

  // Releases `holder`'s reservation. Ok if free; Conflict if held by another site.
  Status Release(const std::string& holder);

  // ---- for the replicator (node/replicator.h), which decides writability itself ----

  // Exclusive status on byte ranges of this volume (seed 002).
  RangeLock& exclusive() { return exclusive_; }

  // Conflict if a site other than `origin_site` holds the reservation.
  Status CheckReservation(const std::string& origin_site) const;

  // The length a write or discard at `offset` may have: `length` cut at the end of the volume;
  // NoSpace at or past the end.
  Result<size_t> ClampToEnd(uint64_t offset, uint64_t length) const;

  // Writes or discards without any check or lock: the caller holds exclusive status on the range
  // and has decided the write may happen.
  Status WriteRaw(wire::WriteKind kind, uint64_t offset, const char* data, size_t length,
                  bool direct);

  // Changes the metadata with `change` and saves it atomically before it takes effect.
  Status UpdateMetadata(const std::function<void(VolumeMetadata&)>& change);

  // A file beside the image: DIRECTORY/NAME.SUFFIX (the region set lives in NAME.regions).
  std::string SidecarPath(const std::string& suffix) const;

  // Open handles through the mount; VolumeStore refuses to delete while any is open.
  std::atomic<uint32_t>& open_count() { return open_count_; }

  // The whole FUSE write and fsync requests on this volume since it was loaded (metrics, issue
  // 15): recorded by the mount's handlers (fuse/operations.cc), read by a scrape.
  VolumeLatencies& latencies() { return latencies_; }
  const VolumeLatencies& latencies() const { return latencies_; }

  // Removes the volume's files (metadata first, so a crash never leaves metadata without data).
  Status RemoveFiles();

 private:
  Volume(std::string directory, VolumeMetadata metadata, std::unique_ptr<BlockFile> image);
  Status CheckWritable(const std::string& origin_site) const;
  Status SaveLocked(const VolumeMetadata& updated);
  std::string MetadataPath() const;
  std::string ImagePath() const;

  const std::string directory_;
  const std::string name_;
  const uint64_t inode_;
  const std::unique_ptr<BlockFile> image_;
  std::atomic<uint64_t> size_bytes_;
  std::atomic<uint32_t> open_count_{0};
  VolumeLatencies latencies_;
  RangeLock exclusive_;

  mutable std::mutex mutex_;  // guards metadata_
  VolumeMetadata metadata_;
};

}  // namespace pairfs::node
