#include "node/block_file.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "node/atomic_file.h"
#include "node/limits.h"
#include "wire/limits.h"

namespace pairfs::node {
namespace {

bool IsAligned(uint64_t value) { return value % kVolumeAlignBytes == 0; }

// A per-thread, page-aligned bounce buffer for O_DIRECT writes whose data is not aligned
// (libfuse hands the data at an offset inside its request buffer). Sized for the largest write.
char* BounceBuffer() {
  thread_local std::unique_ptr<char, decltype(&std::free)> buffer(
      static_cast<char*>(std::aligned_alloc(kVolumeAlignBytes, wire::kMaxDataBytes)), &std::free);
  return buffer.get();
}

}  // namespace

// ---- PosixBlockFile
// -------------------------------------------------------------------------------

Status PosixBlockFile::Create(const std::string& path, uint64_t size_bytes) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return Status::AlreadyExists(path + " exists");
    return Status::IoError("cannot create " + path, errno);
  }
  Status status;
  if (::ftruncate(fd, static_cast<off_t>(size_bytes)) != 0) {
    status = Status::IoError("cannot size " + path, errno);
  } else if (::fsync(fd) != 0) {
    status = Status::IoError("cannot fsync " + path, errno);
  }
  ::close(fd);
  if (!status.ok()) ::unlink(path.c_str());
  return status;
}

Result<std::unique_ptr<BlockFile>> PosixBlockFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Status::IoError("cannot open " + path, errno);
  const int direct_fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_DIRECT);
  return std::unique_ptr<BlockFile>(new PosixBlockFile(path, fd, direct_fd));
}

PosixBlockFile::~PosixBlockFile() {
  ::close(fd_);
  if (direct_fd_ >= 0) ::close(direct_fd_);
}

Result<size_t> PosixBlockFile::ReadAt(uint64_t offset, size_t length, char* out, bool direct) {
  const bool use_direct = direct && direct_fd_ >= 0 && IsAligned(offset) && IsAligned(length) &&
                          reinterpret_cast<uintptr_t>(out) % kVolumeAlignBytes == 0;
  return ReadFully(use_direct ? direct_fd_ : fd_, out, length, offset, path_);
}

Status PosixBlockFile::WriteAt(uint64_t offset, const char* data, size_t length, bool direct) {
  const bool use_direct = direct && direct_fd_ >= 0 && IsAligned(offset) && IsAligned(length) &&
                          length <= wire::kMaxDataBytes;
  if (use_direct && reinterpret_cast<uintptr_t>(data) % kVolumeAlignBytes != 0) {
    char* bounce = BounceBuffer();
    std::memcpy(bounce, data, length);
    data = bounce;
  }
  return WriteFully(use_direct ? direct_fd_ : fd_, data, length, offset, path_);
}

Status PosixBlockFile::WriteSectors(uint64_t offset, const char* data, size_t length) {
  const bool aligned = offset % kSectorBytes == 0 && length % kSectorBytes == 0 &&
                       reinterpret_cast<uintptr_t>(data) % kSectorBytes == 0;
  if (!aligned || direct_fd_ < 0 || sectors_refused_.load(std::memory_order_relaxed))
    return WriteFully(fd_, data, length, offset, path_);
  Status written = WriteFully(direct_fd_, data, length, offset, path_);
  if (written.ok() || written.error_number() != EINVAL) return written;
  sectors_refused_.store(true, std::memory_order_relaxed);
  return WriteFully(fd_, data, length, offset, path_);
}

Result<size_t> PosixBlockFile::ReadSectors(uint64_t offset, size_t length, char* out) {
  const bool aligned = offset % kSectorBytes == 0 && length % kSectorBytes == 0 &&
                       reinterpret_cast<uintptr_t>(out) % kSectorBytes == 0;
  if (!aligned || direct_fd_ < 0 || sectors_refused_.load(std::memory_order_relaxed))
    return ReadFully(fd_, out, length, offset, path_);
  Result<size_t> read = ReadFully(direct_fd_, out, length, offset, path_);
  if (read.ok() || read.status().error_number() != EINVAL) return read;
  sectors_refused_.store(true, std::memory_order_relaxed);
  return ReadFully(fd_, out, length, offset, path_);
}

Status PosixBlockFile::Deallocate(wire::WriteKind kind, uint64_t offset, uint64_t length) {
  const int mode = kind == wire::WriteKind::kPunchHole
                       ? (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)
                       : (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE);
  if (::fallocate(fd_, mode, static_cast<off_t>(offset), static_cast<off_t>(length)) != 0) {
    return Status::IoError("discard on " + path_ + " failed", errno);
  }
  return Status::Ok();
}

void PosixBlockFile::DropCached(uint64_t offset, uint64_t length) {
  (void)::posix_fadvise(fd_, static_cast<off_t>(offset), static_cast<off_t>(length),
                        POSIX_FADV_DONTNEED);
}

Status PosixBlockFile::Sync() {
  if (::fdatasync(fd_) != 0) return Status::IoError("fdatasync of " + path_ + " failed", errno);
  return Status::Ok();
}

Status PosixBlockFile::Resize(uint64_t size_bytes) {
  if (::ftruncate(fd_, static_cast<off_t>(size_bytes)) != 0 || ::fsync(fd_) != 0) {
    return Status::IoError("cannot resize " + path_, errno);
  }
  return Status::Ok();
}

