#include "node/metadata.h"

#include <cstring>

#include "node/atomic_file.h"
#include "node/limits.h"
#include "wire/endian.h"
#include "wire/envelope.h"
#include "wire/messages.h"

namespace pairfs::node {
namespace {

using wire::GetLittleEndian;
using wire::PutLittleEndian;

// Header layout, as in node/FORMAT.md.
constexpr size_t kMagicAt = 0;
constexpr size_t kVersionAt = 4;
constexpr size_t kBodyBytesAt = 8;
constexpr size_t kChecksumAt = 16;
static_assert(kChecksumAt + 8 <= kMetadataHeaderBytes, "the checksum fits the header");


}  // namespace

std::string EncodeMetadata(const VolumeMetadata& metadata) {
  const std::string body = wire::EncodeBody(metadata);
  std::string out(kMetadataHeaderBytes, '\0');
  PutLittleEndian<uint32_t>(out, kMagicAt, kMetadataMagic);
  PutLittleEndian<uint16_t>(out, kVersionAt, kMetadataVersion);
  PutLittleEndian<uint32_t>(out, kBodyBytesAt, static_cast<uint32_t>(body.size()));
  PutLittleEndian<uint64_t>(out, kChecksumAt, wire::Checksum(body));
  return out + body;
}

Result<VolumeMetadata> DecodeMetadata(const std::string& bytes) {
  if (bytes.size() < kMetadataHeaderBytes) return Status::Corruption("metadata shorter than its header");
  if (GetLittleEndian<uint32_t>(bytes, kMagicAt) != kMetadataMagic) return Status::Corruption("metadata has bad magic");
  const uint16_t version = GetLittleEndian<uint16_t>(bytes, kVersionAt);
  if (version != kMetadataVersion) {
    return Status::Corruption("metadata version " + std::to_string(version) + " is not supported");
  }
  const uint32_t body_bytes = GetLittleEndian<uint32_t>(bytes, kBodyBytesAt);
  if (body_bytes != bytes.size() - kMetadataHeaderBytes) return Status::Corruption("metadata length mismatch");
  const std::string body = bytes.substr(kMetadataHeaderBytes);
  if (GetLittleEndian<uint64_t>(bytes, kChecksumAt) != wire::Checksum(body)) {
    return Status::Corruption("metadata checksum mismatch");
  }
  VolumeMetadata metadata;
  Status decoded = wire::DecodeBody(body, &metadata);
  if (!decoded.ok()) return decoded;
  return metadata;
}

Status SaveMetadata(const std::string& path, const VolumeMetadata& metadata) {
  return ReplaceFileAtomically(path, EncodeMetadata(metadata));
}

Result<VolumeMetadata> LoadMetadata(const std::string& path) {
  Result<std::string> bytes = ReadWholeFile(path, kMaxMetadataBytes);
  if (!bytes.ok()) return bytes.status();
  Result<VolumeMetadata> metadata = DecodeMetadata(bytes.value());
  if (!metadata.ok()) return Status::Corruption(path + ": " + metadata.status().message());
  return metadata;
}

}  // namespace pairfs::node
