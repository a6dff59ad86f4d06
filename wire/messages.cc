#include "wire/messages.h"

namespace pairfs::wire {

namespace {

bool ReferenceBin(msgpack::type::object_type type, size_t, void*) {
  return type == msgpack::type::BIN;
}

// msgpack's stream interface over a std::string that grows by appending.
struct StringSink {
  std::string* out;
  void write(const char* bytes, size_t length) { out->append(bytes, length); }
};

}  // namespace

Status ParseBody(std::string_view bytes, msgpack::object_handle* out, bool reference_bin) {
  if (bytes.size() > kMaxFrameBytes) return Status::Corruption("message body over the size limit");
  const msgpack::unpack_limit limit(kMaxBodyElements, kMaxBodyElements, kMaxFrameBytes,
                                    kMaxFrameBytes, kMaxBodyElements, kMaxBodyDepth);
  try {
    size_t consumed = 0;
    *out = msgpack::unpack(bytes.data(), bytes.size(), consumed,
                           reference_bin ? ReferenceBin : nullptr, nullptr, limit);
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

Result<std::string> EncodeWriteFrame(MessageType type, uint64_t request_id,
                                     std::string_view sender_site, const WriteMessage& message,
                                     std::string_view data) {
  if (data.size() > kMaxDataBytes) {
    return Status::InvalidArgument("write of " + std::to_string(data.size()) +
                                   " bytes exceeds the frame limit");
  }
  // Fields: at most two names of a volume and a site, a generation, five numbers and a bin header.
  std::string frame = FrameWithRoomForHeader(message.volume.size() + message.origin_site.size() +
                                             message.generation.site.size() + 96 + data.size());
  StringSink sink{&frame};
  msgpack::packer<StringSink> packer(sink);
  packer.pack_array(8);
  packer.pack(message.volume);
  packer.pack(message.generation);
  packer.pack(message.sequence);
  packer.pack(message.origin_site);
  packer.pack(message.kind);
  packer.pack(message.offset);
  packer.pack(message.length);
  packer.pack_bin(static_cast<uint32_t>(data.size()));
  packer.pack_bin_body(data.data(), static_cast<uint32_t>(data.size()));
  Status sealed = SealFrame(type, request_id, sender_site, &frame);
  if (!sealed.ok()) return sealed;
  return frame;
}

Status DecodeWriteBody(std::string_view body, WriteMessage* message, std::string_view* data) {
  msgpack::object_handle handle;
  Status parsed = ParseBody(body, &handle, true);
  if (!parsed.ok()) return parsed;
  const msgpack::object& object = handle.get();
  if (object.type != msgpack::type::ARRAY || object.via.array.size != 8 ||
      object.via.array.ptr[7].type != msgpack::type::BIN) {
    return Status::Corruption("message body has the wrong shape: not a write");
  }
  const msgpack::object* field = object.via.array.ptr;
  try {
    field[0].convert(message->volume);
    field[1].convert(message->generation);
    field[2].convert(message->sequence);
    field[3].convert(message->origin_site);
    field[4].convert(message->kind);
    field[5].convert(message->offset);
    field[6].convert(message->length);
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("message body has the wrong shape: ") + e.what());
  }
  message->data.clear();
  *data = std::string_view(field[7].via.bin.ptr, field[7].via.bin.size);
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