BlockFileStat PosixBlockFile::Stat() const {
  BlockFileStat stat;
  struct stat st {};
  if (::fstat(fd_, &st) == 0) {
    stat.size_bytes = static_cast<uint64_t>(st.st_size);
    stat.allocated_bytes = static_cast<uint64_t>(st.st_blocks) * 512;
    stat.atime = st.st_atim;
    stat.mtime = st.st_mtim;
    stat.ctime = st.st_ctim;
  }
  return stat;
}

Status PosixBlockFile::SetTimes(const struct timespec times[2]) {
  if (::futimens(fd_, times) != 0) return Status::IoError("cannot set times of " + path_, errno);
  return Status::Ok();
}

// ---- MemoryBlockFile
// ------------------------------------------------------------------------------

MemoryBlockFile::MemoryBlockFile(uint64_t size_bytes)
    : size_bytes_(size_bytes), durable_size_bytes_(size_bytes) {}

Result<size_t> MemoryBlockFile::ReadAt(uint64_t offset, size_t length, char* out, bool) {
  std::lock_guard<std::mutex> lock(mutex_);
  length = static_cast<size_t>(
      std::min<uint64_t>(length, offset < size_bytes_ ? size_bytes_ - offset : 0));
  for (size_t done = 0; done < length;) {
    const uint64_t page = (offset + done) / kPageBytes;
    const size_t within = static_cast<size_t>((offset + done) % kPageBytes);
    const size_t chunk = std::min(length - done, static_cast<size_t>(kPageBytes) - within);
    auto found = pages_.find(page);
    if (found == pages_.end()) {
      std::memset(out + done, 0, chunk);
    } else {
      std::memcpy(out + done, found->second.data() + within, chunk);
    }
    done += chunk;
  }
  return length;
}

void MemoryBlockFile::WriteLocked(uint64_t offset, const char* data, size_t length) {
  for (size_t done = 0; done < length;) {
    const uint64_t page = (offset + done) / kPageBytes;
    const size_t within = static_cast<size_t>((offset + done) % kPageBytes);
    const size_t chunk = std::min(length - done, static_cast<size_t>(kPageBytes) - within);
    std::string& bytes = pages_[page];
    if (bytes.empty()) bytes.assign(kPageBytes, '\0');
    if (data == nullptr) {
      std::memset(bytes.data() + within, 0, chunk);
    } else {
      std::memcpy(bytes.data() + within, data + done, chunk);
    }
    done += chunk;
  }
}

Status MemoryBlockFile::WriteAt(uint64_t offset, const char* data, size_t length, bool direct) {
  std::lock_guard<std::mutex> lock(mutex_);
  Status fault = WriteFaultLocked();
  if (!fault.ok()) return fault;
  WriteLocked(offset, data, length);
  if (direct) ++direct_writes_;
  return Status::Ok();
}

uint64_t MemoryBlockFile::direct_writes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return direct_writes_;
}

Status MemoryBlockFile::Deallocate(wire::WriteKind, uint64_t offset, uint64_t length) {
  std::lock_guard<std::mutex> lock(mutex_);
  Status fault = WriteFaultLocked();
  if (!fault.ok()) return fault;
  WriteLocked(offset, nullptr, static_cast<size_t>(length));
  // Whole pages of zeros are holes again.
  for (uint64_t page = (offset + kPageBytes - 1) / kPageBytes;
       (page + 1) * kPageBytes <= offset + length; ++page) {
    pages_.erase(page);
  }
  return Status::Ok();
}

Status MemoryBlockFile::Sync() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (sync_error_ != 0) return Status::IoError("sync of memory image failed", sync_error_);
  durable_pages_ = pages_;
  durable_size_bytes_ = size_bytes_;
  return Status::Ok();
}

Status MemoryBlockFile::Resize(uint64_t size_bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (size_bytes < size_bytes_)
    pages_.erase(pages_.lower_bound((size_bytes + kPageBytes - 1) / kPageBytes), pages_.end());
  size_bytes_ = durable_size_bytes_ = size_bytes;
  return Status::Ok();
}

BlockFileStat MemoryBlockFile::Stat() const {
  std::lock_guard<std::mutex> lock(mutex_);
  BlockFileStat stat;
  stat.size_bytes = size_bytes_;
  stat.allocated_bytes = pages_.size() * kPageBytes;
  stat.atime = times_[0];
  stat.mtime = times_[1];
  return stat;
}

Status MemoryBlockFile::SetTimes(const struct timespec times[2]) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (int i = 0; i < 2; ++i) {
    if (times[i].tv_nsec != UTIME_OMIT) times_[i] = times[i];
  }
  return Status::Ok();
}

void MemoryBlockFile::Crash() {
  std::lock_guard<std::mutex> lock(mutex_);
  pages_ = durable_pages_;
  size_bytes_ = durable_size_bytes_;
}

Status MemoryBlockFile::WriteFaultLocked() {
  if (write_error_ == 0) return Status::Ok();
  if (writes_until_error_ == 0)
    return Status::IoError("write to memory image failed", write_error_);
  --writes_until_error_;
  return Status::Ok();
}

void MemoryBlockFile::SetFull(bool full) { FailWrites(full ? ENOSPC : 0); }

void MemoryBlockFile::FailWrites(int error_number, uint64_t after_writes) {
  std::lock_guard<std::mutex> lock(mutex_);
  write_error_ = error_number;
  writes_until_error_ = after_writes;
}

void MemoryBlockFile::FailSyncs(int error_number) {
  std::lock_guard<std::mutex> lock(mutex_);
  sync_error_ = error_number;
}

}  // namespace pairfs::node
