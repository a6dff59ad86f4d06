// The volume store of one site: every volume under DATA_DIR/volumes, by name and by inode.
//
// Thread-safe. Volumes are shared_ptr so that I/O in flight keeps a deleted volume's descriptors
// alive until it completes; deletion is refused while a handle is open through the mount.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "node/volume.h"
#include "wire/status.h"

namespace pairfs::node {

// An open handle on a volume; closes itself (drops the open count) on destruction.
class OpenVolume {
 public:
  explicit OpenVolume(std::shared_ptr<Volume> volume);
  ~OpenVolume();
  OpenVolume(const OpenVolume&) = delete;
  OpenVolume& operator=(const OpenVolume&) = delete;
  Volume& volume() { return *volume_; }

 private:
  std::shared_ptr<Volume> volume_;
};

class VolumeStore {
 public:
  // Opens (creating if needed) DATA_DIR/volumes and loads every volume there. A volume whose
  // metadata is damaged is left on disk untouched and reported in the log, not loaded.
  static Result<std::unique_ptr<VolumeStore>> Open(const std::string& data_dir);

  // Creates a sparse volume. InvalidArgument (name, size), AlreadyExists, IoError (disk full...).
  Result<std::shared_ptr<Volume>> Create(const std::string& name, uint64_t size_bytes);

  // Deletes a volume and its data. NotFound; Busy while open through the mount or in a pair;
  // Conflict while reserved by a site other than `requesting_site`.
  Status Delete(const std::string& name, const std::string& requesting_site);

  // Grows a volume (see Volume::Grow).
  Status Resize(const std::string& name, uint64_t size_bytes);

  // Returns the volume, or nullptr.
  std::shared_ptr<Volume> Find(const std::string& name) const;
  std::shared_ptr<Volume> FindByInode(uint64_t inode) const;

  // Opens a handle for I/O through the mount. NotFound if the volume is gone.
  Result<std::unique_ptr<OpenVolume>> OpenByInode(uint64_t inode);

  // Adds a volume built elsewhere (Volume::Attach over a MemoryBlockFile, in simulations and
  // tests). AlreadyExists if its name or inode is taken.
  Status Adopt(std::unique_ptr<Volume> volume);

  // Takes a loaded volume out of the store (a damaged part found after loading, e.g. its pair
  // state cannot be read): it is no longer listed, mounted or served, its files stay as they are,
  // and the reason is logged. The other volumes are untouched. No-op for an unknown name.
  void LeaveOut(const std::string& name, const std::string& why);

  // Every volume, ordered by name.
  std::vector<std::shared_ptr<Volume>> List() const;
  size_t count() const;

  const std::string& data_dir() const { return data_dir_; }

 private:
  explicit VolumeStore(std::string data_dir);

  const std::string data_dir_;
  const std::string volumes_dir_;
  mutable std::mutex mutex_;  // guards the maps and next_inode_
  std::map<std::string, std::shared_ptr<Volume>> by_name_;
  std::map<uint64_t, std::shared_ptr<Volume>> by_inode_;
  uint64_t next_inode_ = 2;  // 1 is the mount's root directory
};

}  // namespace pairfs::node
