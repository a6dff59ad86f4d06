// CURVE on a ZeroMQ socket, for the site-to-site sockets of wire/ only (peer link, heartbeats,
// the witness's server and its clients). Includes zmq.hpp: never include it outside wire/.
//
// A CURVE server asks the ZAP handler of its context (libzmq's ZAP protocol, RFC 27, on
// inproc://zeromq.zap.01) whether to admit each new connection. The handler admits exactly the
// configured public keys and names the connection's user id after the key's site, which every
// message of that connection then carries (AuthenticatedSite): that is what binds a frame's
// claimed sender to a key.
#pragma once

#include <zmq.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "wire/curve.h"
#include "wire/link.h"
#include "wire/status.h"

namespace pairfs::wire {

// The ZAP domain of pairfs's server sockets (the handler refuses any other).
inline constexpr const char* kZapDomain = "pairfs";

// Answers libzmq's authentication requests for one context on a thread of its own, and logs the
// connections the server sockets it watches refuse before asking it (a client without CURVE).
// Construct with Start; the destructor stops the thread (within kZapPollMs) and closes its
// sockets, so it must be destroyed before its context is terminated. Watch() is thread-safe.
class ZapHandler {
 public:
  // Binds inproc://zeromq.zap.01 in `context` and starts answering. IoError if the address is
  // taken (a second handler in one context) or the socket cannot be made.
  static Result<std::unique_ptr<ZapHandler>> Start(zmq::context_t& context, const CurveKeys& keys);
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  // Makes the thread log (and count apart) every handshake `socket` fails before ZAP: a client
  // that speaks no CURVE never reaches ZAP. Call on the socket's owning thread, before it binds.
  // Throws zmq::error_t.
  void Watch(zmq::socket_t& socket);

 private:
  ZapHandler() = default;
  void Run();
  void Answer();
  void AdoptWatched();
  void ReadEvent(size_t monitor);
  void Refused(const std::string& where, const std::string& reason, uint64_t* count);

  zmq::context_t* context_ = nullptr;
  zmq::socket_t socket_;
  std::mutex mutex_;                     // guards pending_
  std::vector<zmq::socket_t> pending_;   // monitors connected by Watch, not yet the thread's
  std::vector<zmq::socket_t> monitors_;  // the thread's, one per watched socket
  std::map<std::string, std::string> site_of_key_;  // 32-byte binary public key -> site
  std::atomic<bool> stopping_{false};
  uint64_t refused_ = 0;              // connections ZAP refused (an unknown key, ...)
  uint64_t refused_without_key_ = 0;  // handshakes failed before ZAP (no CURVE)
  std::thread thread_;
};

// Makes `socket` (not yet bound) a CURVE server of `context`'s keys, with a short handshake
// limit (kHandshakeTimeoutMs), starting the context's ZAP handler if it is not running yet.
// Does nothing when the context has no keys (Context::UseCurve). Throws zmq::error_t; IoError
// if the ZAP handler cannot start.
Status MakeCurveServer(Context& context, zmq::socket_t& socket);

// Makes `socket` (not yet connected) a CURVE client of `context`'s keys that trusts only
// `server_site`'s public key. Does nothing when the context has no keys. InvalidArgument if
// there is no public key for `server_site`. Throws zmq::error_t.
Status MakeCurveClient(Context& context, zmq::socket_t& socket, const std::string& server_site);

// The site whose key authenticated the connection `message` arrived on (its ZAP user id); ""
// on a connection without CURVE. Never throws.
std::string AuthenticatedSite(const zmq::message_t& message);

// Counts a frame whose claimed sender is not the site of its connection's key and logs the first
// and then at most one line per kind every 10 s (wire/log_limit.h), with the count. `where` names
// the socket ("peer link").
void RefuseImpostor(const char* where, const std::string& claimed, const std::string& authenticated,
                    uint64_t* count);

}  // namespace pairfs::wire
