#include "node/sealed_file.h"

#include <algorithm>

#include "wire/endian.h"
#include "wire/envelope.h"

namespace pairfs::node {
namespace {

constexpr size_t kMagicAt = 0;
constexpr size_t kVersionAt = 4;
constexpr size_t kBodyBytesAt = 8;
constexpr size_t kChecksumAt = 16;
constexpr size_t kMinHeaderBytes = kChecksumAt + sizeof(uint64_t);

}  // namespace

std::string SealFile(const SealedFileKind& kind, std::string_view body) {
  std::string out(std::max(kind.header_bytes, kMinHeaderBytes), '\0');
  wire::PutLittleEndian<uint32_t>(out, kMagicAt, kind.magic);
  wire::PutLittleEndian<uint16_t>(out, kVersionAt, kind.version);
  wire::PutLittleEndian<uint32_t>(out, kBodyBytesAt, static_cast<uint32_t>(body.size()));
  wire::PutLittleEndian<uint64_t>(out, kChecksumAt, wire::Checksum(body));
  out.append(body);
  return out;
}

Result<std::string_view> UnsealFile(const SealedFileKind& kind, std::string_view bytes) {
  const size_t header_bytes = std::max(kind.header_bytes, kMinHeaderBytes);
  if (bytes.size() < header_bytes) return Status::Corruption("shorter than its header");
  if (wire::GetLittleEndian<uint32_t>(bytes, kMagicAt) != kind.magic)
    return Status::Corruption("bad magic");
  const uint16_t version = wire::GetLittleEndian<uint16_t>(bytes, kVersionAt);
  if (version != kind.version)
    return Status::Corruption("version " + std::to_string(version) + " is not supported");
  if (wire::GetLittleEndian<uint32_t>(bytes, kBodyBytesAt) != bytes.size() - header_bytes) {
    return Status::Corruption("length mismatch");
  }
  const std::string_view body = bytes.substr(header_bytes);
  if (wire::GetLittleEndian<uint64_t>(bytes, kChecksumAt) != wire::Checksum(body)) {
    return Status::Corruption("checksum mismatch");
  }
  return body;
}

}  // namespace pairfs::node
