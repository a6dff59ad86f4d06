#include "node/witness_store.h"

#include <sys/stat.h>

#include <cerrno>
#include <filesystem>

#include "node/atomic_file.h"
#include "node/names.h"
#include "node/sealed_file.h"
#include "wire/envelope.h"

namespace pairfs::node {
namespace {

static_assert(kWitnessRecordHeaderBytes < kMaxWitnessRecordBytes, "a record file holds its header");

constexpr SealedFileKind kRecordFile{kWitnessRecordMagic, kWitnessRecordVersion,
                                     kWitnessRecordHeaderBytes};

constexpr const char* kSuffix = ".record";

}  // namespace

std::string EncodeWitnessRecord(const wire::ReservationRecord& record) {
  return SealFile(kRecordFile, wire::EncodeBody(record));
}

Result<wire::ReservationRecord> DecodeWitnessRecord(const std::string& bytes) {
  Result<std::string_view> body = UnsealFile(kRecordFile, bytes);
  if (!body.ok()) return Status::Corruption("reservation record: " + body.status().message());
  wire::ReservationRecord record;
  Status decoded = wire::DecodeBody(body.value(), &record);
  if (!decoded.ok()) return Status::Corruption("reservation record: " + decoded.message());
  return record;
}

WitnessStore::WitnessStore(std::string directory, size_t files)
    : directory_(std::move(directory)), files_(files) {}

Result<std::unique_ptr<WitnessStore>> WitnessStore::Open(const std::string& data_dir) {
  const std::string directory = data_dir + "/witness";
  for (const std::string& path : {data_dir, directory}) {
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::IoError("cannot create directory " + path, errno);
    }
  }
  std::error_code error;
  size_t files = 0;
  for (std::filesystem::directory_iterator it(directory, error), end; !error && it != end;
       it.increment(error)) {
    if (it->path().extension() == kSuffix) ++files;
  }
  if (error) return Status::IoError("cannot list " + directory, error.value());
  return std::unique_ptr<WitnessStore>(new WitnessStore(directory, files));
}

std::string WitnessStore::PathOf(const std::string& volume) const {
  return directory_ + "/" + volume + kSuffix;
}

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
    return Status::NoSpace("the witness holds " + std::to_string(files_) +
                           " records already (the most it keeps)");
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
