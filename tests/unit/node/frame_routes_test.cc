// Where a frame from the peer is handled (node/frame_routes.h), type by type.
#include "node/frame_routes.h"

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "node/limits.h"
#include "tests/unit/frames.h"
#include "wire/messages.h"

namespace pairfs::node {
namespace {

using wire::MessageType;

wire::Frame FrameOf(MessageType type, std::string body = "") {
  return testing::RawFrame(type, std::move(body), "b");
}

std::string FlushBody(uint64_t through_sequence) {
  return wire::EncodeBody(wire::FlushMessage{"vm1", {3, "a"}, through_sequence, 0});
}

TEST_CASE("answers to this site's calls go to their waiters; confirmations to the grant's",
          "[routes]") {
  for (MessageType type :
       {MessageType::kWriteAck, MessageType::kWriteGrant, MessageType::kFlushAck,
        MessageType::kReply, MessageType::kPeerAnswer, MessageType::kJournalAck}) {
    INFO(wire::MessageTypeName(type));
    CHECK(RouteOf(FrameOf(type)) == FrameRoute::kAnswer);
  }
  CHECK(RouteOf(FrameOf(MessageType::kWriteConfirm)) == FrameRoute::kConfirm);
}

TEST_CASE(
    "a replica write up to the inline limit is served on the link thread, a longer one by "
    "a worker",
    "[routes]") {
  CHECK(RouteOf(FrameOf(MessageType::kReplicaWrite, std::string(4096, 'x'))) ==
        FrameRoute::kInline);
  CHECK(RouteOf(FrameOf(MessageType::kReplicaWrite, std::string(kInlineReplicaWriteBytes, 'x'))) ==
        FrameRoute::kInline);
  CHECK(RouteOf(FrameOf(MessageType::kReplicaWrite,
                        std::string(kInlineReplicaWriteBytes + 1, 'x'))) == FrameRoute::kWorker);
}

TEST_CASE("a flush ahead is served on the link thread; a plain or undecodable flush by a worker",
          "[routes]") {
  CHECK(RouteOf(FrameOf(MessageType::kFlush, FlushBody(17))) == FrameRoute::kInline);
  CHECK(RouteOf(FrameOf(MessageType::kFlush, FlushBody(0))) == FrameRoute::kWorker);
  CHECK(RouteOf(FrameOf(MessageType::kFlush, "\xc1 not msgpack")) == FrameRoute::kWorker);
}

TEST_CASE("forwarded writes, statuses, journal batches and peer commands go to a worker",
          "[routes]") {
  const std::vector<MessageType> queued = {
      MessageType::kForwardedWrite,   MessageType::kPeerStatus,
      MessageType::kPeerCommand,      MessageType::kPeerCreate,
      MessageType::kPeerForwardSplit, MessageType::kPeerForwardResync,
      MessageType::kPeerReserveAsk,   MessageType::kPeerReserveMirror,
      MessageType::kPeerVote,         MessageType::kPeerStatusAsk,
      MessageType::kPeerVerify,       MessageType::kPeerSplit,
      MessageType::kPeerResync,       MessageType::kPeerDemote,
      MessageType::kPeerCopyDone,     MessageType::kPeerTrim,
      MessageType::kPeerDissolve,     MessageType::kPeerBitmap,
      MessageType::kJournalBatch,     MessageType::kPeerCarry};
  for (MessageType type : queued) {
    INFO(wire::MessageTypeName(type));
    CHECK(RouteOf(FrameOf(type)) == FrameRoute::kWorker);
  }
}

TEST_CASE("control, witness and retired types from the peer are refused", "[routes]") {
  for (MessageType type :
       {MessageType::kVolumeCreate, MessageType::kDisplay, MessageType::kCarry,
        MessageType::kClusterTakeover, MessageType::kHeartbeat, MessageType::kReserveVote,
        MessageType::kPeerReserve, static_cast<MessageType>(250)}) {
    INFO(static_cast<int>(type));
    CHECK(RouteOf(FrameOf(type)) == FrameRoute::kRefuse);
  }
}

}  // namespace
}  // namespace pairfs::node
