#include "wire/envelope.h"

#include <xxhash.h>

#include <array>
#include <cstring>

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

template <class T>
void Put(std::string& out, size_t at, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) out[at + i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

template <class T>
T Get(std::string_view in, size_t at) {
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    value |= static_cast<T>(static_cast<uint8_t>(in[at + i])) << (8 * i);
  }
  return value;
}

bool IsSiteChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

}  // namespace

uint64_t Checksum(std::string_view bytes) { return XXH64(bytes.data(), bytes.size(), 0); }

Result<std::string> EncodeFrame(MessageType type, uint64_t request_id,
                                std::string_view sender_site, std::string_view body) {
  if (sender_site.size() > kMaxSiteNameBytes) {
    return Status::InvalidArgument("site name longer than 31 bytes: " + std::string(sender_site));
  }
  if (body.size() > kMaxFrameBytes - kHeaderBytes) {
    return Status::InvalidArgument("message body of " + std::to_string(body.size()) +
                                   " bytes exceeds the frame limit");
  }
  std::string out(kHeaderBytes + body.size(), '\0');
  Put<uint32_t>(out, kMagicAt, kFrameMagic);
  Put<uint16_t>(out, kVersionAt, kProtocolVersion);
  Put<uint16_t>(out, kTypeAt, static_cast<uint16_t>(type));
  Put<uint64_t>(out, kRequestIdAt, request_id);
  Put<uint32_t>(out, kBodyBytesAt, static_cast<uint32_t>(body.size()));
  Put<uint32_t>(out, kFlagsAt, 0);
  Put<uint64_t>(out, kChecksumAt, Checksum(body));
  std::memcpy(out.data() + kSiteAt, sender_site.data(), sender_site.size());
  std::memcpy(out.data() + kHeaderBytes, body.data(), body.size());
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
  if (Get<uint32_t>(bytes, kMagicAt) != kFrameMagic) return Status::Corruption("bad frame magic");
  const uint16_t version = Get<uint16_t>(bytes, kVersionAt);
  if (version != kProtocolVersion) {
    return Status::Corruption("protocol version " + std::to_string(version) + ", expected " +
                              std::to_string(kProtocolVersion));
  }
  const uint16_t type = Get<uint16_t>(bytes, kTypeAt);
  if (!IsKnownMessageType(type)) {
    return Status::Corruption("unknown message type " + std::to_string(type));
  }
  const uint32_t body_bytes = Get<uint32_t>(bytes, kBodyBytesAt);
  if (body_bytes != bytes.size() - kHeaderBytes) {
    return Status::Corruption("header says " + std::to_string(body_bytes) + " body bytes, frame has " +
                              std::to_string(bytes.size() - kHeaderBytes));
  }
  const std::string_view body = bytes.substr(kHeaderBytes);
  if (Get<uint64_t>(bytes, kChecksumAt) != Checksum(body)) {
    return Status::Corruption("body checksum mismatch");
  }
  const std::string_view site_field = bytes.substr(kSiteAt, kSiteFieldBytes);
  const size_t site_length = site_field.find('\0');
  if (site_length == std::string_view::npos) return Status::Corruption("sender site not terminated");
  for (size_t i = 0; i < site_length; ++i) {
    if (!IsSiteChar(site_field[i])) return Status::Corruption("sender site has a bad character");
  }
  for (size_t i = site_length; i < kSiteFieldBytes; ++i) {
    if (site_field[i] != '\0') return Status::Corruption("sender site padding is not zero");
  }
  Frame frame;
  frame.type = static_cast<MessageType>(type);
  frame.request_id = Get<uint64_t>(bytes, kRequestIdAt);
  frame.sender_site.assign(site_field.substr(0, site_length));
  frame.body.assign(body);
  return frame;
}

}  // namespace pairfs::wire
