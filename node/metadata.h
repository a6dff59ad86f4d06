// A volume's durable metadata and its on-disk encoding (node/FORMAT.md, "Volume metadata").
// Plain value type; the codec is pure; Save/Load are thread-safe for different volumes.
#pragma once

#include <cstdint>
#include <string>

#include <msgpack.hpp>

#include "wire/status.h"

namespace pairfs::node {

inline constexpr uint32_t kMetadataMagic = 0x444d4650;  // "PFMD" little-endian
inline constexpr uint16_t kMetadataVersion = 1;
inline constexpr size_t kMetadataHeaderBytes = 32;

// Everything about a volume that must survive a restart. Pair fields are those of doc/design.md; a
// volume that is in no pair has role "simplex" and status "SMPL". Empty strings mean "none".
struct VolumeMetadata {
  std::string name;
  uint64_t size_bytes = 0;
  uint64_t inode = 0;  // stable inode number at the mount, unique per site
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t mode = 0600;  // permission bits of the volume file
  int64_t created_unix_s = 0;
  // When owner, group or mode last changed (they live here, not on the image, so the image's
  // ctime misses them); the file's ctime is the later of this and the image's.
  int64_t changed_unix_ns = 0;
  // Reservation (SCSI-like, held by a site).
  std::string reserved_by;
  // The determining volume's reservation record (with reserved_by as its holder): +1 on every
  // change of holder, and a site recorded as outdated (it cannot win the reserve without force).
  uint64_t reserve_epoch = 0;
  std::string reserve_outdated;
  // house (issue 12): and the number of its holder's latest reserve (wire::ReservationRecord::
  // hold); 0 = none known.
  uint64_t reserve_hold = 0;
  // Pair state (part 2 fills these; SMPL volumes keep the defaults).
  std::string role = "simplex";
  std::string status = "SMPL";
  std::string pair_mode;
  std::string peer_site;
  std::string peer_volume;
  std::string fence;
  std::string group;
  uint64_t generation = 0;
  std::string generation_site;
  bool consistent = true;
  bool outdated = false;
  bool fenced = false;
  uint64_t region_size_bytes = 0;
  // A grow in progress (pairctl volume resize): the size the image is being grown to, saved
  // before the image grows; 0 = none. Open finishes such a grow (node/FORMAT.md).
  uint64_t growing_to_bytes = 0;
  // asyncrest (issue 13): the RPO of the group's last takeover without its old primary, at the
  // site that took over (wire::VolumeInfo's fields of the same names): 0 = none recorded;
  // rpo_lost_writes -1 = unknown. Cleared by resync --swap here and by dissolve.
  int64_t rpo_takeover_unix_ms = 0;
  int64_t rpo_lost_writes = -1;
  uint64_t rpo_lost_bytes = 0;
  MSGPACK_DEFINE_MAP(name, size_bytes, inode, uid, gid, mode, created_unix_s, changed_unix_ns,
                     reserved_by, role, status, pair_mode, peer_site, peer_volume, fence, group,
                     generation, generation_site, consistent, outdated, region_size_bytes, fenced,
                     reserve_epoch, reserve_outdated, growing_to_bytes,
                     reserve_hold,  // house (issue 12): appended
                     rpo_takeover_unix_ms, rpo_lost_writes, rpo_lost_bytes);  // asyncrest
};

// Ok if `metadata` may be loaded and used: a volume name, a size within the limits, and a region
// size of 0 (no pair) or a power of two in [kMinRegionBytes, kMaxRegionBytes] (a region of 1 byte
// once made a node allocate per byte until it died, on every restart). InvalidArgument otherwise.
Status CheckMetadata(const VolumeMetadata& metadata);

// Returns the bytes of the metadata file: the 32-byte header (magic, version, body length,
// xxHash64 of the body) and the msgpack body.
std::string EncodeMetadata(const VolumeMetadata& metadata);

// Decodes a metadata file. Corruption with a reason for a short file, bad magic, unknown
// version, wrong length, checksum mismatch, a body that is not metadata, or metadata that fails
// CheckMetadata. Never throws.
Result<VolumeMetadata> DecodeMetadata(const std::string& bytes);

// Writes `metadata` to `path` atomically (old or new after any crash). InvalidArgument, and
// nothing written, for metadata that fails CheckMetadata, has a group or holder over its limit,
// or encodes to more than kMaxMetadataBytes: what is saved is always what a restart can load.
Status SaveMetadata(const std::string& path, const VolumeMetadata& metadata);

// Reads and decodes `path`.
Result<VolumeMetadata> LoadMetadata(const std::string& path);

}  // namespace pairfs::node
