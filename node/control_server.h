// The node's control endpoint: pairctl and clusterd send requests here (wire/protocol.md).
//
// Handle() is the dispatch, callable from any thread and from tests without a socket. Start()
// binds the endpoint and runs one thread that owns the socket; Stop() joins it.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

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
  // exception.
  wire::Reply Handle(const wire::Frame& request);

 private:
  void Serve();

  // One handler per group of requests: Ok with `reply` filled in, or the refusal to answer with.
  Status HandleVolumeCreate(const wire::Frame& frame, wire::Reply* reply);
  Status HandleVolumeDelete(const wire::Frame& frame);
  Status HandleVolumeResize(const wire::Frame& frame, wire::Reply* reply);
  Status HandleDisplay(const wire::Frame& frame, wire::Reply* reply);  // display and volume list
  Status HandleReservation(const wire::Frame& frame, wire::Reply* reply);  // reserve and release
  Status HandlePair(const wire::Frame& frame, wire::Reply* reply);
  // pairctl --site SITE: runs the carried request here when SITE is this site (or empty), has the
  // replicator carry it to the peer's node when SITE is the peer, refuses any other site.
  wire::Reply HandleCarry(const wire::Frame& frame);

  VolumeStore& store_;
  const std::string site_name_;
  Replicator* const replicator_;
  const bool link_authenticated_;
  std::unique_ptr<wire::Server> server_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace pairfs::node
