#include "node/region_set.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>

#include <spdlog/spdlog.h>

#include "node/atomic_file.h"
#include "wire/endian.h"
#include "wire/envelope.h"

namespace pairfs::node {
namespace {

using wire::GetLittleEndian;
using wire::PutLittleEndian;

// Header page layout, as in node/FORMAT.md.
constexpr size_t kMagicAt = 0;
constexpr size_t kVersionAt = 4;
constexpr size_t kRegionBytesAt = 8;
constexpr size_t kRegionCountAt = 16;
constexpr size_t kVolumeBytesAt = 24;
constexpr size_t kHeaderChecksumAt = 32;
constexpr size_t kBitsPerPageBytes = kRegionSetPageBytes - kRegionSetChecksumBytes;
static_assert(kBitsPerPageBytes % 8 == 0, "a page holds whole bytes of bits");

uint64_t PageCount(uint64_t region_count) {
  return (region_count + kRegionsPerPage - 1) / kRegionsPerPage;
}

std::string EncodeHeader(uint64_t volume_bytes, uint64_t region_bytes, uint64_t region_count) {
  std::string page(kRegionSetPageBytes, '\0');
  PutLittleEndian<uint32_t>(page, kMagicAt, kRegionSetMagic);
  PutLittleEndian<uint16_t>(page, kVersionAt, kRegionSetVersion);
  PutLittleEndian<uint64_t>(page, kRegionBytesAt, region_bytes);
  PutLittleEndian<uint64_t>(page, kRegionCountAt, region_count);
  PutLittleEndian<uint64_t>(page, kVolumeBytesAt, volume_bytes);
  PutLittleEndian<uint64_t>(page, kHeaderChecksumAt,
                            wire::Checksum(std::string_view(page).substr(0, kHeaderChecksumAt)));
  return page;
}

// One bit page: its checksum, then its bits.
std::string EncodePage(const uint8_t* bits) {
  std::string page(kRegionSetPageBytes, '\0');
  std::copy(bits, bits + kBitsPerPageBytes, page.begin() + kRegionSetChecksumBytes);
  PutLittleEndian<uint64_t>(page, 0,
                            wire::Checksum(std::string_view(page).substr(kRegionSetChecksumBytes)));
  return page;
}

}  // namespace

RegionSet::RegionSet(std::string path, int fd, uint64_t volume_bytes, uint64_t region_bytes)
    : path_(std::move(path)),
      fd_(fd),
      volume_bytes_(volume_bytes),
      region_bytes_(region_bytes),
      region_count_((volume_bytes + region_bytes - 1) / region_bytes),
      bits_(PageCount(region_count_) * kBitsPerPageBytes, 0),
      page_changed_(PageCount(region_count_), false) {}

RegionSet::~RegionSet() { ::close(fd_); }

Status RegionSet::Create(const std::string& path, uint64_t volume_bytes, uint64_t region_bytes,
                         bool all_marked) {
  if (region_bytes == 0 || volume_bytes == 0)
    return Status::InvalidArgument("region set needs a size");
  const uint64_t regions = (volume_bytes + region_bytes - 1) / region_bytes;
  std::string file = EncodeHeader(volume_bytes, region_bytes, regions);
  for (uint64_t page = 0; page < PageCount(regions); ++page) {
    std::vector<uint8_t> bits(kBitsPerPageBytes, 0);
    if (all_marked) {
      const uint64_t first = page * kRegionsPerPage;
      const uint64_t count = std::min<uint64_t>(kRegionsPerPage, regions - first);
      for (uint64_t bit = 0; bit < count; ++bit)
        bits[bit / 8] = static_cast<uint8_t>(bits[bit / 8] | (1u << (bit % 8)));
    }
    file += EncodePage(bits.data());
  }
  return ReplaceFileAtomically(path, file);
}

Result<std::unique_ptr<RegionSet>> RegionSet::Open(const std::string& path, uint64_t volume_bytes,
                                                   uint64_t region_bytes) {
  if (region_bytes == 0 || volume_bytes == 0)
    return Status::InvalidArgument("region set needs a size");
  bool replace = false;
  if (::access(path.c_str(), F_OK) != 0) {
    spdlog::error("{} is missing: every region of the volume counts as changed (a full copy)",
                  path);
    replace = true;
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (replace) {
      Status created = Create(path, volume_bytes, region_bytes, true);
      if (!created.ok()) return created;
    }
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return Status::IoError("cannot open " + path, errno);
    std::unique_ptr<RegionSet> set(new RegionSet(path, fd, volume_bytes, region_bytes));
    Status loaded = set->Load();
    if (loaded.ok()) return set;
    if (loaded.code() != Code::kCorruption && loaded.code() != Code::kInvalidArgument)
      return loaded;
    if (replace) return loaded;  // the file just written does not load: give up
    spdlog::error("{}; every region of the volume counts as changed (a full copy)",
                  loaded.message());
    replace = true;
  }
  return Status::Corruption(path + " cannot be loaded");
}

Result<DecodedRegionSet> DecodeRegionSet(std::string_view file, uint64_t file_bytes,
                                         uint64_t volume_bytes, uint64_t region_bytes) {
  if (region_bytes == 0 || volume_bytes == 0)
    return Status::InvalidArgument("region set needs a size");
  if (file.size() < kRegionSetPageBytes)
    return Status::Corruption("is shorter than its geometry says");
  const std::string_view header = file.substr(0, kRegionSetPageBytes);
  if (GetLittleEndian<uint32_t>(header, kMagicAt) != kRegionSetMagic ||
      GetLittleEndian<uint64_t>(header, kHeaderChecksumAt) !=
          wire::Checksum(header.substr(0, kHeaderChecksumAt))) {
    return Status::Corruption("bad region set header");
  }
  if (GetLittleEndian<uint16_t>(header, kVersionAt) != kRegionSetVersion) {
    return Status::Corruption("region set version not supported");
  }
  const uint64_t region_count = (volume_bytes + region_bytes - 1) / region_bytes;
  if (GetLittleEndian<uint64_t>(header, kRegionBytesAt) != region_bytes ||
      GetLittleEndian<uint64_t>(header, kVolumeBytesAt) != volume_bytes ||
      GetLittleEndian<uint64_t>(header, kRegionCountAt) != region_count) {
    return Status::InvalidArgument("was made for another volume size or region size");
  }
  const uint64_t pages = PageCount(region_count);
  if (file_bytes != kRegionSetPageBytes * (1 + pages)) {
    return Status::Corruption("has " + std::to_string(file_bytes) +
                              " bytes, not the expected size");
  }
  if (file.size() != file_bytes) return Status::Corruption("is shorter than its geometry says");
  DecodedRegionSet decoded;
  decoded.bits.assign(pages * kBitsPerPageBytes, 0);
  for (size_t page = 0; page < pages; ++page) {
    const std::string_view bytes_of_page =
        file.substr((1 + page) * kRegionSetPageBytes, kRegionSetPageBytes);
    uint8_t* bits = decoded.bits.data() + page * kBitsPerPageBytes;
    if (GetLittleEndian<uint64_t>(bytes_of_page, 0) !=
        wire::Checksum(bytes_of_page.substr(kRegionSetChecksumBytes))) {
      std::fill(bits, bits + kBitsPerPageBytes, 0xff);
      decoded.torn_pages.push_back(page);
      continue;
    }
    std::copy(bytes_of_page.begin() + kRegionSetChecksumBytes, bytes_of_page.end(), bits);
  }
  // Bits past the last region (from an all-ones page) are not regions.
  for (uint64_t bit = region_count; bit < decoded.bits.size() * 8; ++bit)
    decoded.bits[bit / 8] &= ~(1u << (bit % 8));
  return decoded;
}

Status RegionSet::Load() {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return Status::IoError("cannot stat " + path_, errno);
  const uint64_t file_bytes = static_cast<uint64_t>(st.st_size);
  const uint64_t expected = kRegionSetPageBytes * (1 + page_changed_.size());
  std::string file(std::min(file_bytes, expected), '\0');
  Result<size_t> read = ReadFully(fd_, file.data(), file.size(), 0, path_);
  if (!read.ok()) return read.status();
  file.resize(read.value());
  Result<DecodedRegionSet> decoded =
      DecodeRegionSet(file, file_bytes, volume_bytes_, region_bytes_);
  if (!decoded.ok()) {
    const Status& failed = decoded.status();
    return Status(failed.code(), path_ + ": " + failed.message(), failed.error_number());
  }
  bits_ = std::move(decoded.value().bits);
  for (size_t page : decoded.value().torn_pages) {
    spdlog::warn(
        "{}: page {} fails its checksum (torn write?); its regions are taken as all changed", path_,
        page);
    page_changed_[page] = true;
    ++changes_;
  }
  return Status::Ok();
}

bool RegionSet::ChangeLocked(uint64_t first, uint64_t last, bool marked) {
  bool changed = false;
  for (uint64_t region = first; region <= last && region < region_count_; ++region) {
    uint8_t& byte = bits_[region / 8];
    const uint8_t mask = static_cast<uint8_t>(1u << (region % 8));
    if (((byte & mask) != 0) == marked) continue;
    byte = marked ? (byte | mask) : (byte & ~mask);
    page_changed_[region / kRegionsPerPage] = true;
    changed = true;
  }
  if (changed) ++changes_;
  return changed;
}

Status RegionSet::FlushLocked() {
  std::vector<std::pair<uint64_t, std::string>> pages;
  uint64_t target = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    target = changes_;
    if (durable_changes_ >= target) return Status::Ok();
    for (size_t page = 0; page < page_changed_.size(); ++page) {
      if (!page_changed_[page]) continue;
      pages.emplace_back(page, EncodePage(bits_.data() + page * kBitsPerPageBytes));
      page_changed_[page] = false;
    }
  }
  Status status;
  for (const auto& [page, bytes] : pages) {
    status = WriteFully(fd_, bytes.data(), bytes.size(), (page + 1) * kRegionSetPageBytes, path_);
    if (!status.ok()) break;
  }
  if (status.ok() && ::fdatasync(fd_) != 0)
    status = Status::IoError("cannot fdatasync " + path_, errno);
  std::lock_guard<std::mutex> lock(mutex_);
  if (!status.ok()) {
    for (const auto& [page, bytes] : pages) page_changed_[page] = true;  // try again next time
    return status;
  }
  durable_changes_ = std::max(durable_changes_, target);
  ++flushes_;
  return Status::Ok();
}

