#include "wire/peer_messages.h"

#include <catch2/catch.hpp>

#include "node/names.h"
#include "wire/envelope.h"
#include "wire/paging.h"

using namespace pairfs;
using namespace pairfs::wire;

namespace {

WriteMessage GoodWrite() {
  WriteMessage write;
  write.volume = "vm1";
  write.generation = {3, "a"};
  write.sequence = 9;
  write.origin_site = "a";
  write.kind = static_cast<uint8_t>(WriteKind::kData);
  write.offset = 8192;
  write.length = 4096;
  return write;
}

PeerCreateCommand GoodCreate() {
  return {"vm1", {4, "a"}, "vm1", 1 << 30, "sync", "never", "g1", 64 * 1024};
}

// A display row with every string at its limit and every number at its widest.
VolumeInfo WidestRow() {
  VolumeInfo info;
  info.name = std::string(kMaxVolumeNameBytes, 'n');
  info.role = info.status = info.mode = info.fence = std::string(kMaxKeywordBytes, 'k');
  info.peer_site = info.generation_site = info.reserve_outdated =
      std::string(kMaxSiteNameBytes, 's');
  info.peer_volume = std::string(kMaxVolumeNameBytes, 'p');
  info.reserved_by = std::string(kMaxHolderBytes, 'h');
  info.group = std::string(kMaxGroupNameBytes, 'g');
  info.size_bytes = info.allocated_bytes = info.dirty_bytes = info.journal_lag_bytes = ~0ull;
  info.generation = info.region_size_bytes = info.reserve_epoch = ~0ull;
  info.copy_progress = info.open_count = ~0u;
  info.journal_used_bytes = info.journal_size_bytes = info.sent_sequence = ~0ull;
  info.applied_sequence = info.lag_ms = ~0ull;
  // asyncrest: the RPO record (9 bytes each at their widest)
  info.rpo_takeover_unix_ms = info.rpo_lost_writes = INT64_MIN;
  info.rpo_lost_bytes = ~0ull;
  return info;
}

}  // namespace

TEST_CASE("a write of length 0 is refused (it made RangeLock abort both daemons)") {
  WriteMessage write = GoodWrite();
  CHECK(CheckWrite(write, 4096).ok());
  write.length = 0;
  CHECK(CheckWrite(write, 0).code() == Code::kInvalidArgument);
  write.kind = static_cast<uint8_t>(WriteKind::kPunchHole);
  CHECK(CheckWrite(write, 0).code() == Code::kInvalidArgument);
}

TEST_CASE("a write whose fields disagree or overflow is refused") {
  WriteMessage write = GoodWrite();
  CHECK_FALSE(CheckWrite(write, 17).ok());  // data shorter than length
  write.kind = 9;
  CHECK_FALSE(CheckWrite(write, 4096).ok());  // unknown kind
  write = GoodWrite();
  write.offset = ~0ull - 100;
  CHECK_FALSE(CheckWrite(write, 4096).ok());  // offset + length wraps
  write = GoodWrite();
  write.length = kMaxDataBytes + 1;
  write.kind = static_cast<uint8_t>(WriteKind::kZeroRange);
  CHECK_FALSE(CheckWrite(write, 0).ok());  // over one message's limit
  write.length = 4096;
  CHECK(CheckWrite(write, 0).ok());
  CHECK_FALSE(CheckWrite(write, 10).ok());  // a discard with data
  write = GoodWrite();
  write.generation.counter = ~0ull;
  CHECK_FALSE(CheckWrite(write, 4096).ok());  // a generation that would win forever
  write = GoodWrite();
  write.volume = "../etc";
  CHECK_FALSE(CheckWrite(write, 4096).ok());
}

TEST_CASE("a pair create is refused for a region size, group or generation a node cannot keep") {
  CHECK(GoodCreate().Check().ok());
  for (uint64_t region :
       {uint64_t{0}, uint64_t{1}, uint64_t{4095}, uint64_t{3 * 4096}, uint64_t{128} << 20}) {
    PeerCreateCommand create = GoodCreate();
    create.region_size_bytes = region;
    CHECK_THAT(create.Check().message(), Catch::Contains("region_size_bytes"));
  }
  PeerCreateCommand create = GoodCreate();
  create.group = std::string(70 * 1024, 'g');
  CHECK_THAT(create.Check().message(), Catch::Contains("group"));
  create.group = "\xff";
  CHECK_THAT(create.Check().message(), Catch::Contains("UTF-8"));
  create = GoodCreate();
  create.generation.counter = uint64_t{1} << 63;
  CHECK_FALSE(create.Check().ok());
  create = GoodCreate();
  create.size_bytes = 4097;
  CHECK_FALSE(create.Check().ok());
  create.size_bytes = (256ull << 40) + 4096;
  CHECK_FALSE(create.Check().ok());
}

