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

TEST_CASE("a replicated write round-trips with its data and generation") {
  WriteMessage write;
  write.volume = "vm1";
  write.generation = {3, "a"};
  write.sequence = 99;
  write.origin_site = "b";
  write.offset = 4096;
  write.length = 5;
  write.data = {'h', 'e', 'l', 'l', 'o'};
  WriteMessage decoded;
  REQUIRE(DecodeBody(EncodeBody(write), &decoded).ok());
  CHECK(decoded.generation.counter == 3);
  CHECK(decoded.generation.site == "a");
  CHECK(decoded.sequence == 99);
  CHECK(decoded.data == write.data);
}

TEST_CASE("bodies of the wrong shape, truncated or with trailing bytes are refused") {
  const std::string good = EncodeBody(VolumeCreateRequest{"vm1", 4096});
  VolumeCreateRequest out;
  CHECK_THAT(DecodeBody(good.substr(0, good.size() - 2), &out).message(), Catch::Contains("truncated"));
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
  }
  SUCCEED("no exception escaped and nothing crashed");
}
