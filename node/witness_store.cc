#include "node/witness_store.h"

#include <sys/stat.h>

#include <cerrno>
#include <filesystem>

#include "node/atomic_file.h"
#include "node/names.h"
#include "wire/endian.h"
#include "wire/envelope.h"

namespace pairfs::node {
namespace {

using wire::GetLittleEndian;
using wire::PutLittleEndian;

// Header layout, as in node/FORMAT.md (the same habits as the volume metadata's header).
constexpr size_t kMagicAt = 0;
constexpr size_t kVersionAt = 4;
constexpr size_t kBodyBytesAt = 8;
constexpr size_t kChecksumAt = 16;
static_assert(kVersionAt >= kMagicAt + sizeof(uint32_t), "version follows the magic");
static_assert(kBodyBytesAt >= kVersionAt + sizeof(uint16_t), "body length follows the version");
static_assert(kChecksumAt >= kBodyBytesAt + sizeof(uint32_t), "checksum follows the body length");
static_assert(kChecksumAt + sizeof(uint64_t) <= kWitnessRecordHeaderBytes, "the checksum fits the header");
static_assert(kWitnessRecordHeaderBytes < kMaxWitnessRecordBytes, "a record file holds its header");

constexpr const char* kSuffix = ".record";

// The first check a record file fails, or "" when its header and body agree.
std::string HeaderProblem(const std::string& bytes) {
  if (bytes.size() < kWitnessRecordHeaderBytes) return "shorter than its header";
  if (GetLittleEndian<uint32_t>(bytes, kMagicAt) != kWitnessRecordMagic) return "bad magic";
  const uint16_t version = GetLittleEndian<uint16_t>(bytes, kVersionAt);
  if (version != kWitnessRecordVersion) return "version " + std::to_string(version) + " is not supported";
  if (GetLittleEndian<uint32_t>(bytes, kBodyBytesAt) != bytes.size() - kWitnessRecordHeaderBytes) {
    return "length mismatch";
  }
  const std::string_view body = std::string_view(bytes).substr(kWitnessRecordHeaderBytes);
  if (GetLittleEndian<uint64_t>(bytes, kChecksumAt) != wire::Checksum(body)) return "checksum mismatch";
  return "";
}

}  // namespace

std::string EncodeWitnessRecord(const wire::ReservationRecord& record) {
  const std::string body = wire::EncodeBody(record);
  std::string out(kWitnessRecordHeaderBytes, '\0');
  PutLittleEndian<uint32_t>(out, kMagicAt, kWitnessRecordMagic);
  PutLittleEndian<uint16_t>(out, kVersionAt, kWitnessRecordVersion);
  PutLittleEndian<uint32_t>(out, kBodyBytesAt, static_cast<uint32_t>(body.size()));
  PutLittleEndian<uint64_t>(out, kChecksumAt, wire::Checksum(body));
  return out + body;
}

Result<wire::ReservationRecord> DecodeWitnessRecord(const std::string& bytes) {
  const std::string problem = HeaderProblem(bytes);
  if (!problem.empty()) return Status::Corruption("reservation record: " + problem);
  wire::ReservationRecord record;
  Status decoded = wire::DecodeBody(std::string_view(bytes).substr(kWitnessRecordHeaderBytes), &record);
  if (!decoded.ok()) return Status::Corruption("reservation record: " + decoded.message());
  return record;
}

WitnessStore::WitnessStore(std::string directory, size_t files) : directory_(std::move(directory)), files_(files) {}

Result<std::unique_ptr<WitnessStore>> WitnessStore::Open(const std::string& data_dir) {
  const std::string directory = data_dir + "/witness";
  for (const std::string& path : {data_dir, directory}) {
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::IoError("cannot create directory " + path, errno);
    }
  }
  std::error_code error;
  size_t files = 0;
  for (std::filesystem::directory_iterator it(directory, error), end; !error && it != end; it.increment(error)) {
    if (it->path().extension() == kSuffix) ++files;
  }
  if (error) return Status::IoError("cannot list " + directory, error.value());
  return std::unique_ptr<WitnessStore>(new WitnessStore(directory, files));
}

std::string WitnessStore::PathOf(const std::string& volume) const { return directory_ + "/" + volume + kSuffix; }

Result<wire::ReservationRecord> WitnessStore::Load(const std::string& volume) {
  Status name = CheckVolumeName(volume);
  if (!name.ok()) return name;
  if (auto cached = cache_.find(volume); cached != cache_.end()) return cached->second;
  const std::string path = PathOf(volume);
  Result<std::string> bytes = ReadWholeFile(path, kMaxWitnessRecordBytes);
  if (bytes.status().code() == Code::kNotFound) return wire::ReservationRecord{};
  if (!bytes.ok()) return bytes.status();
  Result<wire::ReservationRecord> record = DecodeWitnessRecord(bytes.value());
  if (!record.ok()) return Status::Corruption(path + ": " + record.status().message());
  cache_[volume] = record.value();
  return record;
}

Status WitnessStore::Save(const std::string& volume, const wire::ReservationRecord& record) {
  Status name = CheckVolumeName(volume);
  if (!name.ok()) return name;
  const std::string path = PathOf(volume);
  std::error_code ignored;
  const bool new_file = cache_.count(volume) == 0 && !std::filesystem::exists(path, ignored);
  if (new_file && files_ >= kMaxWitnessRecords) {
    return Status::NoSpace("the witness holds " + std::to_string(files_) + " records already (the most it keeps)");
  }
  Status written = ReplaceFileAtomically(path, EncodeWitnessRecord(record));
  if (!written.ok()) {
    // Only a failed directory sync leaves the new file in place: let the file decide next time.
    cache_.erase(volume);
    return written;
  }
  if (new_file) ++files_;
  cache_[volume] = record;
  return Status::Ok();
}

}  // namespace pairfs::node
