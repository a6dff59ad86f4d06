// The witness's copies of reservation records: one file per determining volume,
// DATA_DIR/witness/NAME.record (bytes in node/FORMAT.md, "Witness reservation record").
//
// Not thread-safe: one thread (the witness server's) owns a WitnessStore. One witness serves a
// data directory (the daemon holds DATA_DIR/lock), so nothing else writes these files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "wire/messages.h"
#include "wire/status.h"

namespace pairfs::node {

inline constexpr uint32_t kWitnessRecordMagic = 0x52574650;  // "PFWR" little-endian
inline constexpr uint16_t kWitnessRecordVersion = 1;
inline constexpr size_t kWitnessRecordHeaderBytes = 32;

// A record is an epoch and two site names (31 bytes at most each): well under 1 KiB. A larger
// file is not ours.
inline constexpr size_t kMaxWitnessRecordBytes = 4096;

// Record files a witness keeps at most. A witness serves one pair of sites, which have one
// determining volume per cluster; the bound keeps a misconfigured or hostile asker from filling
// the disk with names.
inline constexpr size_t kMaxWitnessRecords = 1024;

// Returns the bytes of a record file: the 32-byte header (magic, version, body length, xxHash64
// of the body) and the msgpack body.
std::string EncodeWitnessRecord(const wire::ReservationRecord& record);

// Decodes a record file. Corruption with a reason for a short file, bad magic, unknown version,
// wrong length, checksum mismatch or a body that is not a record. Never throws.
Result<wire::ReservationRecord> DecodeWitnessRecord(const std::string& bytes);

class WitnessStore {
 public:
  // Creates DATA_DIR and DATA_DIR/witness (mode 0700) when missing and counts the records there.
  // IoError naming the directory that cannot be made or listed.
  static Result<std::unique_ptr<WitnessStore>> Open(const std::string& data_dir);

  // The record of `volume`: cached after its first load or save; an empty record (epoch 0, no
  // holder) when the volume has no file. InvalidArgument for a name that is not a volume name;
  // Corruption naming the file and the check it failed (never cached: the next call reads the
  // file again, so a file an operator repaired or removed is seen); IoError for a failed read.
  Result<wire::ReservationRecord> Load(const std::string& volume);

  // Replaces the record of `volume` durably (node/atomic_file.h: old or new after any crash)
  // and then caches it, so a grant is on disk before it is answered. InvalidArgument for a bad
  // name; NoSpace when a new file would pass kMaxWitnessRecords; IoError (with errno) when the
  // write fails: the file then holds the old record (or, when only the directory sync failed,
  // the new one, unacknowledged) and the next Load reads it again.
  Status Save(const std::string& volume, const wire::ReservationRecord& record);

  // DATA_DIR/witness/NAME.record.
  std::string PathOf(const std::string& volume) const;

 private:
  WitnessStore(std::string directory, size_t files);

  const std::string directory_;
  size_t files_;  // NAME.record files in directory_
  std::map<std::string, wire::ReservationRecord> cache_;
};

}  // namespace pairfs::node
