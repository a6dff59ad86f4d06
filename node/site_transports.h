// The replicator's transports in a running site (node/site.h): to the peer over wire::PeerLink,
// to the witness over wire::Client. The simulation (tests/sim) has its own.
#pragma once

#include <atomic>
#include <optional>
#include <string>

#include "node/replicator.h"
#include "wire/curve.h"
#include "wire/peer_link.h"

namespace pairfs::node {

// The replicator's PeerTransport over the site's peer link, which starts after the replicator is
// built (the process detaches in between) and stops before it is destroyed. Thread-safe.
class LinkTransport : public PeerTransport {
 public:
  // The link's Send, or Unreachable "the peer link is not up" while no link is attached.
  Status Send(std::string frame_bytes) override;
  Status SendShared(std::shared_ptr<const std::string> frame_bytes) override;  // no copy
  // From now on frames go to `link` (null: nowhere). The caller keeps `link` alive until it
  // attaches another one or null.
  void Attach(wire::PeerLink* link);

 private:
  std::atomic<wire::PeerLink*> link_{nullptr};
};

// The witness's vote over a context and socket of their own per vote (votes are rare: a race, a
// release): no socket is shared between the threads that may ask, and nothing of ZeroMQ exists
// before the daemon forks. With keys, each vote's socket is a CURVE client trusting only the
// witness's key. Thread-safe.
class WitnessClient : public WitnessTransport {
 public:
  // `site`: this site (the sender); `witness_site`: the witness's site name (its key's name).
  WitnessClient(std::string endpoint, std::string site, std::optional<wire::CurveKeys> keys,
                std::string witness_site);
  // The witness's answer; the connect error, or Unreachable after timeout_ms.
  Result<wire::Reply> Vote(const wire::ReserveVoteRequest& request, int timeout_ms) override;

 private:
  const std::string endpoint_;
  const std::string site_;
  const std::optional<wire::CurveKeys> keys_;
  const std::string witness_site_;
};

}  // namespace pairfs::node
