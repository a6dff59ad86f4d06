#include "node/volume.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <spdlog/spdlog.h>

#include "node/atomic_file.h"
#include "node/event_log.h"  // ops (issue 15 part 1)
#include "node/fault_point.h"
#include "node/limits.h"
#include "node/reserve_rules.h"

namespace pairfs::node {
namespace {

std::string ImagePathFor(const std::string& directory, const std::string& name) {
  return directory + "/" + name + ".img";
}
std::string MetadataPathFor(const std::string& directory, const std::string& name) {
  return directory + "/" + name + ".meta";
}

}  // namespace

Volume::Volume(std::string directory, VolumeMetadata metadata, std::unique_ptr<BlockFile> image)
    : directory_(std::move(directory)),
      name_(metadata.name),
      inode_(metadata.inode),
      image_(std::move(image)),
      size_bytes_(metadata.size_bytes),
      metadata_(std::move(metadata)) {}

std::unique_ptr<Volume> Volume::Attach(const std::string& directory, VolumeMetadata metadata,
                                       std::unique_ptr<BlockFile> image) {
  return std::unique_ptr<Volume>(new Volume(directory, std::move(metadata), std::move(image)));
}

Result<std::unique_ptr<Volume>> Volume::Create(const std::string& directory,
                                               const VolumeMetadata& metadata) {
  const std::string image = ImagePathFor(directory, metadata.name);
  const std::string meta = MetadataPathFor(directory, metadata.name);
  if (::access(meta.c_str(), F_OK) == 0)
    return Status::AlreadyExists("volume " + metadata.name + " exists");
  Status status = PosixBlockFile::Create(image, metadata.size_bytes);
  if (status.code() == Code::kAlreadyExists) {
    return Status::AlreadyExists("image file " + image +
                                 " exists without metadata (left by a crash during create?); "
                                 "move it away to reuse the name");
  }
  if (!status.ok()) return status;
  status = SaveMetadata(meta, metadata);
  if (!status.ok()) {
    ::unlink(image.c_str());
    return status;
  }
  return Open(directory, metadata.name);
}

// A grow interrupted by a crash: the metadata names the size being grown to, and the image is
// the old size, the new one, or (a crash inside ftruncate's journal commit is atomic) one of
// them. Finishes it: image to the new size, then the metadata.
namespace {

Status FinishGrow(const std::string& meta, BlockFile& image, VolumeMetadata* metadata) {
  const uint64_t target = metadata->growing_to_bytes;
  const uint64_t size = image.Stat().size_bytes;
  if (size != metadata->size_bytes && size != target) {
    return Status::Corruption("the image is " + std::to_string(size) +
                              " bytes: neither the size before (" +
                              std::to_string(metadata->size_bytes) + ") nor after (" +
                              std::to_string(target) + ") an interrupted resize");
  }
  if (size != target) {
    Status grown = image.Resize(target);
    if (!grown.ok()) return grown;
  }
  VolumeMetadata finished = *metadata;
  finished.size_bytes = target;
  finished.growing_to_bytes = 0;
  Status saved = SaveMetadata(meta, finished);
  if (!saved.ok()) return saved;
  spdlog::warn("volume {}: finished a resize to {} bytes that a crash interrupted", metadata->name,
               target);
  *metadata = std::move(finished);
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Volume>> Volume::Open(const std::string& directory,
                                             const std::string& name) {
  const std::string meta = MetadataPathFor(directory, name);
  Result<VolumeMetadata> metadata = LoadMetadata(meta);
  if (!metadata.ok()) return metadata.status();
  if (metadata->name != name) {
    return Status::Corruption("metadata of " + name + " names volume " + metadata->name);
  }
  const std::string image = ImagePathFor(directory, name);
  Result<std::unique_ptr<BlockFile>> file = PosixBlockFile::Open(image);
  if (!file.ok()) return file.status();
  if (metadata->growing_to_bytes != 0) {
    Status finished = FinishGrow(meta, *file.value(), &metadata.value());
    if (!finished.ok())
      return Status(finished.code(), "resize interrupted: " + finished.message(),
                    finished.error_number());
  }
  if (file.value()->Stat().size_bytes != metadata->size_bytes) {
    return Status::Corruption(image + " is not " + std::to_string(metadata->size_bytes) +
                              " bytes long");
  }
  return Attach(directory, std::move(metadata.value()), std::move(file.value()));
}

VolumeMetadata Volume::metadata() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return metadata_;
}

std::string Volume::MetadataPath() const { return MetadataPathFor(directory_, name_); }
std::string Volume::ImagePath() const { return ImagePathFor(directory_, name_); }

Status Volume::SaveLocked(const VolumeMetadata& updated) {
  Status saved = SaveMetadata(MetadataPath(), updated);
  if (!saved.ok()) return saved;
  // pairctl events (issue 15): every saved change of a pair field is an event;
  // recorded here, where every change passes, so that no short-lived status is missed.
  RecordMetadataChange(metadata_, updated);
  metadata_ = updated;
  return saved;
}

Status Volume::CheckWritable(const std::string& origin_site) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (ReservedByOther(metadata_.reserved_by, origin_site)) {
    return Status::Conflict("volume " + name_ + " is reserved by site " + metadata_.reserved_by);
  }
  if (metadata_.role == "secondary" || metadata_.outdated) {
    return Status::ReadOnly("volume " + name_ + " is not writable here (" + metadata_.role + ", " +
                            metadata_.status + ")");
  }
  return Status::Ok();
}

Status Volume::CheckReservation(const std::string& origin_site) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (ReservedByOther(metadata_.reserved_by, origin_site)) {
    return Status::Conflict("volume " + name_ + " is reserved by site " + metadata_.reserved_by);
  }
  return Status::Ok();
}

