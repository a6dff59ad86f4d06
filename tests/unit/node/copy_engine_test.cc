// The copy engine's binding (node/copy_engine.h): a primary restarted with regions marked resumes
// its copy; when the peer has taken over meanwhile, the copy stops at once (its chunks' calls
// cancelled, not waited out), frees its ranges and leaves its regions marked for the resync.
// Site a's replicator runs for real over a transport that keeps its frames; the test plays site b
// by hand. Calls time out after a minute: a copy that waits its chunks out fails the test at its
// 10 s hang deadline, never by timing.
#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include "node/copy_engine.h"
#include "node/metadata.h"
#include "node/region_set.h"
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

constexpr uint64_t kCopyTestVolumeBytes = 16 << 20;  // 16 chunks of the copy
constexpr uint64_t kCopyTestRegionBytes = 64 << 10;
constexpr int kCopyTestCallMs = 60000;  // no call ends by itself during a test

// Polls `done` every 10 ms for up to 10 s (a deadline against hangs only).
template <class Predicate>
bool CopyTestWaitFor(Predicate done) {
  for (int i = 0; i < 1000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// Site a: vm1 the primary of b's vm1 in PAIR at 1/a, every region marked (it stopped with writes
// in its activity log), so that its start resumes a copy of them all to b.
struct CopyTestSite {
  testing::TempDir dir;
  testing::CapturingTransport transport;
  std::unique_ptr<VolumeStore> store;
  std::unique_ptr<Replicator> replicator;

  CopyTestSite() {
    {
      auto first = std::move(VolumeStore::Open(dir.path()).value());
      std::shared_ptr<Volume> volume = first->Create("vm1", kCopyTestVolumeBytes).value();
      VolumeMetadata metadata = volume->metadata();
      metadata.role = "primary";
      metadata.status = "PAIR";
      metadata.pair_mode = "sync";
      metadata.fence = "never";
      metadata.peer_site = "b";
      metadata.peer_volume = "vm1";
      metadata.generation = 1;
      metadata.generation_site = "a";
      metadata.region_size_bytes = kCopyTestRegionBytes;
      REQUIRE(SaveMetadata(dir.path() + "/volumes/vm1.meta", metadata).ok());
      REQUIRE(RegionSet::Create(volume->SidecarPath("regions"), kCopyTestVolumeBytes,
                                kCopyTestRegionBytes, true)
                  .ok());
    }
    store = std::move(VolumeStore::Open(dir.path()).value());
    ReplicatorOptions options;
    options.site = "a";
    options.peer_site = "b";
    options.peer_timeout_ms = kCopyTestCallMs;
    options.retransmit_ms = kCopyTestCallMs;
    options.region_size_bytes = kCopyTestRegionBytes;
    replicator = std::make_unique<Replicator>(*store, options, &transport);
    REQUIRE(replicator->Start().ok());
  }
  ~CopyTestSite() { replicator->Stop(); }

  Volume& volume() { return *store->Find("vm1"); }
  // The copy's first chunks are in flight (its window is full) and none is answered.
  void CopyInFlight() {
    REQUIRE(
        CopyTestWaitFor([&] { return transport.ReplicaWrites().size() >= kCopyChunksInFlight; }));
  }
  // Delivers b's `command` (id `id`) and returns a's answer, checked.
  template <class T>
  wire::PeerAnswerMessage Ask(const T& command, uint64_t id) {
    replicator->OnFrame(testing::DeliveredFrame(T::kType, id, "b", wire::EncodeBody(command)));
    std::optional<wire::Frame> frame = transport.AnswerTo(id, wire::MessageType::kPeerAnswer);
    REQUIRE(frame.has_value());
    wire::PeerAnswerMessage answer;
    REQUIRE(wire::DecodePeerMessage(frame->body, &answer).ok());
    return answer;
  }
  // The regions a's dirty bitmap marks, as b's resync reads them at `generation`.
  std::vector<uint64_t> MarkedAt(const wire::Generation& generation, uint64_t id) {
    const uint64_t regions = kCopyTestVolumeBytes / kCopyTestRegionBytes;
    wire::PeerAnswerMessage answer =
        Ask(wire::PeerBitmapCommand{"vm1", generation, 0, regions}, id);
    REQUIRE(answer.code == 0);
    return replicator_internal::UnpackBitsChunk(answer.bits, 0, regions);
  }
  // Every region of the volume, as a dirty bitmap lists them.
  static std::vector<uint64_t> AllRegions() {
    std::vector<uint64_t> all;
    for (uint64_t region = 0; region < kCopyTestVolumeBytes / kCopyTestRegionBytes; ++region)
      all.push_back(region);
    return all;
  }
  // No range of the volume is held (the copy released its chunks').
  bool RangesFree() { return volume().exclusive().TryAcquire(0, kCopyTestVolumeBytes).held(); }
};

}  // namespace

TEST_CASE("a copy is bound to the primary's replicating state at its generation", "[copy_engine]") {
  using replicator_internal::CopyStillCurrent;
  const wire::Generation started{1, "a"};
  PairState primary{PairRole::kPrimary, PairStatus::kPAIR};
  CHECK(CopyStillCurrent(started, primary, started));
  primary.status = PairStatus::kCOPY;
  CHECK(CopyStillCurrent(started, primary, started));
  CHECK_FALSE(CopyStillCurrent(started, primary, {2, "b"}));  // taken over, swapped
  PairState outdated = primary;
  outdated.status = PairStatus::kPSUE;
  outdated.outdated = true;
  CHECK_FALSE(CopyStillCurrent(started, outdated, started));  // the peer showed it newer
  PairState suspended = primary;
  suspended.status = PairStatus::kPSUS;
  CHECK_FALSE(CopyStillCurrent(started, suspended, started));  // split
  CHECK_FALSE(CopyStillCurrent(started, {PairRole::kSecondary, PairStatus::kCOPY}, started));
}

TEST_CASE(
    "copy refused by a newer peer: a restarted primary's copy stops at once, outdated, with its "
    "ranges free and its regions still marked",
    "[copy_engine]") {
  CopyTestSite a;
  a.CopyInFlight();
  // b took over (2/b): it refuses the first chunk and tells a its generation. The other chunks
  // would be refused too; a waits for none of them.
  const uint64_t first = a.transport.ReplicaWrites().front();
  wire::WriteReplyMessage refused{"vm1", {2, "b"}, 0, static_cast<uint8_t>(Code::kReadOnly)};
  a.replicator->OnFrame(
      testing::DeliveredFrame(wire::MessageType::kWriteAck, first, "b", wire::EncodeBody(refused)));
  CHECK(CopyTestWaitFor([&] {
    const VolumeMetadata metadata = a.volume().metadata();
    return metadata.status == "PSUE" && metadata.outdated;
  }));
  CHECK(CopyTestWaitFor([&] { return a.RangesFree(); }));
  CHECK(a.transport.ReplicaWrites().size() == kCopyChunksInFlight);  // nothing sent after it
  CHECK(a.MarkedAt({1, "a"}, 901) == CopyTestSite::AllRegions());
}

TEST_CASE(
    "copy outlived by a takeover: a restarted primary whose copy runs learns that the peer took "
    "over and stops it at once, its ranges free for the resync --swap, its regions still marked",
    "[copy_engine]") {
  CopyTestSite a;
  a.CopyInFlight();
  // b took over (2/b) and now resyncs --swap (3/b), as tests/integration/cluster_witness.sh:
  // a becomes the target while its own copy's chunks are unanswered.
  wire::PeerResyncCommand resync;
  resync.volume = "vm1";
  resync.generation = {3, "b"};
  resync.swap = true;
  wire::PeerAnswerMessage answer = a.Ask(resync, 911);
  INFO(answer.message);
  REQUIRE(answer.code == 0);
  CHECK(a.volume().metadata().role == "secondary");
  // The copy let go of its chunks' ranges: b's copy writes a's first chunk now.
  CHECK(CopyTestWaitFor([&] { return a.RangesFree(); }));
  // b's resync reads a's bitmap: a's regions are still marked (a wrote them before it
  // restarted), so b copies them over a's.
  CHECK(a.MarkedAt({3, "b"}, 912) == CopyTestSite::AllRegions());
  wire::WriteMessage write;
  write.volume = "vm1";
  write.generation = {3, "b"};
  write.sequence = 1;
  write.origin_site = "b";
  write.offset = 0;
  write.length = 4096;
  write.data.assign(4096, 'b');
  std::thread peer([&] {  // a small write is served on the calling thread
    a.replicator->OnFrame(testing::DeliveredFrame(wire::MessageType::kReplicaWrite, 913, "b",
                                                  wire::EncodeBody(write)));
  });
  // Without an answer within the deadline the stale copy still holds the range (the write is
  // served once the copy's call times out).
  std::optional<wire::Frame> ack = a.transport.AnswerTo(913, wire::MessageType::kWriteAck);
  peer.join();
  REQUIRE(ack.has_value());
  wire::WriteReplyMessage reply;
  REQUIRE(wire::DecodeBody(ack->body, &reply).ok());
  CHECK(reply.code == 0);
  CHECK(a.transport.ReplicaWrites().size() == kCopyChunksInFlight);  // nothing sent after it
}

TEST_CASE(
    "a resync stops the running copy only if it is still allowed once it holds the gate: a "
    "second resync at once leaves the first one's copy running",
    "[copy_engine]") {
  using replicator_internal::StopCopyFor;
  Replicator::Pair pair;
  PeerCalls calls(1);
  pair.copy_scope = calls.OpenScope();
  const uint64_t chunk = calls.Begin();  // a chunk of the running copy, not answered yet
  REQUIRE(calls.Join(chunk, pair.copy_scope));
  PairContext context;
  context.peer_status = PairStatus::kSSUS;  // as both resyncs found the peer before the gate

  // The first resync made the pair COPY and started its copy while the second waited.
  pair.state = {PairRole::kPrimary, PairStatus::kCOPY};
  const Status refused = StopCopyFor(pair, calls, PairEvent::kResync, context);
  CHECK(refused.code() == Code::kInvalidArgument);
  CHECK_FALSE(pair.stop_copy.load());
  CHECK(calls.Deliver(testing::DeliveredFrame(wire::MessageType::kWriteAck, chunk, "b", "")));

  // A resync still allowed (the pair suspended) stops the copy: its chunks' waits end now.
  const uint64_t later = calls.Begin();
  REQUIRE(calls.Join(later, pair.copy_scope));
  pair.state = {PairRole::kPrimary, PairStatus::kPSUS};
  CHECK(StopCopyFor(pair, calls, PairEvent::kResync, context).ok());
  CHECK(pair.stop_copy.load());
  CHECK_FALSE(calls.Deliver(testing::DeliveredFrame(wire::MessageType::kWriteAck, later, "b", "")));
}
