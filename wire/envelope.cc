#include "wire/envelope.h"

#include <xxhash.h>

#include <array>
#include <cstring>

#include "wire/endian.h"
#include "wire/limits.h"

namespace pairfs::wire {
namespace {

// Header field offsets; wire/protocol.md has the same table.
constexpr size_t kMagicAt = 0;
constexpr size_t kVersionAt = 4;
constexpr size_t kTypeAt = 6;
constexpr size_t kRequestIdAt = 8;
constexpr size_t kBodyBytesAt = 16;
constexpr size_t kFlagsAt = 20;
constexpr size_t kChecksumAt = 24;
constexpr size_t kSiteAt = 32;
static_assert(kSiteAt + kSiteFieldBytes == kHeaderBytes, "the header is exactly 64 bytes");

bool IsSiteChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

}  // namespace

uint64_t Checksum(std::string_view bytes) { return XXH64(bytes.data(), bytes.size(), 0); }

uint64_t FastChecksum(std::string_view bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

std::string FrameWithRoomForHeader(size_t body_bytes_expected) {
  std::string frame;
  frame.reserve(kHeaderBytes + body_bytes_expected);
  frame.resize(kHeaderBytes);
  return frame;
}

Status SealFrame(MessageType type, uint64_t request_id, std::string_view sender_site,
                 std::string* frame) {
  if (sender_site.size() > kMaxSiteNameBytes) {
    return Status::InvalidArgument("site name longer than 31 bytes: " + std::string(sender_site));
  }
  if (frame->size() < kHeaderBytes || frame->size() > kMaxFrameBytes) {
    return Status::InvalidArgument("message body of " +
                                   std::to_string(frame->size() - kHeaderBytes) +
                                   " bytes exceeds the frame limit");
  }
  std::string& out = *frame;
  const std::string_view body = std::string_view(out).substr(kHeaderBytes);
  std::memset(out.data(), 0, kHeaderBytes);
  PutLittleEndian<uint32_t>(out, kMagicAt, kFrameMagic);
  PutLittleEndian<uint16_t>(out, kVersionAt, kProtocolVersion);
  PutLittleEndian<uint16_t>(out, kTypeAt, static_cast<uint16_t>(type));
  PutLittleEndian<uint64_t>(out, kRequestIdAt, request_id);
  PutLittleEndian<uint32_t>(out, kBodyBytesAt, static_cast<uint32_t>(body.size()));
  PutLittleEndian<uint32_t>(out, kFlagsAt, 0);
  PutLittleEndian<uint64_t>(out, kChecksumAt, FastChecksum(body));
  std::memcpy(out.data() + kSiteAt, sender_site.data(), sender_site.size());
  return Status::Ok();
}

Result<std::string> EncodeFrame(MessageType type, uint64_t request_id, std::string_view sender_site,
                                std::string_view body) {
  if (body.size() > kMaxFrameBytes - kHeaderBytes) {
    return Status::InvalidArgument("message body of " + std::to_string(body.size()) +
                                   " bytes exceeds the frame limit");
  }
  std::string out = FrameWithRoomForHeader(body.size());
  out.append(body);
  Status sealed = SealFrame(type, request_id, sender_site, &out);
  if (!sealed.ok()) return sealed;
  return out;
}

Result<Frame> DecodeFrame(std::string_view bytes) {
  if (bytes.size() < kHeaderBytes) {
    return Status::Corruption("frame of " + std::to_string(bytes.size()) +
                              " bytes is shorter than the 64-byte header");
  }
  if (bytes.size() > kMaxFrameBytes) {
    return Status::Corruption("frame of " + std::to_string(bytes.size()) + " bytes exceeds the " +
                              std::to_string(kMaxFrameBytes) + "-byte limit");
  }
  if (GetLittleEndian<uint32_t>(bytes, kMagicAt) != kFrameMagic)
    return Status::Corruption("bad frame magic");
  const uint16_t version = GetLittleEndian<uint16_t>(bytes, kVersionAt);
  if (version != kProtocolVersion) {
    return Status::Corruption("protocol version " + std::to_string(version) + ", expected " +
                              std::to_string(kProtocolVersion));
  }
  const uint16_t type = GetLittleEndian<uint16_t>(bytes, kTypeAt);
  if (!IsKnownMessageType(type)) {
    return Status::Corruption("unknown message type " + std::to_string(type));
  }
  const uint32_t body_bytes = GetLittleEndian<uint32_t>(bytes, kBodyBytesAt);
  if (body_bytes != bytes.size() - kHeaderBytes) {
    return Status::Corruption("header says " + std::to_string(body_bytes) +
                              " body bytes, frame has " +
                              std::to_string(bytes.size() - kHeaderBytes));
  }
  const std::string_view body = bytes.substr(kHeaderBytes);
  if (GetLittleEndian<uint64_t>(bytes, kChecksumAt) != FastChecksum(body)) {
    return Status::Corruption("body checksum mismatch");
  }
  const std::string_view site_field = bytes.substr(kSiteAt, kSiteFieldBytes);
  const size_t site_length = site_field.find('\0');
  if (site_length == std::string_view::npos)
    return Status::Corruption("sender site not terminated");
  for (size_t i = 0; i < site_length; ++i) {
    if (!IsSiteChar(site_field[i])) return Status::Corruption("sender site has a bad character");
  }
  for (size_t i = site_length; i < kSiteFieldBytes; ++i) {
    if (site_field[i] != '\0') return Status::Corruption("sender site padding is not zero");
  }
  Frame frame;
  frame.type = static_cast<MessageType>(type);
  frame.request_id = GetLittleEndian<uint64_t>(bytes, kRequestIdAt);
  frame.sender_site.assign(site_field.substr(0, site_length));
  frame.body.assign(body);
  return frame;
}

}  // namespace pairfs::wire
