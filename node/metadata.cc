#include "node/metadata.h"

#include <cstring>

#include "node/atomic_file.h"
#include "node/limits.h"
#include "node/sealed_file.h"
#include "wire/envelope.h"
#include "wire/messages.h"
#include "wire/peer_messages.h"

namespace pairfs::node {
namespace {

constexpr SealedFileKind kMetadataFile{kMetadataMagic, kMetadataVersion, kMetadataHeaderBytes};

}  // namespace

Status CheckMetadata(const VolumeMetadata& metadata) {
  Status named = wire::CheckVolumeNameField("metadata name", metadata.name);
  if (!named.ok()) return named;
  if (metadata.size_bytes > kMaxVolumeBytes)
    return Status::InvalidArgument("metadata size_bytes is over 256 TiB");
  if (metadata.region_size_bytes != 0) return wire::CheckRegionSize(metadata.region_size_bytes);
  return Status::Ok();
}

std::string EncodeMetadata(const VolumeMetadata& metadata) {
  return SealFile(kMetadataFile, wire::EncodeBody(metadata));
}

Result<VolumeMetadata> DecodeMetadata(const std::string& bytes) {
  Result<std::string_view> body = UnsealFile(kMetadataFile, bytes);
  if (!body.ok()) return Status::Corruption("metadata: " + body.status().message());
  VolumeMetadata metadata;
  Status decoded = wire::DecodeBody(body.value(), &metadata);
  if (!decoded.ok()) return decoded;
  Status checked = CheckMetadata(metadata);
  if (!checked.ok()) return Status::Corruption("metadata: " + checked.message());
  return metadata;
}

Status SaveMetadata(const std::string& path, const VolumeMetadata& metadata) {
  Status checked = CheckMetadata(metadata);
  if (!checked.ok()) return checked;
  if (metadata.group.size() > wire::kMaxGroupNameBytes ||
      metadata.reserved_by.size() > wire::kMaxHolderBytes) {
    return Status::InvalidArgument("volume " + metadata.name + ": a group or holder name over " +
                                   std::to_string(wire::kMaxGroupNameBytes) +
                                   " bytes is not saved");
  }
  std::string bytes = EncodeMetadata(metadata);
  if (bytes.size() > kMaxMetadataBytes) {
    return Status::InvalidArgument("volume " + metadata.name + ": its metadata would be over " +
                                   std::to_string(kMaxMetadataBytes) + " bytes");
  }
  return ReplaceFileAtomically(path, bytes);
}

Result<VolumeMetadata> LoadMetadata(const std::string& path) {
  Result<std::string> bytes = ReadWholeFile(path, kMaxMetadataBytes);
  if (!bytes.ok()) return bytes.status();
  Result<VolumeMetadata> metadata = DecodeMetadata(bytes.value());
  if (!metadata.ok()) return Status::Corruption(path + ": " + metadata.status().message());
  return metadata;
}

}  // namespace pairfs::node