Result<size_t> Volume::ClampToEnd(uint64_t offset, uint64_t length) const {
  const uint64_t size = size_bytes();
  if (offset >= size) {
    return Status::NoSpace("write at " + std::to_string(offset) + " is past the end of volume " +
                           name_);
  }
  return static_cast<size_t>(std::min<uint64_t>(length, size - offset));
}

Status Volume::WriteRaw(wire::WriteKind kind, uint64_t offset, const char* data, size_t length,
                        bool direct) {
  if (length == 0) return Status::Ok();
  if (kind == wire::WriteKind::kData) return image_->WriteAt(offset, data, length, direct);
  return image_->Deallocate(kind, offset, length);
}

Status Volume::UpdateMetadata(const std::function<void(VolumeMetadata&)>& change) {
  std::lock_guard<std::mutex> lock(mutex_);
  VolumeMetadata updated = metadata_;
  change(updated);
  return SaveLocked(updated);
}

std::string Volume::SidecarPath(const std::string& suffix) const {
  return directory_ + "/" + name_ + "." + suffix;
}

Result<size_t> Volume::Read(uint64_t offset, size_t length, char* out, bool direct) {
  const uint64_t size = size_bytes();
  if (offset >= size || length == 0) return size_t{0};
  length = static_cast<size_t>(std::min<uint64_t>(length, size - offset));
  return image_->ReadAt(offset, length, out, direct);
}

Result<size_t> Volume::Write(const std::string& origin_site, uint64_t offset, const char* data,
                             size_t length, bool direct) {
  const uint64_t size = size_bytes();
  if (offset >= size) {
    return Status::NoSpace("write at " + std::to_string(offset) + " is past the end of volume " +
                           name_);
  }
  if (length == 0) return size_t{0};
  Status writable = CheckWritable(origin_site);
  if (!writable.ok()) return writable;
  length = static_cast<size_t>(std::min<uint64_t>(length, size - offset));
  RangeLock::Guard exclusive = exclusive_.Acquire(offset, length);
  Status written = image_->WriteAt(offset, data, length, direct);
  if (!written.ok()) return written;
  return length;
}

Status Volume::Discard(const std::string& origin_site, wire::WriteKind kind, uint64_t offset,
                       uint64_t length) {
  const uint64_t size = size_bytes();
  if (offset >= size || length > size - offset) {
    return Status::NoSpace("discard past the end of volume " + name_);
  }
  if (length == 0) return Status::Ok();
  Status writable = CheckWritable(origin_site);
  if (!writable.ok()) return writable;
  RangeLock::Guard exclusive = exclusive_.Acquire(offset, length);
  return image_->Deallocate(kind, offset, length);
}

