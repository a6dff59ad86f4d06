// Commands carried to the far site (pairctl --site; wire/peer_messages.h "carried commands"):
// which requests may travel, their limits, the checks of the reply that comes back, and the
// bytes of CarryRequest and PeerCarryCommand.
#include <catch2/catch.hpp>

#include "wire/limits.h"
#include "wire/peer_messages.h"

using namespace pairfs;
using namespace pairfs::wire;

namespace {

uint16_t TypeNumber(MessageType type) { return static_cast<uint16_t>(type); }

template <class T>
std::vector<char> BodyOf(const T& request) {
  const std::string bytes = EncodeBody(request);
  return {bytes.begin(), bytes.end()};
}

Reply DisplayReply() {
  Reply reply;
  VolumeInfo row;
  row.name = "vm1";
  row.role = "primary";
  row.status = "PAIR";
  row.peer_site = "b";
  row.group = "app";
  reply.volumes.push_back(row);
  return reply;
}

}  // namespace

TEST_CASE("the volume and pair commands may be carried; carry, fence and clusterd's may not") {
  for (MessageType type :
       {MessageType::kVolumeCreate, MessageType::kVolumeDelete, MessageType::kVolumeList,
        MessageType::kVolumeResize, MessageType::kDisplay, MessageType::kReserve,
        MessageType::kRelease, MessageType::kPairCreate, MessageType::kSplit, MessageType::kResync,
        MessageType::kTakeover, MessageType::kDissolve, MessageType::kVerify}) {
    INFO(MessageTypeName(type));
    CHECK(CheckCarriable(TypeNumber(type)).ok());
  }
  for (MessageType type :
       {MessageType::kCarry, MessageType::kFence, MessageType::kClusterStatus,
        MessageType::kClusterUnfence, MessageType::kReply, MessageType::kPeerCarry,
        MessageType::kReplicaWrite, MessageType::kPeerSplit}) {
    INFO(MessageTypeName(type));
    const Status refused = CheckCarriable(TypeNumber(type));
    CHECK(refused.code() == Code::kInvalidArgument);
    CHECK_THAT(refused.message(), Catch::Contains("cannot be carried"));
  }
  CHECK(CheckCarriable(0).code() == Code::kInvalidArgument);
  CHECK(CheckCarriable(65535).code() == Code::kInvalidArgument);
}

TEST_CASE("a carried body over its limit is refused, and so is a carry frame before decoding") {
  std::vector<char> body(kMaxCarriedBodyBytes, 'x');
  CHECK(CheckCarriedRequest(TypeNumber(MessageType::kDisplay), body).ok());
  body.push_back('x');
  CHECK(CheckCarriedRequest(TypeNumber(MessageType::kDisplay), body).code() ==
        Code::kInvalidArgument);
  CHECK(CheckCarrySize(kMaxCarryRequestBytes).ok());
  CHECK(CheckCarrySize(kMaxCarryRequestBytes + 1).code() == Code::kInvalidArgument);
}

TEST_CASE("a carried takeover or reserve may not speak as clusterd") {
  const uint16_t takeover = TypeNumber(MessageType::kTakeover);
  CHECK(CheckCarriedRequest(takeover, BodyOf(TakeoverRequest{"vm1", true})).ok());
  CHECK(CheckCarriedRequest(takeover, BodyOf(TakeoverRequest{"vm1", false, true})).code() ==
        Code::kInvalidArgument);
  CHECK(CheckCarriedRequest(takeover, BodyOf(TakeoverRequest{"vm1", false, false, true})).code() ==
        Code::kInvalidArgument);
  CHECK(CheckCarriedRequest(takeover, {'\xc1'}).code() == Code::kInvalidArgument);
  const uint16_t reserve = TypeNumber(MessageType::kReserve);
  CHECK(CheckCarriedRequest(reserve, BodyOf(ReserveRequest{"vm1", "b"})).ok());
  CHECK(CheckCarriedRequest(reserve, BodyOf(ReserveRequest{"vm1", "b", true})).code() ==
        Code::kInvalidArgument);
  // ops (issue 15): a forced release is clusterd's cluster takeover only.
  const uint16_t release = TypeNumber(MessageType::kRelease);
  CHECK(CheckCarriedRequest(release, BodyOf(ReleaseRequest{"quorum", "a"})).ok());
  const Status forced = CheckCarriedRequest(release, BodyOf(ReleaseRequest{"quorum", "a", true}));
  CHECK(forced.code() == Code::kInvalidArgument);
  CHECK_THAT(forced.message(), Catch::Contains("forced release"));
}

