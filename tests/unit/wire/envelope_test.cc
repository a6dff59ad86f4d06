#include "wire/envelope.h"

#include <catch2/catch.hpp>

#include <random>

#include "wire/limits.h"

using namespace pairfs;
using namespace pairfs::wire;

TEST_CASE("a frame round-trips type, request id, site and body") {
  Result<std::string> bytes = EncodeFrame(MessageType::kDisplay, 42, "site-a", "hello");
  REQUIRE(bytes.ok());
  REQUIRE(bytes->size() == kHeaderBytes + 5);
  Result<Frame> frame = DecodeFrame(bytes.value());
  REQUIRE(frame.ok());
  CHECK(frame->type == MessageType::kDisplay);
  CHECK(frame->request_id == 42);
  CHECK(frame->sender_site == "site-a");
  CHECK(frame->body == "hello");
}

TEST_CASE("a frame with an empty body and an empty site decodes") {
  Result<Frame> frame = DecodeFrame(EncodeFrame(MessageType::kReply, 0, "", "").value());
  REQUIRE(frame.ok());
  CHECK(frame->body.empty());
  CHECK(frame->sender_site.empty());
}

TEST_CASE("encoding refuses a site name that does not fit and a body over the limit") {
  CHECK(EncodeFrame(MessageType::kReply, 1, std::string(32, 'a'), "").status().code() ==
        Code::kInvalidArgument);
  CHECK(
      EncodeFrame(MessageType::kReply, 1, "a", std::string(kMaxFrameBytes, 'x')).status().code() ==
      Code::kInvalidArgument);
  CHECK(EncodeFrame(MessageType::kReply, 1, std::string(31, 'a'), "").ok());
}

TEST_CASE(
    "decoding refuses truncated, oversized, wrong-magic, wrong-version and unknown-type frames") {
  const std::string good = EncodeFrame(MessageType::kDisplay, 7, "a", "body").value();
  SECTION("truncated header") {
    Result<Frame> frame = DecodeFrame(good.substr(0, 10));
    CHECK(frame.status().code() == Code::kCorruption);
    CHECK_THAT(frame.status().message(), Catch::Contains("shorter"));
  }
  SECTION("truncated body") {
    CHECK_THAT(DecodeFrame(good.substr(0, good.size() - 1)).status().message(),
               Catch::Contains("body bytes"));
  }
  SECTION("trailing bytes") {
    CHECK_THAT(DecodeFrame(good + "x").status().message(), Catch::Contains("body bytes"));
  }
  SECTION("oversized") {
    CHECK_THAT(DecodeFrame(std::string(kMaxFrameBytes + 1, 'x')).status().message(),
               Catch::Contains("limit"));
  }
  SECTION("bad magic") {
    std::string bad = good;
    bad[0] = 'X';
    CHECK_THAT(DecodeFrame(bad).status().message(), Catch::Contains("magic"));
  }
  SECTION("other protocol version") {
    std::string bad = good;
    bad[4] = 9;
    CHECK_THAT(DecodeFrame(bad).status().message(), Catch::Contains("protocol version 9"));
  }
  SECTION("unknown message type") {
    std::string bad = good;
    bad[6] = 99;
    CHECK_THAT(DecodeFrame(bad).status().message(), Catch::Contains("unknown message type"));
  }
  SECTION("body altered after the checksum") {
    std::string bad = good;
    bad.back() ^= 1;
    CHECK_THAT(DecodeFrame(bad).status().message(), Catch::Contains("checksum"));
  }
  SECTION("site with a bad character") {
    std::string bad = good;
    bad[32] = '/';
    CHECK_THAT(DecodeFrame(bad).status().message(), Catch::Contains("site"));
  }
  SECTION("site not terminated") {
    std::string bad = good;
    for (size_t i = 32; i < 64; ++i) bad[i] = 'a';
    CHECK_THAT(DecodeFrame(bad).status().message(), Catch::Contains("not terminated"));
  }
}

TEST_CASE("random garbage never decodes and never crashes") {
  std::mt19937_64 random(20261120);
  int accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string bytes(random() % 300, '\0');
    for (char& c : bytes) c = static_cast<char>(random());
    if (round % 2 == 0 && bytes.size() >= 4) bytes.replace(0, 4, "PRFS");  // get past the magic
    if (DecodeFrame(bytes).ok()) ++accepted;
  }
  CHECK(accepted == 0);
}

TEST_CASE("flipping any single byte of a frame is detected") {
  const std::string good = EncodeFrame(MessageType::kReserve, 5, "a", "some body bytes").value();
  for (size_t i = 0; i < good.size(); ++i) {
    if (i >= 8 && i < 16) continue;   // the request id is free-form: any value is valid
    if (i >= 20 && i < 24) continue;  // reserved flags, not checked
    std::string bad = good;
    bad[i] ^= 0x40;
    INFO("byte " << i);
    CHECK_FALSE(DecodeFrame(bad).ok());
  }
}