Status Volume::Flush() { return image_->Sync(); }

VolumeAttributes Volume::Attributes() const {
  VolumeAttributes attributes;
  static_cast<BlockFileStat&>(attributes) = image_->Stat();
  attributes.inode = inode_;
  attributes.size_bytes = size_bytes();
  std::lock_guard<std::mutex> lock(mutex_);
  attributes.uid = metadata_.uid;
  attributes.gid = metadata_.gid;
  attributes.mode = metadata_.mode;
  const int64_t image_ctime_ns = attributes.ctime.tv_sec * 1000000000ll + attributes.ctime.tv_nsec;
  if (metadata_.changed_unix_ns > image_ctime_ns) {
    attributes.ctime = {static_cast<time_t>(metadata_.changed_unix_ns / 1000000000ll),
                        static_cast<long>(metadata_.changed_unix_ns % 1000000000ll)};
  }
  return attributes;
}

Status Volume::SetOwnership(std::optional<uint32_t> uid, std::optional<uint32_t> gid,
                            std::optional<uint32_t> mode) {
  std::lock_guard<std::mutex> lock(mutex_);
  VolumeMetadata updated = metadata_;
  if (uid) updated.uid = *uid;
  if (gid) updated.gid = *gid;
  if (mode) updated.mode = *mode & 07777;
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  updated.changed_unix_ns = now.tv_sec * 1000000000ll + now.tv_nsec;
  return SaveLocked(updated);
}

Status Volume::SetTimes(const struct timespec times[2]) { return image_->SetTimes(times); }

Status Volume::Grow(uint64_t size_bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (metadata_.status != "SMPL") {
    return Status::Busy("volume " + name_ + " is in a pair (" + metadata_.status +
                        "); dissolve it to resize");
  }
  if (size_bytes < metadata_.size_bytes) {
    return Status::InvalidArgument("volume " + name_ + " is " +
                                   std::to_string(metadata_.size_bytes) +
                                   " bytes; shrinking would discard data and is refused");
  }
  if (size_bytes == metadata_.size_bytes) return Status::Ok();
  // The intent first, then the image, then the size: a crash at any step leaves metadata that
  // names the new size, which Open finishes (an image longer than its metadata without an intent
  // is damage, and is left out).
  VolumeMetadata intent = metadata_;
  intent.growing_to_bytes = size_bytes;
  Status saved = SaveLocked(intent);
  if (!saved.ok()) return saved;
  FaultPoint("resize-after-intent");
  Status grown = image_->Resize(size_bytes);
  if (!grown.ok()) {
    VolumeMetadata undone = metadata_;
    undone.growing_to_bytes = 0;
    Status kept = SaveLocked(undone);
    if (!kept.ok())
      spdlog::error("volume {}: cannot clear the resize intent: {}", name_, kept.message());
    return grown;
  }
  FaultPoint("resize-after-image");
  VolumeMetadata updated = metadata_;
  updated.size_bytes = size_bytes;
  updated.growing_to_bytes = 0;
  saved = SaveLocked(updated);
  if (!saved.ok()) {
    // The intent stays: a restart finishes the grow; until then the volume keeps its old size.
    spdlog::error("volume {}: image grown to {} bytes but the metadata cannot say so yet: {}",
                  name_, size_bytes, saved.message());
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
    return Status::Conflict("volume " + name_ + " is reserved by site " + metadata_.reserved_by +
                            ", not " + holder);
  }
  VolumeMetadata updated = metadata_;
  updated.reserved_by.clear();
  return SaveLocked(updated);
}

Status Volume::RemoveFiles() {
  ::unlink(SidecarPath("regions").c_str());  // absent for a volume never in a pair
  if (::unlink(MetadataPath().c_str()) != 0)
    return Status::IoError("cannot remove " + MetadataPath(), errno);
  if (::unlink(ImagePath().c_str()) != 0) {
    spdlog::warn("volume {}: metadata removed but image {} stays: {}", name_, ImagePath(),
                 std::strerror(errno));
  }
  return SyncDirectory(directory_);
}

}  // namespace pairfs::node
