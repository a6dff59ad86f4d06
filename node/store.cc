#include "node/store.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include <spdlog/spdlog.h>

#include "node/atomic_file.h"
#include "node/limits.h"
#include "node/names.h"

namespace pairfs::node {
namespace {

Status MakeDirectory(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::IoError("cannot create directory " + path, errno);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::IoError("cannot stat " + path, errno);
  if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument(path + " is not a directory");
  return Status::Ok();
}

}  // namespace

OpenVolume::OpenVolume(std::shared_ptr<Volume> volume) : volume_(std::move(volume)) {}
OpenVolume::~OpenVolume() { volume_->open_count().fetch_sub(1); }

VolumeStore::VolumeStore(std::string data_dir)
    : data_dir_(std::move(data_dir)), volumes_dir_(data_dir_ + "/volumes") {}

Result<std::unique_ptr<VolumeStore>> VolumeStore::Open(const std::string& data_dir) {
  std::unique_ptr<VolumeStore> store(new VolumeStore(data_dir));
  Status made = MakeDirectory(data_dir);
  if (made.ok()) made = MakeDirectory(store->volumes_dir_);
  if (!made.ok()) return made;
  DIR* dir = ::opendir(store->volumes_dir_.c_str());
  if (dir == nullptr) return Status::IoError("cannot list " + store->volumes_dir_, errno);
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string file = entry->d_name;
    const std::string suffix = ".meta";
    if (file.size() > suffix.size() &&
        file.compare(file.size() - suffix.size(), suffix.size(), suffix) == 0) {
      names.push_back(file.substr(0, file.size() - suffix.size()));
    }
  }
  ::closedir(dir);
  for (const std::string& name : names) {
    if (!CheckVolumeName(name).ok()) continue;
    Result<std::unique_ptr<Volume>> volume = Volume::Open(store->volumes_dir_, name);
    if (!volume.ok()) {
      spdlog::error("volume {} not loaded, its files are left as they are: {}", name,
                    volume.status().message());
      continue;
    }
    std::shared_ptr<Volume> shared = std::move(volume.value());
    if (store->by_inode_.count(shared->inode()) != 0 || shared->inode() < 2) {
      spdlog::error("volume {} not loaded: inode {} is taken or invalid", name, shared->inode());
      continue;
    }
    store->next_inode_ = std::max(store->next_inode_, shared->inode() + 1);
    store->by_inode_[shared->inode()] = shared;
    store->by_name_[name] = std::move(shared);
  }
  spdlog::info("store {}: {} volume(s)", data_dir, store->by_name_.size());
  return store;
}

Result<std::shared_ptr<Volume>> VolumeStore::Create(const std::string& name, uint64_t size_bytes) {
  Status valid = CheckVolumeName(name);
  if (!valid.ok()) return valid;
  Status size_ok = CheckVolumeSize(size_bytes, std::to_string(size_bytes));
  if (!size_ok.ok()) return size_ok;
  std::lock_guard<std::mutex> lock(mutex_);
  if (by_name_.count(name) != 0) return Status::AlreadyExists("volume " + name + " exists");
  if (by_name_.size() >= kMaxVolumes) {
    return Status::NoSpace("this site has the maximum of " + std::to_string(kMaxVolumes) +
                           " volumes");
  }
  VolumeMetadata metadata;
  metadata.name = name;
  metadata.size_bytes = size_bytes;
  metadata.inode = next_inode_;
  metadata.uid = ::geteuid();
  metadata.gid = ::getegid();
  metadata.created_unix_s = static_cast<int64_t>(::time(nullptr));
  Result<std::unique_ptr<Volume>> volume = Volume::Create(volumes_dir_, metadata);
  if (!volume.ok()) return volume.status();
  ++next_inode_;
  std::shared_ptr<Volume> shared = std::move(volume.value());
  by_inode_[shared->inode()] = shared;
  by_name_[name] = shared;
  return shared;
}

Status VolumeStore::Delete(const std::string& name, const std::string& requesting_site) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = by_name_.find(name);
  if (found == by_name_.end()) return Status::NotFound("no volume named " + name);
  Volume& volume = *found->second;
  const VolumeMetadata metadata = volume.metadata();
  if (volume.open_count().load() != 0) {
    return Status::Busy("volume " + name + " is open through the mount (" +
                        std::to_string(volume.open_count().load()) + " handle(s)); close it first");
  }
  if (metadata.status != "SMPL") {
    return Status::Busy("volume " + name + " is in a pair (" + metadata.status +
                        "); dissolve it first");
  }
  if (!metadata.reserved_by.empty() && metadata.reserved_by != requesting_site) {
    return Status::Conflict("volume " + name + " is reserved by site " + metadata.reserved_by);
  }
  Status removed = volume.RemoveFiles();
  if (!removed.ok()) return removed;
  by_inode_.erase(volume.inode());
  by_name_.erase(found);
  return Status::Ok();
}

Status VolumeStore::Resize(const std::string& name, uint64_t size_bytes) {
  std::shared_ptr<Volume> volume = Find(name);
  if (!volume) return Status::NotFound("no volume named " + name);
  Status size_ok = CheckVolumeSize(size_bytes, std::to_string(size_bytes));
  if (!size_ok.ok()) return size_ok;
  return volume->Grow(size_bytes);
}

std::shared_ptr<Volume> VolumeStore::Find(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = by_name_.find(name);
  return found == by_name_.end() ? nullptr : found->second;
}

std::shared_ptr<Volume> VolumeStore::FindByInode(uint64_t inode) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = by_inode_.find(inode);
  return found == by_inode_.end() ? nullptr : found->second;
}

Result<std::unique_ptr<OpenVolume>> VolumeStore::OpenByInode(uint64_t inode) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = by_inode_.find(inode);
  if (found == by_inode_.end()) return Status::NotFound("volume is gone");
  found->second->open_count().fetch_add(1);
  return std::make_unique<OpenVolume>(found->second);
}

Status VolumeStore::Adopt(std::unique_ptr<Volume> volume) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (by_name_.count(volume->name()) != 0 || by_inode_.count(volume->inode()) != 0 ||
      volume->inode() < 2) {
    return Status::AlreadyExists("volume " + volume->name() + " or its inode exists");
  }
  next_inode_ = std::max(next_inode_, volume->inode() + 1);
  std::shared_ptr<Volume> shared = std::move(volume);
  by_inode_[shared->inode()] = shared;
  by_name_[shared->name()] = std::move(shared);
  return Status::Ok();
}

void VolumeStore::LeaveOut(const std::string& name, const std::string& why) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = by_name_.find(name);
  if (found == by_name_.end()) return;
  spdlog::error("volume {} left out (not served; its files are left as they are): {}", name, why);
  by_inode_.erase(found->second->inode());
  by_name_.erase(found);
}

size_t VolumeStore::count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return by_name_.size();
}

std::vector<std::shared_ptr<Volume>> VolumeStore::List() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::shared_ptr<Volume>> volumes;
  volumes.reserve(by_name_.size());
  for (const auto& [name, volume] : by_name_) volumes.push_back(volume);
  return volumes;
}

}  // namespace pairfs::node
