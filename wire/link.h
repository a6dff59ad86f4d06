// ZeroMQ links: the only code in pairfs that touches a socket.
//
// Context is one per process and thread-safe. Server (ROUTER) and Client (DEALER) are each owned by
// one thread: never share them. Other threads hand work to the owner (see node/control_server.h).
// No ZeroMQ or msgpack exception leaves this layer; failures come back as Status values.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "wire/curve.h"
#include "wire/envelope.h"
#include "wire/messages.h"
#include "wire/status.h"

namespace pairfs::wire {

class ZapHandler;  // wire/zap.h

class Context {
 public:
  // The first Context of a process also tunes the process's allocator for frames (large buffers
  // that live for one message; wire/limits.h kAllocatorMmapThresholdBytes): process-wide, once.
  Context();
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  void* native();  // the zmq::context_t, for the sockets of wire/ only

  // From now on this context's site-to-site sockets (PeerLink, HeartbeatLinks, a Server bound
  // with Reach::kSiteToSite, a Client given a server site) run CURVE with `keys`: servers admit
  // only `keys.peer_public_keys`, clients prove `keys.secret_key` and trust only the server's
  // public key. Call once, before creating any socket; not thread-safe against socket creation.
  void UseCurve(CurveKeys keys);

  // The keys given to UseCurve, or null (plain sockets). For the sockets of wire/ only.
  const CurveKeys* curve_keys() const;

  // Starts this context's ZAP handler (wire/zap.h) unless it runs already, and returns it (null
  // when the context has no keys). Thread-safe. IoError if it cannot start. For the sockets of
  // wire/ only (MakeCurveServer calls it).
  Result<ZapHandler*> StartZapHandler();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Checks that something listens at an ipc:// endpoint (a socket file may outlive a killed
// node). Unreachable naming the path if not; Ok for other transports, which ZeroMQ reports only
// as a missing answer.
Status ProbeEndpoint(const std::string& endpoint);

// A message received by a Server: who sent it (ZeroMQ routing identity) and the checked frame.
struct Incoming {
  std::string peer_identity;
  Frame frame;
  std::string authenticated_site;  // the site of the CURVE key of its connection; "" if plain
};

// Who may reach a server: kLocal endpoints (the control sockets) are plain; kSiteToSite ones
// run CURVE when the context has keys (Context::UseCurve).
enum class Reach { kLocal, kSiteToSite };

// A ROUTER socket bound to an endpoint (tcp:// or ipc://). Messages larger than kMaxFrameBytes are
// dropped by ZeroMQ, which also drops the connection of the peer that sent them.
class Server {
 public:
  // Binds `endpoint`; a kLocal ipc:// socket file is then made mode 0600. Fails with IoError
  // naming the endpoint (address in use, bad path, chmod failed, ...); with kSiteToSite, also the
  // errors of starting the context's ZAP handler.
  static Result<std::unique_ptr<Server>> Bind(Context& context, const std::string& endpoint,
                                              Reach reach = Reach::kLocal);
  ~Server();

  // Waits up to `timeout_ms` for one message. Returns nullopt on timeout. A malformed message is
  // consumed, answered with a Corruption reply when it has a routing identity, and returned as
  // Corruption so the caller can log it and carry on.
  Result<std::optional<Incoming>> Receive(int timeout_ms);

  // Queues `frame_bytes` (from EncodeFrame) for `peer_identity`. Fails if the peer is gone.
  Status Send(const std::string& peer_identity, const std::string& frame_bytes);

  // Encodes `message` as the answer to `request` and sends it.
  template <class T>
  Status Answer(const Incoming& request, const std::string& site, const T& message) {
    Result<std::string> frame =
        EncodeFrame(T::kType, request.frame.request_id, site, EncodeBody(message));
    if (!frame.ok()) return frame.status();
    return Send(request.peer_identity, frame.value());
  }

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A DEALER socket connected to one endpoint, for request/reply with timeouts.
class Client {
 public:
  // Connects (lazily, as ZeroMQ does: an absent server shows as a timeout on the first Call).
  // With a `server_site` and a context with keys, a CURVE client that trusts only that site's
  // public key (InvalidArgument if there is none); a server that refuses this client's key
  // shows as a timeout too.
  static Result<std::unique_ptr<Client>> Connect(Context& context, const std::string& endpoint,
                                                 std::string site,
                                                 const std::string& server_site = "");
  ~Client();

  // Sends `request` and waits up to `timeout_ms` for the reply with the same request id; replies
  // to earlier, abandoned requests are skipped. Unreachable if nothing arrives in time,
  // Corruption if the reply does not decode, else the reply as sent (check reply.ToStatus()).
  template <class T>
  Result<Reply> Call(const T& request, int timeout_ms) {
    Result<Frame> frame = CallRaw(T::kType, EncodeBody(request), timeout_ms);
    if (!frame.ok()) return frame.status();
    if (frame->type != MessageType::kReply) return Status::Corruption("answer is not a reply");
    Reply reply;
    Status decoded = DecodeBody(frame->body, &reply);
    if (!decoded.ok()) return decoded;
    return reply;
  }

  Result<Frame> CallRaw(MessageType type, const std::string& body, int timeout_ms);

  // For tests that throw bad bytes at a server: sends `bytes` as one frame, unchecked.
  Status SendBytes(const std::string& bytes);
  // Waits up to `timeout_ms` for any one frame and returns its bytes, unchecked.
  Result<std::string> ReceiveBytes(int timeout_ms);

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pairfs::wire
