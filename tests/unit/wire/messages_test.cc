#include "wire/messages.h"

#include <catch2/catch.hpp>

#include <random>

using namespace pairfs;
using namespace pairfs::wire;

TEST_CASE("control requests round-trip through msgpack") {
  VolumeCreateRequest request{"vm1", 20ull << 30};
  VolumeCreateRequest decoded;
  REQUIRE(DecodeBody(EncodeBody(request), &decoded).ok());
  CHECK(decoded.name == "vm1");
  CHECK(decoded.size_bytes == 20ull << 30);
}

TEST_CASE("a reply carries its status and volume rows") {
  Reply reply = Reply::FromStatus(Status::Conflict("volume vm1 is reserved by site b"));
  VolumeInfo info;
  info.name = "vm1";
  info.reserved_by = "b";
  reply.volumes.push_back(info);
  Reply decoded;
  REQUIRE(DecodeBody(EncodeBody(reply), &decoded).ok());
  CHECK(decoded.ToStatus().code() == Code::kConflict);
  CHECK(decoded.ToStatus().message() == "volume vm1 is reserved by site b");
  REQUIRE(decoded.volumes.size() == 1);
  CHECK(decoded.volumes[0].reserved_by == "b");
}

TEST_CASE("a reply with an unknown code is corruption, not a crash") {
  Reply reply;
  reply.code = 200;
  CHECK(reply.ToStatus().code() == Code::kCorruption);
}

// A write to vm1 at 4096 of `length` bytes, sequence 99, generation 3/a, from site b.
WriteMessage SampleWrite(uint64_t length) {
  WriteMessage write;
  write.volume = "vm1";
  write.generation = {3, "a"};
  write.sequence = 99;
  write.origin_site = "b";
  write.offset = 4096;
  write.length = length;
  return write;
}

TEST_CASE("a replicated write round-trips with its data and generation") {
  WriteMessage write = SampleWrite(5);
  write.data = {'h', 'e', 'l', 'l', 'o'};
  WriteMessage decoded;
  REQUIRE(DecodeBody(EncodeBody(write), &decoded).ok());
  CHECK(decoded.generation.counter == 3);
  CHECK(decoded.generation.site == "a");
  CHECK(decoded.sequence == 99);
  CHECK(decoded.data == write.data);
}

TEST_CASE(
    "a write frame encoded in place is byte for byte the generic encoding, and decodes without a "
    "copy") {
  const WriteMessage write = SampleWrite(70000);
  const std::string data(70000, 'q');
  Result<std::string> fast = EncodeWriteFrame(MessageType::kReplicaWrite, 7, "a", write, data);
  REQUIRE(fast.ok());
  WriteMessage with_data = write;
  with_data.data.assign(data.begin(), data.end());
  CHECK(fast.value() ==
        EncodeFrame(MessageType::kReplicaWrite, 7, "a", EncodeBody(with_data)).value());

  Result<Frame> frame = DecodeFrame(fast.value());
  REQUIRE(frame.ok());
  WriteMessage decoded;
  std::string_view view;
  REQUIRE(DecodeWriteBody(frame->body, &decoded, &view).ok());
  CHECK(decoded.sequence == 99);
  CHECK(decoded.generation == write.generation);
  CHECK(decoded.length == 70000);
  CHECK(view == data);
  CHECK(view.data() >= frame->body.data());  // points into the body: not copied
  CHECK(view.data() + view.size() == frame->body.data() + frame->body.size());

  // A discard has no data; anything that is not an 8-element write with bin data is refused.
  REQUIRE(DecodeWriteBody(EncodeBody(write), &decoded, &view).ok());
  CHECK(view.empty());
  CHECK(DecodeWriteBody(EncodeBody(VolumeCreateRequest{"vm1", 4096}), &decoded, &view).code() ==
        Code::kCorruption);
  CHECK(DecodeWriteBody(fast.value().substr(64, 20), &decoded, &view).code() == Code::kCorruption);
  CHECK(EncodeWriteFrame(MessageType::kReplicaWrite, 7, "a", write,
                         std::string(kMaxDataBytes + 1, 'x'))
            .status()
            .code() == Code::kInvalidArgument);
}

TEST_CASE("bodies of the wrong shape, truncated or with trailing bytes are refused") {
  const std::string good = EncodeBody(VolumeCreateRequest{"vm1", 4096});
  VolumeCreateRequest out;
  CHECK_THAT(DecodeBody(good.substr(0, good.size() - 2), &out).message(),
             Catch::Contains("truncated"));
  CHECK_THAT(DecodeBody(good + "\x01", &out).message(), Catch::Contains("trailing"));
  // A string where a number belongs.
  CHECK(DecodeBody(EncodeBody(VolumeDeleteRequest{"x"}), &out).ok());  // missing keys keep defaults
  WriteMessage write;
  CHECK(DecodeBody(good, &write).code() == Code::kCorruption);  // a map where an array belongs
}

TEST_CASE("deeply nested or huge-count bodies are refused by the unpack limits") {
  std::string nested(100, '\x91');  // 100 nested one-element arrays
  nested += '\x01';
  msgpack::object_handle handle;
  CHECK(ParseBody(nested, &handle).code() == Code::kCorruption);
  // An array header claiming 2^32-1 elements with nothing behind it.
  CHECK(ParseBody(std::string("\xdd\xff\xff\xff\xff", 5), &handle).code() == Code::kCorruption);
}

TEST_CASE("random bytes as a body never decode into a crash") {
  std::mt19937_64 random(7);
  for (int round = 0; round < 20000; ++round) {
    std::string bytes(random() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(random());
    Reply reply;
    WriteMessage write;
    (void)DecodeBody(bytes, &reply);
    (void)DecodeBody(bytes, &write);
    std::string_view data;
    (void)DecodeWriteBody(bytes, &write, &data);
  }
  SUCCEED("no exception escaped and nothing crashed");
}