Status RegionSet::MarkBeforeWrite(uint64_t offset, uint64_t length) {
  if (length == 0 || offset >= volume_bytes_) return Status::Ok();
  const uint64_t first = offset / region_bytes_;
  const uint64_t last = std::min(offset + length - 1, volume_bytes_ - 1) / region_bytes_;
  uint64_t target = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ChangeLocked(first, last, true);
    // Hot regions, nothing pending: the common case costs no I/O.
    if (durable_changes_ == changes_) return Status::Ok();
    target = changes_;
  }
  std::lock_guard<std::mutex> flushing(flush_mutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (durable_changes_ >= target) return Status::Ok();  // another writer's flush carried ours
  }
  return FlushLocked();
}

Status RegionSet::Apply(const std::vector<uint64_t>& regions, bool marked) {
  std::lock_guard<std::mutex> flushing(flush_mutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (uint64_t region : regions) {
      if (region >= region_count_)
        return Status::InvalidArgument("region " + std::to_string(region) + " out of range");
    }
    for (uint64_t region : regions) ChangeLocked(region, region, marked);
  }
  return FlushLocked();
}

Status RegionSet::MarkRegions(const std::vector<uint64_t>& regions) { return Apply(regions, true); }
Status RegionSet::ClearRegions(const std::vector<uint64_t>& regions) {
  return Apply(regions, false);
}
Status RegionSet::ClearAll() { return ClearRegions(MarkedRegions()); }

