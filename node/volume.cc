#include "node/volume.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <spdlog/spdlog.h>

#include "node/atomic_file.h"
#include "node/limits.h"

namespace pairfs::node {
namespace {

std::string ImagePathFor(const std::string& directory, const std::string& name) {
  return directory + "/" + name + ".img";
}
std::string MetadataPathFor(const std::string& directory, const std::string& name) {
  return directory + "/" + name + ".meta";
}

bool IsAligned(uint64_t value) { return value % kVolumeAlignBytes == 0; }

// A per-thread, page-aligned bounce buffer for O_DIRECT writes whose data is not aligned
// (libfuse hands the data at an offset inside its request buffer). Sized for the largest write.
char* BounceBuffer() {
  thread_local std::unique_ptr<char, decltype(&std::free)> buffer(
      static_cast<char*>(std::aligned_alloc(kVolumeAlignBytes, wire::kMaxDataBytes)), &std::free);
  return buffer.get();
}

Result<int> OpenImage(const std::string& path, int extra_flags) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | extra_flags);
  if (fd < 0) return Status::IoError("cannot open " + path, errno);
  return fd;
}

}  // namespace

Volume::Volume(std::string directory, VolumeMetadata metadata, int fd, int direct_fd)
    : directory_(std::move(directory)),
      name_(metadata.name),
      inode_(metadata.inode),
      fd_(fd),
      direct_fd_(direct_fd),
      size_bytes_(metadata.size_bytes),
      metadata_(std::move(metadata)) {}

Volume::~Volume() {
  ::close(fd_);
  if (direct_fd_ >= 0) ::close(direct_fd_);
}

Result<std::unique_ptr<Volume>> Volume::Create(const std::string& directory, const VolumeMetadata& metadata) {
  const std::string image = ImagePathFor(directory, metadata.name);
  const std::string meta = MetadataPathFor(directory, metadata.name);
  if (::access(meta.c_str(), F_OK) == 0) return Status::AlreadyExists("volume " + metadata.name + " exists");
  const int fd = ::open(image.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return Status::AlreadyExists("image file " + image +
                                   " exists without metadata (left by a crash during create?); "
                                   "move it away to reuse the name");
    }
    return Status::IoError("cannot create " + image, errno);
  }
  Status status;
  if (::ftruncate(fd, static_cast<off_t>(metadata.size_bytes)) != 0) {
    status = Status::IoError("cannot size " + image, errno);
  } else if (::fsync(fd) != 0) {
    status = Status::IoError("cannot fsync " + image, errno);
  }
  ::close(fd);
  if (status.ok()) status = SaveMetadata(meta, metadata);
  if (!status.ok()) {
    ::unlink(image.c_str());
    return status;
  }
  return Open(directory, metadata.name);
}

Result<std::unique_ptr<Volume>> Volume::Open(const std::string& directory, const std::string& name) {
  Result<VolumeMetadata> metadata = LoadMetadata(MetadataPathFor(directory, name));
  if (!metadata.ok()) return metadata.status();
  if (metadata->name != name) {
    return Status::Corruption("metadata of " + name + " names volume " + metadata->name);
  }
  const std::string image = ImagePathFor(directory, name);
  Result<int> fd = OpenImage(image, 0);
  if (!fd.ok()) return fd.status();
  struct stat st {};
  if (::fstat(fd.value(), &st) != 0 || static_cast<uint64_t>(st.st_size) != metadata->size_bytes) {
    ::close(fd.value());
    return Status::Corruption(image + " is not " + std::to_string(metadata->size_bytes) + " bytes long");
  }
  // tmpfs and some others have no O_DIRECT: then every read and write goes through the buffered fd.
  Result<int> direct_fd = OpenImage(image, O_DIRECT);
  return std::unique_ptr<Volume>(
      new Volume(directory, std::move(metadata.value()), fd.value(), direct_fd.ok() ? direct_fd.value() : -1));
}

