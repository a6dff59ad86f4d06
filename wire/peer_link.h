// The site-to-site link: a ROUTER bound to this site's `listen` endpoint (everything the peer
// sends arrives there), owned by the link's thread, and a DEALER connected to the peer's endpoint
// (everything this site sends leaves there). Traffic is one-way frames in each direction;
// answers are frames with the request's id, matched by the caller (node/replicator.h).
//
// Send() is thread-safe: the calling thread sends on the DEALER itself, under a mutex (no hand-off
// to the link thread: it was on every write's and every answer's way). The link thread only
// receives; it drains the DEALER (the peer never sends on it) at most every 100 ms, on a wake-up.
// Frames from anything but the configured peer site, and frames that do not decode, are dropped
// and logged; the link carries on. When the context has CURVE keys (Context::UseCurve) the ROUTER
// is a CURVE server admitting only the configured public keys and the DEALER a CURVE client that
// trusts only the peer's key; a frame whose envelope names another site than the one whose key
// authenticated its connection is dropped and counted (logged at most once per kind every 10 s,
// with the count: wire/log_limit.h).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "wire/envelope.h"
#include "wire/link.h"
#include "wire/status.h"

namespace pairfs::wire {

class PeerLink {
 public:
  // Called on the link thread for every checked frame from the peer; must not block.
  using Handler = std::function<void(Frame)>;

  // Binds `listen`, connects to `peer_endpoint` and starts the thread. IoError naming the
  // endpoint if either fails; InvalidArgument if the context has keys but none for `peer_site`.
  static Result<std::unique_ptr<PeerLink>> Start(Context& context, const std::string& listen,
                                                 const std::string& peer_endpoint, std::string site,
                                                 std::string peer_site, Handler handler);
  ~PeerLink();  // stops and joins the thread
  PeerLink(const PeerLink&) = delete;
  PeerLink& operator=(const PeerLink&) = delete;

  // Queues one encoded frame for the peer. Frames sent while there is no connection are dropped
  // (ZMQ_IMMEDIATE): the sender retransmits or times out; nothing stale piles up.
  Status Send(std::string frame_bytes);
  // The same for a frame its sender keeps (to retransmit it): ZeroMQ holds a reference to the
  // bytes until its I/O thread has written them (or the send fails) instead of a copy of them, so
  // the caller may drop its own reference at once. The bytes must not change meanwhile.
  Status SendShared(std::shared_ptr<const std::string> frame_bytes);

 private:
  struct Impl;
  explicit PeerLink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pairfs::wire
