// The replicator's edge to the peer: hostile but well-formed messages are refused with an answer
// and counted, never acted on and never an abort (node/pair_commands.cc, node/replicator.cc).
#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <thread>

#include "node/metadata.h"
#include "node/replicator.h"
#include "node/replicator_internal.h"
#include "node/store.h"
#include "tests/unit/frames.h"
#include "tests/unit/node/capturing_transport.h"
#include "tests/unit/temp_dir.h"
#include "wire/envelope.h"

using namespace pairfs;
using namespace pairfs::node;

namespace {

// Site b with volume vm1 (1 MiB) as the secondary (`role`) of site a's vm1, in PAIR at 1/a.
struct Site {
  testing::TempDir dir;
  testing::CapturingTransport transport;
  std::unique_ptr<VolumeStore> store;
  std::unique_ptr<Replicator> replicator;

  // `workers`: threads serving the peer's frames (1: they are served in the order delivered).
  explicit Site(const std::string& role, int workers = 8) {
    {
      auto first = std::move(VolumeStore::Open(dir.path()).value());
      VolumeMetadata metadata = first->Create("vm1", 1 << 20).value()->metadata();
      metadata.role = role;
      metadata.status = "PAIR";
      metadata.pair_mode = "sync";
      metadata.fence = "never";
      metadata.peer_site = "a";
      metadata.peer_volume = "vm1";
      metadata.generation = 1;
      metadata.generation_site = "a";
      metadata.region_size_bytes = 4096;
      REQUIRE(SaveMetadata(dir.path() + "/volumes/vm1.meta", metadata).ok());
    }
    store = std::move(VolumeStore::Open(dir.path()).value());
    ReplicatorOptions options;
    options.site = "b";
    options.peer_site = "a";
    options.peer_timeout_ms = 200;
    options.region_size_bytes = 4096;
    options.workers = workers;
    replicator = std::make_unique<Replicator>(*store, options, &transport);
    REQUIRE(replicator->Start().ok());
  }
  ~Site() { replicator->Stop(); }

  // Sends `body` as a frame of `type` from site a; the code of the answer.
  uint8_t Deliver(wire::MessageType type, uint64_t id, const std::string& body) {
    replicator->OnFrame(testing::DeliveredFrame(type, id, "a", body));
    std::optional<wire::Frame> answer = transport.AnswerTo(id);
    REQUIRE(answer.has_value());
    if (answer->type == wire::MessageType::kPeerAnswer) {
      wire::PeerAnswerMessage decoded;
      REQUIRE(wire::DecodeBody(answer->body, &decoded).ok());
      return decoded.code;
    }
    wire::WriteReplyMessage reply;
    REQUIRE(wire::DecodeBody(answer->body, &reply).ok());
    return reply.code;
  }
};

wire::WriteMessage WriteOf(uint64_t offset, uint64_t length) {
  wire::WriteMessage write;
  write.volume = "vm1";
  write.generation = {1, "a"};
  write.sequence = 1;
  write.origin_site = "a";
  write.offset = offset;
  write.length = length;
  write.data.assign(length, 'x');
  return write;
}

constexpr uint8_t kInvalid = static_cast<uint8_t>(Code::kInvalidArgument);

}  // namespace

TEST_CASE("a replica write of length 0 at the pair's generation is refused, not an abort") {
  Site b("secondary");
  CHECK(b.Deliver(wire::MessageType::kReplicaWrite, 11, wire::EncodeBody(WriteOf(4096, 0))) ==
        kInvalid);
  CHECK(b.replicator->peer_refusals() == 1);
  // The pair still takes a good one.
  CHECK(b.Deliver(wire::MessageType::kReplicaWrite, 12, wire::EncodeBody(WriteOf(4096, 4096))) ==
        0);
}

TEST_CASE("a forwarded write of length 0 at the primary is refused, not an abort") {
  Site b("primary");
  CHECK(b.Deliver(wire::MessageType::kForwardedWrite, 21, wire::EncodeBody(WriteOf(0, 0))) ==
        kInvalid);
  CHECK(b.replicator->peer_refusals() == 1);
}

TEST_CASE("a pair create with a 1-byte region or a 70 KB group makes no volume") {
  Site b("secondary");
  wire::PeerCreateCommand create{"vm2", {1, "a"}, "vm2", 1 << 20, "sync", "never", "", 1};
  CHECK(b.Deliver(create.kType, 31, wire::EncodeBody(create)) == kInvalid);
  create.region_size_bytes = 65536;
  create.group = std::string(70 * 1024, 'g');
  CHECK(b.Deliver(create.kType, 32, wire::EncodeBody(create)) == kInvalid);
  CHECK(b.store->Find("vm2") == nullptr);
  CHECK(b.replicator->peer_refusals() == 2);
  // A create whose peer volume is already paired here is refused too.
  create.group = "g";
  create.peer_volume = "vm1";
  CHECK(b.Deliver(create.kType, 33, wire::EncodeBody(create)) == kInvalid);
  CHECK(b.store->Find("vm2") == nullptr);
}