VolumeMetadata Volume::metadata() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return metadata_;
}

std::string Volume::MetadataPath() const { return MetadataPathFor(directory_, name_); }
std::string Volume::ImagePath() const { return ImagePathFor(directory_, name_); }

Status Volume::SaveLocked(const VolumeMetadata& updated) {
  Status saved = SaveMetadata(MetadataPath(), updated);
  if (saved.ok()) metadata_ = updated;
  return saved;
}

Status Volume::CheckWritable(const std::string& origin_site) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!metadata_.reserved_by.empty() && metadata_.reserved_by != origin_site) {
    return Status::Conflict("volume " + name_ + " is reserved by site " + metadata_.reserved_by);
  }
  if (metadata_.role == "secondary" || metadata_.outdated) {
    return Status::ReadOnly("volume " + name_ + " is not writable here (" + metadata_.role + ", " +
                            metadata_.status + ")");
  }
  return Status::Ok();
}

Result<size_t> Volume::Read(uint64_t offset, size_t length, char* out, bool direct) {
  const uint64_t size = size_bytes();
  if (offset >= size || length == 0) return size_t{0};
  length = static_cast<size_t>(std::min<uint64_t>(length, size - offset));
  const bool use_direct = direct && direct_fd_ >= 0 && IsAligned(offset) && IsAligned(length) &&
                          reinterpret_cast<uintptr_t>(out) % kVolumeAlignBytes == 0;
  const int fd = use_direct ? direct_fd_ : fd_;
  size_t done = 0;
  while (done < length) {
    const ssize_t n = ::pread(fd, out + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IoError("read of volume " + name_ + " failed", errno);
    }
    if (n == 0) break;  // cannot happen below size_bytes; be safe and return what we have
    done += static_cast<size_t>(n);
  }
  return done;
}

Result<size_t> Volume::Write(const std::string& origin_site, uint64_t offset, const char* data, size_t length,
                             bool direct) {
  const uint64_t size = size_bytes();
  if (offset >= size) {
    return Status::NoSpace("write at " + std::to_string(offset) + " is past the end of volume " + name_);
  }
  if (length == 0) return size_t{0};
  Status writable = CheckWritable(origin_site);
  if (!writable.ok()) return writable;
  length = static_cast<size_t>(std::min<uint64_t>(length, size - offset));

  bool use_direct = direct && direct_fd_ >= 0 && IsAligned(offset) && IsAligned(length) &&
                    length <= wire::kMaxDataBytes;
  if (use_direct && reinterpret_cast<uintptr_t>(data) % kVolumeAlignBytes != 0) {
    char* bounce = BounceBuffer();
    std::memcpy(bounce, data, length);
    data = bounce;
  }
  const int fd = use_direct ? direct_fd_ : fd_;
  RangeLock::Guard exclusive = exclusive_.Acquire(offset, length);
  size_t done = 0;
  while (done < length) {
    const ssize_t n = ::pwrite(fd, data + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IoError("write to volume " + name_ + " failed", errno);
    }
    done += static_cast<size_t>(n);
  }
  return done;
}

Status Volume::Discard(const std::string& origin_site, wire::WriteKind kind, uint64_t offset, uint64_t length) {
  const uint64_t size = size_bytes();
  if (offset >= size || length > size - offset) {
    return Status::NoSpace("discard past the end of volume " + name_);
  }
  if (length == 0) return Status::Ok();
  Status writable = CheckWritable(origin_site);
  if (!writable.ok()) return writable;
  const int mode = kind == wire::WriteKind::kPunchHole ? (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)
                                                        : (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE);
  RangeLock::Guard exclusive = exclusive_.Acquire(offset, length);
  if (::fallocate(fd_, mode, static_cast<off_t>(offset), static_cast<off_t>(length)) != 0) {
    return Status::IoError("discard on volume " + name_ + " failed", errno);
  }
  return Status::Ok();
}

