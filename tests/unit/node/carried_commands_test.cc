// pairctl --site through two nodes without sockets (node/control_carry.cc,
// node/carried_commands.cc): site a's control dispatch carries a request to site b's replicator,
// which runs it with b's own checks and answers unchanged; what may not be carried is refused at
// both ends, and b refuses and counts a hostile carry from its peer, then still answers.
#include <catch2/catch.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "node/control_server.h"
#include "node/replicator.h"
#include "node/store.h"
#include "tests/unit/frames.h"
#include "tests/unit/temp_dir.h"
#include "wire/envelope.h"
#include "wire/limits.h"
#include "wire/peer_messages.h"

using namespace pairfs;
using namespace pairfs::node;

namespace {

// Hands each frame to the other site's replicator on a thread of its own, as a link would; it
// keeps the answers to `a_asked_directly` ids, which the test sends as if from a's node.
class LoopbackTransport : public PeerTransport {
 public:
  LoopbackTransport() : thread_([this] { Deliver(); }) {}
  ~LoopbackTransport() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_one();
    thread_.join();
  }
  void Connect(Replicator* to) { to_ = to; }
  Status Send(std::string frame_bytes) override {
    std::lock_guard<std::mutex> lock(mutex_);
    frames_.push_back(std::move(frame_bytes));
    ready_.notify_one();
    return Status::Ok();
  }

 private:
  void Deliver() {
    for (;;) {
      std::string bytes;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [&] { return stopping_ || !frames_.empty(); });
        if (stopping_) return;
        bytes = std::move(frames_.front());
        frames_.pop_front();
      }
      Result<wire::Frame> frame = wire::DecodeFrame(bytes);
      if (frame.ok() && to_ != nullptr) to_->OnFrame(std::move(frame.value()));
    }
  }

  Replicator* to_ = nullptr;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::string> frames_;
  bool stopping_ = false;
  std::thread thread_;
};

// One site's node: a store with volume `volume`, a replicator whose peer is `peer`, and the
// control dispatch serving the peer's carried requests as site.cc wires it.
struct Node {
  testing::TempDir dir;
  LoopbackTransport transport;
  std::unique_ptr<VolumeStore> store;
  std::unique_ptr<Replicator> replicator;
  std::unique_ptr<ControlServer> control;

  Node(const std::string& site, const std::string& peer, const std::string& volume,
       int carry_timeout_ms = wire::kCarryTimeoutMs) {
    store = std::move(VolumeStore::Open(dir.path()).value());
    REQUIRE(store->Create(volume, 1 << 20).ok());
    ReplicatorOptions options;
    options.site = site;
    options.peer_site = peer;
    options.peer_timeout_ms = 500;
    options.carry_timeout_ms = carry_timeout_ms;
    replicator = std::make_unique<Replicator>(*store, options, &transport);
    control = std::make_unique<ControlServer>(*store, site, replicator.get());
    replicator->ServeCarriedWith([control = control.get()](const wire::Frame& request) {
      return control->HandleCarried(request);
    });
  }
  ~Node() { replicator->Stop(); }
};

template <class T>
wire::Frame CarryFrame(const std::string& site, const T& request,
                       wire::MessageType type = T::kType) {
  const std::string body = wire::EncodeBody(request);
  return testing::FrameOf(wire::CarryRequest{site, static_cast<uint16_t>(type),
                                             std::vector<char>(body.begin(), body.end())},
                          "a");
}

// Sites a (volume va) and b (volume vb), linked.
struct TwoSites {
  Node a{"a", "b", "va"};
  Node b{"b", "a", "vb"};
  TwoSites() {
    a.transport.Connect(b.replicator.get());
    b.transport.Connect(a.replicator.get());
    REQUIRE(a.replicator->Start().ok());
    REQUIRE(b.replicator->Start().ok());
  }
};

}  // namespace

TEST_CASE("a display carried to the peer shows the peer's volumes; this site's name runs here") {
  TwoSites sites;
  wire::Reply there = sites.a.control->Handle(CarryFrame("b", wire::DisplayRequest{}));
  REQUIRE(there.ToStatus().ok());
  REQUIRE(there.volumes.size() == 1);
  CHECK(there.volumes[0].name == "vb");
  wire::Reply here = sites.a.control->Handle(CarryFrame("a", wire::DisplayRequest{}));
  REQUIRE(here.volumes.size() == 1);
  CHECK(here.volumes[0].name == "va");
  // The peer's own checks answer, unchanged: b has no volume va.
  wire::Reply missing = sites.a.control->Handle(CarryFrame("b", wire::DisplayRequest{"va"}));
  CHECK(missing.ToStatus().code() == Code::kNotFound);
  CHECK_THAT(missing.message, Catch::Contains("no volume named va"));
  // A volume created through the carry is b's.
  REQUIRE(sites.a.control->Handle(CarryFrame("b", wire::VolumeCreateRequest{"made", 1 << 20}))
              .ToStatus()
              .ok());
  CHECK(sites.b.store->Find("made") != nullptr);
  CHECK(sites.a.store->Find("made") == nullptr);
}

