#include "wire/link.h"

#include <malloc.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <zmq.hpp>

#include <cerrno>
#include <cstring>

#include <chrono>
#include <mutex>
#include <optional>

#include "wire/limits.h"
#include "wire/zap.h"

namespace pairfs::wire {
namespace {

Status FromZmq(const std::string& what, const zmq::error_t& e) {
  return Status::IoError(what, e.num());
}

// The socket options every pairfs socket has: no lingering on close (a dead peer must not hang
// shutdown) and ZeroMQ's own refusal of oversized messages.
void SetCommonOptions(zmq::socket_t& socket) {
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxFrameBytes));
}

// Frames are large short-lived buffers: glibc's defaults gave each one fresh pages (a fault per
// 4 KiB) and handed them back to the kernel when freed (wire/limits.h
// kAllocatorMmapThresholdBytes). Once per process; a failed mallopt leaves the defaults, slower
// only.
void TuneAllocatorForFrames() {
  static std::once_flag once;
  std::call_once(once, [] {
    (void)mallopt(M_MMAP_THRESHOLD, static_cast<int>(kAllocatorMmapThresholdBytes));
    (void)mallopt(M_TRIM_THRESHOLD, static_cast<int>(kAllocatorTrimThresholdBytes));
  });
}

}  // namespace

Status ProbeEndpoint(const std::string& endpoint) {
  const std::string scheme = "ipc://";
  if (endpoint.rfind(scheme, 0) != 0) return Status::Ok();
  const std::string path = endpoint.substr(scheme.size());
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path))
    return Status::InvalidArgument("socket path too long: " + path);
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IoError("socket", errno);
  const int connected = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  const int saved = errno;
  ::close(fd);
  if (connected != 0)
    return Status::Unreachable("nothing listens at " + path + " (" + std::strerror(saved) + ")");
  return Status::Ok();
}

struct Context::Impl {
  zmq::context_t context{1};
  std::optional<CurveKeys> keys;
  std::mutex mutex;                 // guards zap
  std::unique_ptr<ZapHandler> zap;  // declared after `context`: stops before it terminates
};

Context::Context() : impl_(std::make_unique<Impl>()) { TuneAllocatorForFrames(); }
Context::~Context() = default;
void* Context::native() { return &impl_->context; }
void Context::UseCurve(CurveKeys keys) { impl_->keys = std::move(keys); }
const CurveKeys* Context::curve_keys() const { return impl_->keys ? &*impl_->keys : nullptr; }

Result<ZapHandler*> Context::StartZapHandler() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (impl_->zap || !impl_->keys) return impl_->zap.get();
  Result<std::unique_ptr<ZapHandler>> started = ZapHandler::Start(impl_->context, *impl_->keys);
  if (!started.ok()) return started.status();
  impl_->zap = std::move(started.value());
  return impl_->zap.get();
}

// ---- Server -----------------------------------------------------------------------------------

struct Server::Impl {
  zmq::socket_t socket;
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::Bind(Context& context, const std::string& endpoint,
                                             Reach reach) {
  try {
    auto impl = std::make_unique<Impl>();
    impl->socket =
        zmq::socket_t(*static_cast<zmq::context_t*>(context.native()), zmq::socket_type::router);
    SetCommonOptions(impl->socket);
    if (reach == Reach::kSiteToSite) {
      Status curve = MakeCurveServer(context, impl->socket);
      if (!curve.ok()) return curve;
    }
    // A reconnecting client with the same identity must not be refused (handover to the new pipe).
    impl->socket.set(zmq::sockopt::router_handover, 1);
    // A reply to a peer that has gone fails (EHOSTUNREACH) instead of vanishing silently.
    impl->socket.set(zmq::sockopt::router_mandatory, 1);
    impl->socket.bind(endpoint);
    // Whatever the umask: only this user may connect to a control socket (the directory it is in
    // is the data directory, 0700, so nobody else reaches it before this either).
    const std::string scheme = "ipc://";
    if (reach == Reach::kLocal && endpoint.rfind(scheme, 0) == 0 &&
        ::chmod(endpoint.substr(scheme.size()).c_str(), 0600) != 0) {
      return Status::IoError("cannot make " + endpoint + " mode 0600", errno);
    }
    return std::unique_ptr<Server>(new Server(std::move(impl)));
  } catch (const zmq::error_t& e) {
    return FromZmq("cannot bind " + endpoint, e);
  }
}

Result<std::optional<Incoming>> Server::Receive(int timeout_ms) {
  try {
    zmq::pollitem_t item{impl_->socket.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms)) == 0) {
      return std::optional<Incoming>();
    }
    // A DEALER peer sends [identity, frame]; take every part so nothing is left half-read.
    std::vector<zmq::message_t> parts;
    do {
      zmq::message_t part;
      if (!impl_->socket.recv(part, zmq::recv_flags::dontwait)) break;
      parts.push_back(std::move(part));
    } while (impl_->socket.get(zmq::sockopt::rcvmore) && parts.size() <= 4);
    while (impl_->socket.get(zmq::sockopt::rcvmore)) {  // discard an over-long multipart message
      zmq::message_t drop;
      if (!impl_->socket.recv(drop, zmq::recv_flags::dontwait)) break;
    }
    if (parts.size() != 2) {
      return Status::Corruption("message of " + std::to_string(parts.size()) +
                                " parts refused (expected identity and one frame)");
    }
    Incoming incoming;
    incoming.peer_identity = parts[0].to_string();
    incoming.authenticated_site = AuthenticatedSite(parts[1]);
    Result<Frame> frame = DecodeFrame(parts[1].to_string_view());
    if (!frame.ok()) {
      Result<std::string> answer =
          EncodeFrame(MessageType::kReply, 0, "", EncodeBody(Reply::FromStatus(frame.status())));
      if (answer.ok()) (void)Send(incoming.peer_identity, answer.value());
      return frame.status();
    }
    incoming.frame = std::move(frame.value());
    return std::optional<Incoming>(std::move(incoming));
  } catch (const zmq::error_t& e) {
    return FromZmq("receive failed", e);
  }
}