TEST_CASE("a carry request names a site or none, and carries only what may be carried") {
  const std::vector<char> display = BodyOf(DisplayRequest{"vm1"});
  CHECK(CheckCarryRequest({"b", TypeNumber(MessageType::kDisplay), display}).ok());
  CHECK(CheckCarryRequest({"", TypeNumber(MessageType::kDisplay), display}).ok());
  CHECK(CheckCarryRequest({"b/../c", TypeNumber(MessageType::kDisplay), display}).code() ==
        Code::kInvalidArgument);
  CHECK(CheckCarryRequest(
            {std::string(kMaxSiteNameBytes + 1, 's'), TypeNumber(MessageType::kDisplay), display})
            .code() == Code::kInvalidArgument);
  // A carry inside a carry: the far node would carry it on.
  const std::vector<char> nested =
      BodyOf(CarryRequest{"a", TypeNumber(MessageType::kDisplay), display});
  CHECK(CheckCarryRequest({"b", TypeNumber(MessageType::kCarry), nested}).code() ==
        Code::kInvalidArgument);
  CHECK(CheckCarryRequest({"b", TypeNumber(MessageType::kFence), BodyOf(FenceRequest{"vm1"})})
            .code() == Code::kInvalidArgument);
}

TEST_CASE("a carry request and a peer carry command round-trip, within their frame limits") {
  // The largest of each: the largest body and the longest site name fit kMaxCarryRequestBytes.
  const CarryRequest largest{std::string(kMaxSiteNameBytes, 's'),
                             TypeNumber(MessageType::kPairCreate),
                             std::vector<char>(kMaxCarriedBodyBytes, '\xff')};
  const std::string encoded = EncodeBody(largest);
  CHECK(encoded.size() <= kMaxCarryRequestBytes);
  CarryRequest decoded;
  REQUIRE(DecodeBody(encoded, &decoded).ok());
  CHECK(decoded.site == largest.site);
  CHECK(decoded.type == largest.type);
  CHECK(decoded.body == largest.body);

  const PeerCarryCommand command{TypeNumber(MessageType::kDisplay), BodyOf(DisplayRequest{"vm1"})};
  const std::string command_bytes = EncodeBody(command);
  CHECK(EncodeBody(PeerCarryCommand{largest.type, largest.body}).size() <= kMaxCarryRequestBytes);
  PeerCarryCommand received;
  REQUIRE(DecodePeerMessage(command_bytes, &received).ok());
  CHECK(received.type == command.type);
  CHECK(received.body == command.body);
  DisplayRequest inner;
  REQUIRE(DecodeBody(std::string_view(received.body.data(), received.body.size()), &inner).ok());
  CHECK(inner.name == "vm1");
}

TEST_CASE("a peer carry command of a carry, a fence or a cluster command fails decoding") {
  for (MessageType type :
       {MessageType::kCarry, MessageType::kFence, MessageType::kClusterUnfence}) {
    INFO(MessageTypeName(type));
    PeerCarryCommand received;
    CHECK(DecodePeerMessage(EncodeBody(PeerCarryCommand{TypeNumber(type), {}}), &received).code() ==
          Code::kInvalidArgument);
  }
  PeerCarryCommand received;
  CHECK(DecodePeerMessage("\x92\x01\x02", &received).code() == Code::kCorruption);
}

TEST_CASE("a carried reply is checked before it is passed on") {
  CHECK(CheckCarriedReply(DisplayReply()).ok());
  CHECK(CheckCarriedReply(Reply::FromStatus(Status::NotFound("no volume named x"))).ok());

  Reply reply = DisplayReply();
  reply.code = 200;
  CHECK(CheckCarriedReply(reply).code() == Code::kInvalidArgument);
  reply = DisplayReply();
  reply.message.assign(kMaxReasonBytes + 1, 'm');
  CHECK(CheckCarriedReply(reply).code() == Code::kInvalidArgument);
  reply = DisplayReply();
  reply.volumes.resize(kDisplayPageVolumes + 1, reply.volumes[0]);
  CHECK(CheckCarriedReply(reply).code() == Code::kInvalidArgument);
  reply = DisplayReply();
  reply.volumes[0].name = "../etc";
  CHECK(CheckCarriedReply(reply).code() == Code::kInvalidArgument);
  reply = DisplayReply();
  reply.volumes[0].status.assign(kMaxKeywordBytes + 1, 'P');
  CHECK(CheckCarriedReply(reply).code() == Code::kInvalidArgument);
  reply = DisplayReply();
  reply.volumes[0].group.assign(kMaxGroupNameBytes + 1, 'g');
  CHECK(CheckCarriedReply(reply).code() == Code::kInvalidArgument);

  Reply group = DisplayReply();
  group.outcomes.push_back({"vm1", 0, "split"});
  CHECK(CheckCarriedReply(group).ok());
  group.outcomes.push_back({"../x", 0, ""});
  CHECK(CheckCarriedReply(group).code() == Code::kInvalidArgument);
  group.outcomes.assign(kMaxGroupPairs + 1, {"vm1", 0, ""});
  CHECK(CheckCarriedReply(group).code() == Code::kInvalidArgument);

  Reply verified;
  verified.mismatches = {0, 4096, 65536, 4096};
  CHECK(CheckCarriedReply(verified).ok());
  verified.mismatches.push_back(1);
  CHECK(CheckCarriedReply(verified).code() == Code::kInvalidArgument);
  verified.mismatches.assign(2 * kMaxVerifyRegionsPerCall + 2, 0);
  CHECK(CheckCarriedReply(verified).code() == Code::kInvalidArgument);
}