TEST_CASE(
    "a carry to a site that is not the peer is NotFound; a node without a peer carries none") {
  TwoSites sites;
  wire::Reply reply = sites.a.control->Handle(CarryFrame("c", wire::DisplayRequest{}));
  CHECK(reply.ToStatus().code() == Code::kNotFound);
  CHECK_THAT(reply.message, Catch::Contains("site c is not the peer"));

  testing::TempDir dir;
  auto store = std::move(VolumeStore::Open(dir.path()).value());
  ControlServer alone(*store, "a", nullptr);
  CHECK(alone.Handle(CarryFrame("b", wire::DisplayRequest{})).ToStatus().code() == Code::kNotFound);
}

TEST_CASE("a carry, fence or cluster command is refused at the sending node") {
  TwoSites sites;
  const wire::Frame nested = CarryFrame("a", wire::DisplayRequest{});
  wire::Frame carry_in_carry = nested;
  carry_in_carry.body = wire::EncodeBody(
      wire::CarryRequest{"b", static_cast<uint16_t>(wire::MessageType::kCarry),
                         std::vector<char>(nested.body.begin(), nested.body.end())});
  CHECK(sites.a.control->Handle(carry_in_carry).ToStatus().code() == Code::kInvalidArgument);
  CHECK(sites.a.control->Handle(CarryFrame("b", wire::FenceRequest{"vb"})).ToStatus().code() ==
        Code::kInvalidArgument);
  CHECK(sites.a.control->Handle(CarryFrame("b", wire::ClusterUnfenceRequest{"a"}))
            .ToStatus()
            .code() == Code::kInvalidArgument);
  CHECK(sites.a.control->Handle(CarryFrame("b", wire::TakeoverRequest{"vb", false, true, true}))
            .ToStatus()
            .code() == Code::kInvalidArgument);
  wire::Frame oversized = CarryFrame("b", wire::DisplayRequest{});
  oversized.body.assign(wire::kMaxCarryRequestBytes + 1, '\x90');
  CHECK(sites.a.control->Handle(oversized).ToStatus().code() == Code::kInvalidArgument);
  CHECK(sites.b.replicator->peer_refusals() == 0);  // none of them left site a
}

TEST_CASE("a hostile carry from the peer is refused and counted; the node answers after") {
  TwoSites sites;
  // Sent as a's node would, straight to b's replicator; the answers go back to a's calls.
  auto deliver = [&](uint64_t id, const std::string& body) {
    sites.b.replicator->OnFrame(
        testing::DeliveredFrame(wire::MessageType::kPeerCarry, id, "a", body));
  };
  const std::string display = wire::EncodeBody(wire::DisplayRequest{});
  const std::string nested =
      wire::EncodeBody(wire::CarryRequest{"a", static_cast<uint16_t>(wire::MessageType::kDisplay),
                                          std::vector<char>(display.begin(), display.end())});
  deliver(101, wire::EncodeBody(
                   wire::PeerCarryCommand{static_cast<uint16_t>(wire::MessageType::kCarry),
                                          std::vector<char>(nested.begin(), nested.end())}));
  deliver(102, wire::EncodeBody(
                   wire::PeerCarryCommand{static_cast<uint16_t>(wire::MessageType::kFence),
                                          std::vector<char>(display.begin(), display.end())}));
  deliver(103, std::string(wire::kMaxCarryRequestBytes + 1, '\x90'));
  deliver(104, "\xc1 not msgpack");
  for (int i = 0; i < 500 && sites.b.replicator->peer_refusals() < 4; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(sites.b.replicator->peer_refusals() == 4);
  CHECK(sites.b.store->List().size() == 1);
  // b's dispatch refuses a fence handed to it as carried, whoever calls it.
  const wire::Frame fence = testing::FrameOf(wire::FenceRequest{"vb"}, "a");
  CHECK(sites.b.control->HandleCarried(fence).ToStatus().code() == Code::kInvalidArgument);
  // And b still answers a good one.
  wire::Reply there = sites.a.control->Handle(CarryFrame("b", wire::DisplayRequest{"vb"}));
  CHECK(there.ToStatus().ok());
}

TEST_CASE("a carry to a peer that does not answer is Unreachable") {
  Node a{"a", "b", "va", 300};  // its transport leads nowhere
  REQUIRE(a.replicator->Start().ok());
  wire::Reply reply = a.control->Handle(CarryFrame("b", wire::DisplayRequest{}));
  CHECK(reply.ToStatus().code() == Code::kUnreachable);
  CHECK_THAT(reply.message, Catch::Contains("carried to site b"));
}
