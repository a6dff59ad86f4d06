// Frames for unit tests, built one way everywhere: a request as a dispatch receives it (the
// control endpoint, the witness, a replicator's calls), and a frame that went through the wire's
// encoder and decoder as a link delivers it. Header-only; thread-safe (no state).
#pragma once

#include <cstdint>
#include <string>

#include "wire/envelope.h"
#include "wire/messages.h"

namespace pairfs::testing {

// A frame of `type` carrying `body` as it is (also bytes that are no message), from `sender`.
inline wire::Frame RawFrame(wire::MessageType type, std::string body,
                            const std::string& sender = "", uint64_t request_id = 1) {
  wire::Frame frame;
  frame.type = type;
  frame.request_id = request_id;
  frame.sender_site = sender;
  frame.body = std::move(body);
  return frame;
}

// A frame of `message`'s own type (T::kType) carrying its encoding, from `sender`.
template <class T>
wire::Frame FrameOf(const T& message, const std::string& sender = "", uint64_t request_id = 1) {
  return RawFrame(T::kType, wire::EncodeBody(message), sender, request_id);
}

// The frame that `body` of `type` from `sender` becomes once encoded and decoded again, as the
// peer link hands it to a replicator's OnFrame. `sender` and `body` must fit a frame (a test's
// own frame that does not is a bug in the test: Result::value of a failure).
inline wire::Frame DeliveredFrame(wire::MessageType type, uint64_t request_id,
                                  const std::string& sender, const std::string& body) {
  return wire::DecodeFrame(wire::EncodeFrame(type, request_id, sender, body).value()).value();
}

}  // namespace pairfs::testing
