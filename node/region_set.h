// Dirty regions of one volume, durable: the dirty bitmap and activity log of doc/design.md.
//
// A region (region_size bytes, fixed per pair) is marked durably *before* the first write to it
// that may make the two copies differ, and cleared only when both copies hold the same bytes
// again. After any crash, every region that may differ is marked. A write to a region already
// marked costs no metadata I/O; concurrent marks of clean regions share one flush (group commit).
//
// File format (node/FORMAT.md, "Region set"): a header page, then bit pages each with its own
// checksum, updated in place. A torn page can only mix old and new bits; a page that fails its
// checksum reads as all regions marked, which costs a larger resync and never loses a change.
// Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "wire/status.h"

namespace pairfs::node {

inline constexpr uint32_t kRegionSetMagic = 0x42524650;  // "PFRB" little-endian
inline constexpr uint16_t kRegionSetVersion = 1;
inline constexpr size_t kRegionSetPageBytes = 4096;
inline constexpr size_t kRegionSetChecksumBytes = 8;
inline constexpr uint64_t kRegionsPerPage = (kRegionSetPageBytes - kRegionSetChecksumBytes) * 8;

// The bits a region set file holds (node/FORMAT.md), as RegionSet::Open loads them: `file` is
// the file's first min(file_bytes, its expected size) bytes and `file_bytes` its size on disk.
// One bit per region, page after page; a page that fails its checksum reads as all marked (its
// index in `torn_pages`); bits past the last region are clear. Corruption for a bad header, a
// version not supported, a wrong size or a file cut short; InvalidArgument for a file made for
// another geometry (Open replaces the file with one all marked in both cases). Pure: the fuzz
// test feeds it from memory.
struct DecodedRegionSet {
  std::vector<uint8_t> bits;
  std::vector<size_t> torn_pages;
};
Result<DecodedRegionSet> DecodeRegionSet(std::string_view file, uint64_t file_bytes,
                                         uint64_t volume_bytes, uint64_t region_bytes);

class RegionSet {
 public:
  // Writes a whole region set to `path` atomically (old or new file after any crash), every
  // region marked when `all_marked` (a new pair: everything is still to copy), else none.
  // Replaces a file that is there. IoError from the disk (NoSpace-like errno kept).
  static Status Create(const std::string& path, uint64_t volume_bytes, uint64_t region_bytes,
                       bool all_marked);

  // Opens `path`. A missing file, a bad header, a file made for another geometry or of the wrong
  // size counts every region as changed: it is logged and replaced by a file with all regions
  // marked (a full copy, never a lost change). Pages with bad checksums are taken as all marked
  // (and logged). InvalidArgument for a zero size; IoError from the disk (e.g. the replacement
  // cannot be written).
  static Result<std::unique_ptr<RegionSet>> Open(const std::string& path, uint64_t volume_bytes,
                                                 uint64_t region_bytes);
  ~RegionSet();

  // Returns once every region overlapping [offset, offset+length) is durably marked.
  Status MarkBeforeWrite(uint64_t offset, uint64_t length);

  // Marks regions given by index (a peer's dirty bitmap merged before a resync), durably.
  Status MarkRegions(const std::vector<uint64_t>& regions);

  // Clears the given regions durably (both copies hold the same bytes there now).
  Status ClearRegions(const std::vector<uint64_t>& regions);
  Status ClearAll();

  bool IsMarked(uint64_t region) const;
  // How many regions right before `region` are marked, one after the other (at most `limit`):
  // how far a sequential stream that reaches `region` has come (node/activity_log.cc).
  uint64_t MarkedRunBefore(uint64_t region, uint64_t limit) const;
  std::vector<uint64_t> MarkedRegions() const;
  uint64_t marked_bytes() const;  // what display shows as dirty_bytes
  uint64_t region_bytes() const { return region_bytes_; }
  uint64_t region_count() const { return region_count_; }
  // How many page flushes have been made (to show that marks are batched).
  uint64_t flush_count() const;

 private:
  RegionSet(std::string path, int fd, uint64_t volume_bytes, uint64_t region_bytes);
  // Corruption/InvalidArgument: the file cannot be used (Open replaces it, all marked).
  Status Load();
  // Writes every page changed in memory and fdatasyncs; callers hold flush_mutex_.
  Status FlushLocked();
  // Sets (or clears) bits in memory; returns true if any changed. Caller holds mutex_.
  bool ChangeLocked(uint64_t first, uint64_t last, bool marked);
  // Whether `region` (< region_count_) is marked. Caller holds mutex_.
  bool MarkedLocked(uint64_t region) const {
    return (bits_[region / 8] & (1u << (region % 8))) != 0;
  }
  Status Apply(const std::vector<uint64_t>& regions, bool marked);

  const std::string path_;
  const int fd_;
  const uint64_t volume_bytes_;
  const uint64_t region_bytes_;
  const uint64_t region_count_;

  std::mutex flush_mutex_;     // one flush at a time; taken before mutex_
  mutable std::mutex mutex_;   // guards everything below
  std::vector<uint8_t> bits_;  // one bit per region, in memory
  std::vector<bool> page_changed_;
  uint64_t changes_ = 0;          // bumped on every in-memory change
  uint64_t durable_changes_ = 0;  // the value of changes_ the last flush made durable
  uint64_t flushes_ = 0;
};

}  // namespace pairfs::node
