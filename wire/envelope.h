// The envelope around every pairfs message: a fixed 64-byte header and a msgpack body.
// Layout and rules are specified byte by byte in wire/protocol.md. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "wire/message_type.h"
#include "wire/status.h"

namespace pairfs::wire {

// A decoded frame. `body` is the msgpack payload, already checked against the header's checksum.
struct Frame {
  MessageType type = MessageType::kReply;
  uint64_t request_id = 0;
  std::string sender_site;
  std::string body;
};

// Returns the bytes of a frame carrying `body`. Fails (InvalidArgument) if the site name does not
// fit its field or the body would make the frame larger than kMaxFrameBytes.
Result<std::string> EncodeFrame(MessageType type, uint64_t request_id, std::string_view sender_site,
                                std::string_view body);

// Frames whose body is written in place (no copy of a large body): `frame` holds kHeaderBytes of
// room followed by the body; SealFrame fills the header. Same checks and bytes as EncodeFrame.
std::string FrameWithRoomForHeader(size_t body_bytes_expected);
Status SealFrame(MessageType type, uint64_t request_id, std::string_view sender_site,
                 std::string* frame);

// Checks and decodes a frame. Never throws and never reads past `bytes`. Fails with Corruption
// and a reason for: too short, oversized, bad magic, other protocol version, unknown message
// type, length that disagrees with the frame, checksum mismatch, malformed site name.
Result<Frame> DecodeFrame(std::string_view bytes);

// xxHash64 of `bytes` with seed 0: the checksum of pairfs's files (metadata, region sets).
uint64_t Checksum(std::string_view bytes);

// XXH3-64 of `bytes` (seed 0): the frame body checksum and verify's region hash, where speed
// matters (every replicated byte is hashed at both ends).
uint64_t FastChecksum(std::string_view bytes);

}  // namespace pairfs::wire