Status Volume::Flush() {
  if (::fdatasync(fd_) != 0) return Status::IoError("fdatasync of volume " + name_ + " failed", errno);
  return Status::Ok();
}

VolumeAttributes Volume::Attributes() const {
  VolumeAttributes attributes;
  attributes.inode = inode_;
  attributes.size_bytes = size_bytes();
  struct stat st {};
  if (::fstat(fd_, &st) == 0) {
    attributes.allocated_bytes = static_cast<uint64_t>(st.st_blocks) * 512;
    attributes.atime = st.st_atim;
    attributes.mtime = st.st_mtim;
    attributes.ctime = st.st_ctim;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  attributes.uid = metadata_.uid;
  attributes.gid = metadata_.gid;
  attributes.mode = metadata_.mode;
  return attributes;
}

Status Volume::SetOwnership(std::optional<uint32_t> uid, std::optional<uint32_t> gid, std::optional<uint32_t> mode) {
  std::lock_guard<std::mutex> lock(mutex_);
  VolumeMetadata updated = metadata_;
  if (uid) updated.uid = *uid;
  if (gid) updated.gid = *gid;
  if (mode) updated.mode = *mode & 07777;
  return SaveLocked(updated);
}

Status Volume::SetTimes(const struct timespec times[2]) {
  if (::futimens(fd_, times) != 0) return Status::IoError("cannot set times of volume " + name_, errno);
  return Status::Ok();
}

Status Volume::Grow(uint64_t size_bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (metadata_.status != "SMPL") {
    return Status::Busy("volume " + name_ + " is in a pair (" + metadata_.status + "); dissolve it to resize");
  }
  if (size_bytes < metadata_.size_bytes) {
    return Status::InvalidArgument("volume " + name_ + " is " + std::to_string(metadata_.size_bytes) +
                                   " bytes; shrinking would discard data and is refused");
  }
  if (size_bytes == metadata_.size_bytes) return Status::Ok();
  // Image first, then metadata: a crash between leaves a longer image, which Open reports.
  if (::ftruncate(fd_, static_cast<off_t>(size_bytes)) != 0 || ::fsync(fd_) != 0) {
    return Status::IoError("cannot grow " + ImagePath(), errno);
  }
  VolumeMetadata updated = metadata_;
  updated.size_bytes = size_bytes;
  Status saved = SaveLocked(updated);
  if (!saved.ok()) {
    if (::ftruncate(fd_, static_cast<off_t>(metadata_.size_bytes)) != 0) {
      spdlog::error("volume {}: cannot undo the grow of its image: {}", name_, std::strerror(errno));
    }
    return saved;
  }
  size_bytes_.store(size_bytes, std::memory_order_release);
  return Status::Ok();
}

Status Volume::Reserve(const std::string& holder) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (metadata_.reserved_by == holder) return Status::Ok();
  if (!metadata_.reserved_by.empty()) {
    return Status::Conflict("volume " + name_ + " is reserved by site " + metadata_.reserved_by);
  }
  VolumeMetadata updated = metadata_;
  updated.reserved_by = holder;
  return SaveLocked(updated);
}

Status Volume::Release(const std::string& holder) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (metadata_.reserved_by.empty()) return Status::Ok();
  if (metadata_.reserved_by != holder) {
    return Status::Conflict("volume " + name_ + " is reserved by site " + metadata_.reserved_by + ", not " + holder);
  }
  VolumeMetadata updated = metadata_;
  updated.reserved_by.clear();
  return SaveLocked(updated);
}

Status Volume::RemoveFiles() {
  if (::unlink(MetadataPath().c_str()) != 0) return Status::IoError("cannot remove " + MetadataPath(), errno);
  if (::unlink(ImagePath().c_str()) != 0) {
    spdlog::warn("volume {}: metadata removed but image {} stays: {}", name_, ImagePath(), std::strerror(errno));
  }
  return SyncDirectory(directory_);
}

}  // namespace pairfs::node