Status Server::Send(const std::string& peer_identity, const std::string& frame_bytes) {
  try {
    impl_->socket.send(zmq::buffer(peer_identity),
                       zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    impl_->socket.send(zmq::buffer(frame_bytes), zmq::send_flags::dontwait);
    return Status::Ok();
  } catch (const zmq::error_t& e) {
    return FromZmq("send failed", e);
  }
}

// ---- Client -----------------------------------------------------------------------------------

struct Client::Impl {
  zmq::socket_t socket;
  std::string site;
  uint64_t next_request_id = 1;
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::Connect(Context& context, const std::string& endpoint,
                                                std::string site, const std::string& server_site) {
  try {
    auto impl = std::make_unique<Impl>();
    impl->socket =
        zmq::socket_t(*static_cast<zmq::context_t*>(context.native()), zmq::socket_type::dealer);
    SetCommonOptions(impl->socket);
    if (!server_site.empty()) {
      Status curve = MakeCurveClient(context, impl->socket, server_site);
      if (!curve.ok()) return curve;
    }
    impl->socket.connect(endpoint);
    impl->site = std::move(site);
    return std::unique_ptr<Client>(new Client(std::move(impl)));
  } catch (const zmq::error_t& e) {
    return FromZmq("cannot connect to " + endpoint, e);
  }
}

Result<Frame> Client::CallRaw(MessageType type, const std::string& body, int timeout_ms) {
  const uint64_t request_id = impl_->next_request_id++;
  Result<std::string> frame = EncodeFrame(type, request_id, impl_->site, body);
  if (!frame.ok()) return frame.status();
  Status sent = SendBytes(frame.value());
  if (!sent.ok()) return sent;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return Status::Unreachable("no answer within " + std::to_string(timeout_ms) + " ms");
    Result<std::string> bytes = ReceiveBytes(static_cast<int>(left.count()));
    if (!bytes.ok()) return bytes.status();
    Result<Frame> answer = DecodeFrame(bytes.value());
    if (!answer.ok()) return answer.status();
    if (answer->request_id == request_id) return answer;
  }
}

Status Client::SendBytes(const std::string& bytes) {
  try {
    if (!impl_->socket.send(zmq::buffer(bytes), zmq::send_flags::dontwait)) {
      return Status::Unreachable("cannot queue the request (no connection)");
    }
    return Status::Ok();
  } catch (const zmq::error_t& e) {
    return FromZmq("send failed", e);
  }
}

Result<std::string> Client::ReceiveBytes(int timeout_ms) {
  try {
    zmq::pollitem_t item{impl_->socket.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms)) == 0) {
      return Status::Unreachable("no answer within " + std::to_string(timeout_ms) + " ms");
    }
    zmq::message_t message;
    if (!impl_->socket.recv(message, zmq::recv_flags::dontwait)) {
      return Status::Unreachable("no answer");
    }
    return message.to_string();
  } catch (const zmq::error_t& e) {
    return FromZmq("receive failed", e);
  }
}

}  // namespace pairfs::wire