TEST_CASE("a mirrored reservation near 2^64 or far ahead is refused; the epoch stays") {
  Site b("secondary");
  wire::PeerReserveMirrorCommand mirror{"vm1", {~0ull, "a", ""}};
  CHECK(b.Deliver(mirror.kType, 41, wire::EncodeBody(mirror)) == kInvalid);
  mirror.record.epoch = (uint64_t{1} << 40);
  CHECK(b.Deliver(mirror.kType, 42, wire::EncodeBody(mirror)) == kInvalid);
  CHECK(b.store->Find("vm1")->metadata().reserve_epoch == 0);
  mirror.record.epoch = 2;
  CHECK(b.Deliver(mirror.kType, 43, wire::EncodeBody(mirror)) == 0);
  CHECK(b.store->Find("vm1")->metadata().reserve_epoch == 2);
}

TEST_CASE("the retired one-for-all pair command is refused with an answer") {
  Site b("secondary");
  CHECK(b.Deliver(wire::MessageType::kPeerCommand, 51, std::string("\x80", 1)) ==
        static_cast<uint8_t>(Code::kUnsupported));
}

TEST_CASE("the peer's dirty bitmap is asked in chunks at the resync's generation") {
  Site b("secondary");
  wire::PeerBitmapCommand bitmap{"vm1", {1, "a"}, 0, 256};
  CHECK(b.Deliver(bitmap.kType, 61, wire::EncodeBody(bitmap)) == 0);
  bitmap.generation = {2, "a"};
  CHECK(b.Deliver(bitmap.kType, 62, wire::EncodeBody(bitmap)) == kInvalid);
  bitmap = {"vm1", {1, "a"}, 256, 1};  // past the volume's 256 regions
  CHECK(b.Deliver(bitmap.kType, 63, wire::EncodeBody(bitmap)) == kInvalid);
}

TEST_CASE("a dirty bitmap packed chunk by chunk unpacks to the same regions") {
  using namespace replicator_internal;
  const std::vector<uint64_t> marked = {0, 7, 8, 100, 2097151, 2097152, 2097159, 4194303};
  std::vector<uint64_t> merged;
  const uint64_t regions = 4194304, chunk = wire::kBitmapChunkRegions;
  for (uint64_t first = 0; first < regions; first += chunk) {
    const std::vector<char> bits = PackBitsChunk(marked, first, chunk);
    CHECK(bits.size() == wire::kBitmapChunkBytes);
    for (uint64_t region : UnpackBitsChunk(bits, first, chunk)) merged.push_back(region);
  }
  CHECK(merged == marked);
  // A last, partial chunk carries only its own regions.
  CHECK(UnpackBitsChunk(PackBitsChunk(marked, 4194300, 4), 4194300, 4) ==
        std::vector<uint64_t>{4194303});
}

TEST_CASE("a forced takeover with the peer lost counts on from the peer's last heard generation") {
  // Site a suspended alone under a short link cut (its generation went 1/a -> 5/a) and said so
  // in a status before it died; b's forced takeover must be newer than that, not 2/b, else the
  // old primary, restarted, meets an equal generation and is not outdated.
  Site b("secondary", /*workers=*/1);
  wire::PeerStatusMessage status;
  status.volume = "vm1";
  status.generation = {5, "a"};
  status.role = "primary";
  status.status = "PSUE";
  b.replicator->OnFrame(
      testing::DeliveredFrame(wire::MessageType::kPeerStatus, 31, "a", wire::EncodeBody(status)));
  // One worker: once a later ask is answered, the status before it was read.
  CHECK(b.Deliver(wire::MessageType::kPeerStatusAsk, 32,
                  wire::EncodeBody(wire::PeerStatusAskCommand{"vm1"})) == 0);
  std::string note;
  REQUIRE(
      b.replicator->Takeover("vm1", /*force=*/true, /*cluster=*/false, /*peer_lost=*/true, &note)
          .ok());
  Result<VolumeMetadata> saved = LoadMetadata(b.dir.path() + "/volumes/vm1.meta");
  REQUIRE(saved.ok());
  CHECK(saved->generation == 6);
  CHECK(saved->generation_site == "b");
}
