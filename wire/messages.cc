#include "wire/messages.h"

namespace pairfs::wire {

Status ParseBody(std::string_view bytes, msgpack::object_handle* out) {
  if (bytes.size() > kMaxFrameBytes) return Status::Corruption("message body over the size limit");
  const msgpack::unpack_limit limit(kMaxBodyElements, kMaxBodyElements, kMaxFrameBytes,
                                    kMaxFrameBytes, kMaxBodyElements, kMaxBodyDepth);
  try {
    size_t consumed = 0;
    *out = msgpack::unpack(bytes.data(), bytes.size(), consumed, nullptr, nullptr, limit);
    if (consumed != bytes.size()) {
      return Status::Corruption("message body has " + std::to_string(bytes.size() - consumed) +
                                " trailing bytes");
    }
  } catch (const msgpack::insufficient_bytes&) {
    return Status::Corruption("message body is truncated");
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("message body is malformed: ") + e.what());
  }
  return Status::Ok();
}

Reply Reply::FromStatus(const Status& status) {
  Reply reply;
  reply.code = static_cast<uint8_t>(status.code());
  reply.message = status.ok() ? "" : status.message();
  return reply;
}

Status Reply::ToStatus() const {
  if (code > static_cast<uint8_t>(Code::kUnsupported)) {
    return Status::Corruption("reply carries unknown code " + std::to_string(code));
  }
  if (code == 0) return Status::Ok();
  return Status(static_cast<Code>(code), message);
}

}  // namespace pairfs::wire
