#include "node/metadata.h"

#include <cstring>

#include "node/atomic_file.h"
#include "node/limits.h"
#include "node/sealed_file.h"
#include "wire/envelope.h"
#include "wire/messages.h"

namespace pairfs::node {
namespace {

constexpr SealedFileKind kMetadataFile{kMetadataMagic, kMetadataVersion, kMetadataHeaderBytes};

}  // namespace

std::string EncodeMetadata(const VolumeMetadata& metadata) { return SealFile(kMetadataFile, wire::EncodeBody(metadata)); }

Result<VolumeMetadata> DecodeMetadata(const std::string& bytes) {
  Result<std::string_view> body = UnsealFile(kMetadataFile, bytes);
  if (!body.ok()) return Status::Corruption("metadata: " + body.status().message());
  VolumeMetadata metadata;
  Status decoded = wire::DecodeBody(body.value(), &metadata);
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
