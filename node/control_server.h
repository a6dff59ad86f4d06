// The node's control endpoint: pairctl and clusterd send requests here (wire/protocol.md).
//
// Handle() is the dispatch, callable from any thread and from tests without a socket. Start()
// binds the endpoint and runs one thread that owns the socket; Stop() joins it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "node/replicator.h"
#include "node/store.h"
#include "wire/link.h"
#include "wire/messages.h"

namespace pairfs::node {

// The row `display` and `volume list` show for `volume` (pair columns from `replicator`, if any).
wire::VolumeInfo DescribeVolume(Volume& volume, Replicator* replicator);

class ControlServer {
 public:
  // `replicator` may be null (a node without a peer): pair commands are then refused.
  // `link_authenticated`: the peer link runs CURVE; `display` shows it for every pair.
  ControlServer(VolumeStore& store, std::string site_name, Replicator* replicator,
                bool link_authenticated = false);
  ~ControlServer();

  // Binds `endpoint` and starts serving. IoError naming the endpoint if it cannot be bound.
  Status Start(wire::Context& context, const std::string& endpoint);

  // Stops serving (within kControlPollMs) and joins the thread. Idempotent.
  void Stop();

  // Answers one request. Malformed bodies and unknown types get a reply with a reason, never an
  // exception. A kCarry is answered here too (waiting for the peer's node): Serve() hands carries
  // to the carrier threads instead, so that the endpoint keeps answering meanwhile.
  wire::Reply Handle(const wire::Frame& request);

  // Answers a request the peer's operator sent through the peer's node (pairctl --site; the
  // replicator's kPeerCarry): refused unless wire::CheckCarriedRequest passes (never a carry, a
  // fence, a cluster command or a clusterd-only field), else Handle() with this node's own checks.
  wire::Reply HandleCarried(const wire::Frame& request);

 private:
  void Serve();

  // One handler per group of requests: Ok with `reply` filled in, or the refusal to answer with.
  Status HandleVolumeCreate(const wire::Frame& frame, wire::Reply* reply);
  Status HandleVolumeDelete(const wire::Frame& frame);
  Status HandleVolumeResize(const wire::Frame& frame, wire::Reply* reply);
  Status HandleDisplay(const wire::Frame& frame, wire::Reply* reply);  // display and volume list
  Status HandleReservation(const wire::Frame& frame, wire::Reply* reply);  // reserve and release
  Status HandlePair(const wire::Frame& frame, wire::Reply* reply);
  // ---- pairctl --site SITE (node/control_carry.cc) ----
  // Runs the carried request here when SITE is this site (or empty), has the replicator carry it
  // to the peer's node when SITE is the peer (Unreachable after wire::kCarryTimeoutMs), refuses
  // any other site (NotFound) and any request CheckCarryRequest refuses (InvalidArgument).
  wire::Reply HandleCarry(const wire::Frame& frame);
  // Queues a kCarry for the carrier threads; Busy when kCarriesQueued wait already.
  Status QueueCarry(wire::Incoming request);
  // Sends the answers of the carries finished since the last call (control thread only).
  void SendCarryAnswers();
  bool CarriesPending();
  void StartCarriers();
  void StopCarriers();  // joins the carriers; a carry in flight ends within kCarryTimeoutMs
  void Carrier();       // one carrier thread: HandleCarry for each queued request

  struct CarryAnswer {
    wire::Incoming request;
    wire::Reply reply;
  };
  // split, resync, takeover and display with --group G (node/control_groups.cc): the whole reply
  // (a group command's outcomes travel with its failure), or nullopt for a request without a group.
  std::optional<wire::Reply> HandleGroup(const wire::Frame& frame);
  wire::Reply DisplayGroup(const std::string& group);

  VolumeStore& store_;
  const std::string site_name_;
  Replicator* const replicator_;
  const bool link_authenticated_;
  std::unique_ptr<wire::Server> server_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;

  std::mutex carries_mutex_;  // guards the four below
  std::condition_variable carry_ready_;
  std::deque<wire::Incoming> carries_queued_;
  std::vector<CarryAnswer> carries_answered_;
  size_t carries_pending_ = 0;  // queued, running or answered but not yet sent
  bool carriers_stopping_ = false;
  std::vector<std::thread> carriers_;
};

}  // namespace pairfs::node
