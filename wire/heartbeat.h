// clusterd's heartbeat links: the only sockets clusterd uses (it never includes zmq.hpp).
//
// One link per heartbeat network: this site's ROUTER bound at `listen` (the peer's heartbeats
// arrive there) and a DEALER connected to `peer` (ours leave there). One thread, owned by
// HeartbeatLinks, runs every link: it sends a beat on each link every interval and takes in what
// the peer sends. A ZeroMQ socket is never shared between threads; the public methods only touch
// state under a mutex, so every method is thread-safe.
//
// A received heartbeat counts only if it decodes (wire::DecodeFrame, type kHeartbeat, a
// HeartbeatMessage body), comes from `peer_site` (envelope and body), names the link it arrived
// on, and is newer than the last one accepted on that link: same incarnation and a larger
// counter, or another incarnation (the peer restarted). Anything else is dropped, counted and
// logged at most once per 10 s with the count (wire/log_limit.h); input never stops the links. When
// the context has CURVE keys (Context::UseCurve), every ROUTER is a CURVE server admitting only the
// configured public keys, every DEALER a CURVE client trusting only the peer's key, and a beat
// whose site (envelope and body) is not the site of the key that authenticated its connection is
// dropped and counted. Beats are never queued while a link has no connection, so a beat delivered
// late cannot pass for a sign of life (wire/README.md).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wire/link.h"
#include "wire/messages.h"
#include "wire/status.h"

namespace pairfs::wire {

// One heartbeat network: where this site listens and where the peer listens.
struct HeartbeatEndpoints {
  std::string listen;
  std::string peer;
};

// One link as of the moment Snapshot() was called.
struct HeartbeatSnapshot {
  bool heard = false;              // anything valid ever heard on this link
  int64_t last_heard_ms_ago = -1;  // -1: never
  uint64_t peer_incarnation = 0;   // from the last valid heartbeat on this link
  std::string peer_state;          // its `state` field
  uint64_t dropped = 0;            // frames that arrived on this link and were refused
  bool authenticated = false;      // the link runs CURVE (the context has keys)
};

class HeartbeatLinks {
 public:
  // Returns the state this site announces ("STANDBY", "ACTIVE", ...). Called on the heartbeat
  // thread once per beat: it must be thread-safe, quick, and must not throw (a beat whose state
  // cannot be had is not sent, and the failure is logged). A state so long that the frame would
  // pass kMaxHeartbeatFrameBytes is not sent either.
  using StateFunction = std::function<std::string()>;

  // Binds every listen endpoint and connects every peer endpoint, then starts the thread, which
  // sends a HeartbeatMessage on every link every `interval_ms` (site, incarnation, a counter that
  // starts at 1 and grows by one per beat, the state returned by `state()` at that moment, the
  // link's index in `links`) and receives the peer's.
  // Fails with IoError naming the endpoint if a bind or connect fails (address in use, bad
  // endpoint); InvalidArgument for no links or more than kMaxHeartbeatLinks, `interval_ms` < 1,
  // an empty `state`, a site name that cannot travel in a frame, or a context with keys but none
  // for `peer_site`. `context` must outlive the returned object.
  static Result<std::unique_ptr<HeartbeatLinks>> Start(Context& context,
                                                       std::vector<HeartbeatEndpoints> links,
                                                       std::string site, std::string peer_site,
                                                       uint64_t incarnation, int interval_ms,
                                                       StateFunction state);
  ~HeartbeatLinks();  // stops and joins the thread, closes the sockets
  HeartbeatLinks(const HeartbeatLinks&) = delete;
  HeartbeatLinks& operator=(const HeartbeatLinks&) = delete;

  // One entry per link, in the order of `links` at Start.
  std::vector<HeartbeatSnapshot> Snapshot() const;

  // The newest valid heartbeat over all links (its incarnation, counter and state); nullopt if
  // none was ever heard. Within one incarnation a beat with a smaller counter that arrives later
  // on another link does not replace it; a beat of another incarnation does (the peer restarted).
  std::optional<HeartbeatMessage> Latest() const;

  // Wakes the thread to send a beat on every link now (e.g. right after the state changed), so the
  // peer learns a new state without waiting for the next interval; the interval restarts from
  // there. Non-blocking.
  void BeatNow();

 private:
  struct Impl;
  explicit HeartbeatLinks(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pairfs::wire