bool RegionSet::IsMarked(uint64_t region) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return region < region_count_ && MarkedLocked(region);
}

uint64_t RegionSet::MarkedRunBefore(uint64_t region, uint64_t limit) const {
  std::lock_guard<std::mutex> lock(mutex_);
  uint64_t run = 0;
  for (uint64_t r = std::min(region, region_count_); r > 0 && run < limit; --r, ++run) {
    if (!MarkedLocked(r - 1)) break;
  }
  return run;
}

std::vector<uint64_t> RegionSet::MarkedRegions() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<uint64_t> regions;
  for (uint64_t byte = 0; byte < bits_.size(); ++byte) {
    if (bits_[byte] == 0) continue;
    for (int bit = 0; bit < 8; ++bit) {
      if (bits_[byte] & (1u << bit)) regions.push_back(byte * 8 + static_cast<uint64_t>(bit));
    }
  }
  return regions;
}

uint64_t RegionSet::marked_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  uint64_t count = 0;
  for (uint8_t byte : bits_) count += static_cast<uint64_t>(std::popcount(byte));
  uint64_t bytes = count * region_bytes_;
  const uint64_t last = region_count_ - 1;
  if (MarkedLocked(last)) bytes -= region_count_ * region_bytes_ - volume_bytes_;
  return bytes;
}

uint64_t RegionSet::flush_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return flushes_;
}

}  // namespace pairfs::node
