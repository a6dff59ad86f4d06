// Fuzzing the wire's decoders: the envelope (wire::DecodeFrame), the write path's bodies and the
// control requests. Every input is a mutant of a valid encoding (tests/unit/fuzz/mutator.h); a
// decoder must return a Status, never crash, throw or abort, and what it accepts must pass the
// checks of wire/peer_messages.h. PAIRFS_FUZZ_SEED and PAIRFS_FUZZ_INPUTS:
// tests/unit/fuzz/harness.h.
#include "tests/unit/fuzz/harness.h"
#include "wire/envelope.h"
#include "wire/peer_messages.h"

using namespace pairfs;
using namespace pairfs::wire;

namespace {

WriteMessage SampleWrite(uint8_t kind, uint64_t length) {
  WriteMessage write;
  write.volume = "vm1";
  write.generation = {7, "a"};
  write.sequence = 123456;
  write.origin_site = "a";
  write.kind = kind;
  write.offset = 1 << 20;
  write.length = length;
  if (kind == 0) write.data.assign(length, 'd');
  return write;
}

}  // namespace

TEST_CASE("fuzz: the envelope decoder refuses or accepts, never crashes", "[fuzz]") {
  std::vector<std::string> seeds;
  seeds.push_back(
      EncodeFrame(MessageType::kDisplay, 1, "a", EncodeBody(DisplayRequest{"vm1"})).value());
  seeds.push_back(
      EncodeFrame(MessageType::kReplicaWrite, 2, "b", EncodeBody(SampleWrite(0, 512))).value());
  seeds.push_back(
      EncodeFrame(MessageType::kPeerSplit, 3, "site-b", EncodeBody(PeerSplitCommand{"v", {1, "a"}}))
          .value());
  seeds.push_back(EncodeFrame(MessageType::kHeartbeat, 4, "a", "").value());
  fuzz::Fuzz("envelope", seeds, [](const std::string& input) -> std::string {
    Result<Frame> frame = DecodeFrame(input);
    if (!frame.ok()) return "";
    if (!IsKnownMessageType(static_cast<uint16_t>(frame->type))) return "accepted an unknown type";
    if (frame->sender_site.size() > kMaxSiteNameBytes) return "accepted a long site";
    if (frame->body.size() > kMaxFrameBytes) return "accepted an oversized body";
    return "";
  });
}

TEST_CASE("fuzz: replica and forwarded writes", "[fuzz]") {
  const std::vector<std::string> seeds = {
      EncodeBody(SampleWrite(0, 4096)), EncodeBody(SampleWrite(0, 1)),
      EncodeBody(SampleWrite(1, 1 << 20)), EncodeBody(SampleWrite(2, 8192))};
  fuzz::Fuzz("write", seeds, [](const std::string& input) -> std::string {
    WriteMessage write;
    std::string_view data;
    if (!DecodeWriteBody(input, &write, &data).ok() || !CheckWrite(write, data.size()).ok())
      return "";
    if (write.length == 0 || write.length > kMaxDataBytes) return "accepted a length out of range";
    if (write.offset > wire::kMaxVolumeBytes - write.length)
      return "accepted an offset past any volume";
    if (write.kind > 2) return "accepted an unknown kind";
    if (write.kind == 0 && data.size() != write.length) return "accepted data of the wrong length";
    if (write.generation.counter > kMaxCounterValue) return "accepted a wrapping generation";
    return "";
  });
}

TEST_CASE("fuzz: grants, acks, flushes and statuses", "[fuzz]") {
  const std::vector<std::string> replies = {EncodeBody(WriteReplyMessage{"vm1", {3, "b"}, 99, 0}),
                                            EncodeBody(WriteReplyMessage{"x", {0, ""}, 0, 7})};
  fuzz::Fuzz("write-reply", replies, [](const std::string& input) -> std::string {
    WriteReplyMessage reply;
    if (!DecodeBody(input, &reply).ok() || !CheckWriteReply(reply).ok()) return "";
    if (reply.code > static_cast<uint8_t>(Code::kUnsupported)) return "accepted an unknown code";
    return reply.generation.counter > kMaxCounterValue ? "accepted a wrapping generation" : "";
  });
  fuzz::Fuzz("flush", {EncodeBody(FlushMessage{"vm1", {3, "b"}, 5, 0})},
             [](const std::string& input) -> std::string {
               FlushMessage flush;
               if (!DecodeBody(input, &flush).ok() || !CheckFlush(flush).ok()) return "";
               return flush.code > static_cast<uint8_t>(Code::kUnsupported)
                          ? "accepted an unknown code"
                          : "";
             });
  const std::vector<std::string> statuses = {
      EncodeBody(PeerStatusMessage{"vm1", {3, "b"}, "secondary", "PAIR", true, false, 100}),
      EncodeBody(PeerStatusMessage{"vm1", {9, "a"}, "primary", "COPY", false, true, 42})};
  fuzz::Fuzz("peer-status", statuses, [](const std::string& input) -> std::string {
    PeerStatusMessage status;
    if (!DecodeBody(input, &status).ok() || !CheckPeerStatus(status).ok()) return "";
    if (status.copy_progress > 100) return "accepted progress over 100";
    return status.generation.counter > kMaxCounterValue ? "accepted a wrapping generation" : "";
  });
}

TEST_CASE("fuzz: control requests and the reply", "[fuzz]") {
  fuzz::Fuzz("pair-create-request",
             {EncodeBody(PairCreateRequest{"vm1", "sync", "vm2", "never", "g"}),
              EncodeBody(PairCreateRequest{"v"})},
             [](const std::string& input) -> std::string {
               PairCreateRequest request;
               (void)DecodeBody(input, &request);
               (void)CheckTextField("group", request.group, kMaxGroupNameBytes);
               return "";
             });
  Reply reply;
  reply.message = "note";
  reply.volumes.resize(2);
  reply.volumes[0].name = "vm1";
  reply.mismatches = {0, 4096};
  reply.more = true;
  fuzz::Fuzz("reply", {EncodeBody(reply), EncodeBody(Reply{})},
             [](const std::string& input) -> std::string {
               Reply decoded;
               if (!DecodeBody(input, &decoded).ok()) return "";
               (void)decoded.ToStatus();
               return "";
             });
  fuzz::Fuzz("display-request", {EncodeBody(DisplayRequest{"vm1", "a"})},
             [](const std::string& input) -> std::string {
               DisplayRequest request;
               (void)DecodeBody(input, &request);
               return "";
             });
}