TEST_CASE("a reservation record of an epoch near 2^64 is refused") {
  PeerReserveMirrorCommand mirror{"vm1", {5, "a", ""}};
  CHECK(mirror.Check().ok());
  mirror.record.epoch = ~0ull;
  CHECK_FALSE(mirror.Check().ok());
  mirror.record = {5, std::string(kMaxHolderBytes + 1, 'h'), ""};
  CHECK_FALSE(mirror.Check().ok());
}

TEST_CASE("verify and bitmap counts stay within one call") {
  CHECK(PeerVerifyCommand{"vm1", 0, kMaxVerifyRegionsPerCall}.Check().ok());
  CHECK_FALSE(PeerVerifyCommand{"vm1", 0, kMaxVerifyRegionsPerCall + 1}.Check().ok());
  CHECK_FALSE(PeerVerifyCommand{"vm1", 0, 0}.Check().ok());
  CHECK_FALSE(PeerVerifyCommand{"vm1", ~0ull - 1, 4}.Check().ok());
  CHECK(PeerBitmapCommand{"vm1", {1, "a"}, 0, kBitmapChunkRegions}.Check().ok());
  CHECK_FALSE(PeerBitmapCommand{"vm1", {1, "a"}, 0, kBitmapChunkRegions + 1}.Check().ok());
}

TEST_CASE(
    "a decoder runs the checks: a well-formed command with a hostile value is InvalidArgument") {
  PeerCreateCommand create = GoodCreate();
  create.region_size_bytes = 1;
  PeerCreateCommand decoded;
  CHECK(DecodePeerMessage(EncodeBody(create), &decoded).code() == Code::kInvalidArgument);
  CHECK(DecodePeerMessage(EncodeBody(GoodCreate()), &decoded).ok());
  CHECK(decoded.region_size_bytes == 64 * 1024);
  CHECK(DecodePeerMessage(std::string("\xc1"), &decoded).code() == Code::kCorruption);
}

TEST_CASE("UTF-8 is checked strictly") {
  CHECK(IsValidUtf8("plain"));
  CHECK(IsValidUtf8("gr\xc3\xbc\xc3\x9f"));  // grüß
  CHECK(IsValidUtf8("\xf0\x9f\x98\x80"));    // an emoji
  CHECK_FALSE(IsValidUtf8("\xff"));
  CHECK_FALSE(IsValidUtf8("\xc3"));              // truncated
  CHECK_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong
  CHECK_FALSE(IsValidUtf8("\xed\xa0\x80"));      // a surrogate
  CHECK_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(CheckTextField("group", "a\nb", 64).ok());
}

TEST_CASE("the wire's volume-name rule is node/names.h's") {
  for (const char* name : {"vm1", "a.b-c_d", "", ".", "..", "a/b", "a b", "\xc3\xbc", "-x"}) {
    CHECK(CheckVolumeNameField("volume", name).ok() == node::CheckVolumeName(name).ok());
  }
  CHECK(CheckVolumeNameField("volume", std::string(64, 'v')).ok() ==
        node::CheckVolumeName(std::string(64, 'v')).ok());
  CHECK(CheckVolumeNameField("volume", std::string(65, 'v')).ok() ==
        node::CheckVolumeName(std::string(65, 'v')).ok());
}

TEST_CASE("a display page of the widest rows fits one frame and the body limits") {
  CHECK(EncodeBody(WidestRow()).size() <= kMaxVolumeInfoBytes);
  Reply reply;
  reply.message = std::string(kMaxReasonBytes, 'm');
  reply.volumes.assign(kDisplayPageVolumes, WidestRow());
  reply.more = true;
  const std::string body = EncodeBody(reply);
  Result<std::string> frame = EncodeFrame(MessageType::kReply, 1, "a", body);
  REQUIRE(frame.ok());
  CHECK(frame->size() <= kMaxFrameBytes);
  Reply decoded;
  REQUIRE(DecodeBody(body, &decoded).ok());
  CHECK(decoded.volumes.size() == kDisplayPageVolumes);
}

TEST_CASE("CallEveryPage asks page after page from the last name") {
  std::vector<std::string> afters;
  auto call = [&](const DisplayRequest& request) -> Result<Reply> {
    afters.push_back(request.after);
    Reply reply;
    const int page = static_cast<int>(afters.size());
    for (int i = 0; i < 2; ++i) {
      VolumeInfo info;
      info.name = "v" + std::to_string(page) + std::to_string(i);
      reply.volumes.push_back(info);
    }
    reply.more = page < 3;
    return reply;
  };
  Result<Reply> all = CallEveryPage(DisplayRequest{}, call);
  REQUIRE(all.ok());
  CHECK(all->volumes.size() == 6);
  CHECK(afters == std::vector<std::string>{"", "v11", "v21"});
  CHECK_FALSE(all->more);
  // A node that repeats itself is refused, not followed forever.
  auto repeating = [&](const DisplayRequest&) -> Result<Reply> {
    Reply reply;
    reply.volumes.resize(1);
    reply.volumes[0].name = "same";
    reply.more = true;
    return reply;
  };
  CHECK(CallEveryPage(DisplayRequest{}, repeating).status().code() == Code::kCorruption);
}
