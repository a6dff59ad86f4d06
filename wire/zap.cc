#include "wire/zap.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include <spdlog/spdlog.h>

#include "wire/limits.h"
#include "wire/log_limit.h"

namespace pairfs::wire {
namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
constexpr size_t kCurvePublicKeyBytes = 32;

std::string BinaryKey(const std::string& z85) {
  std::string binary(kCurvePublicKeyBytes, '\0');
  zmq_z85_decode(reinterpret_cast<uint8_t*>(binary.data()), z85.c_str());
  return binary;
}

}  // namespace

Result<std::unique_ptr<ZapHandler>> ZapHandler::Start(zmq::context_t& context,
                                                      const CurveKeys& keys) {
  std::unique_ptr<ZapHandler> handler(new ZapHandler());
  handler->context_ = &context;
  for (const auto& [site, key] : keys.peer_public_keys)
    handler->site_of_key_[BinaryKey(key)] = site;
  try {
    handler->socket_ = zmq::socket_t(context, zmq::socket_type::rep);
    handler->socket_.set(zmq::sockopt::linger, 0);
    handler->socket_.bind(kZapEndpoint);
  } catch (const zmq::error_t& e) {
    return Status::IoError(std::string("cannot start the ZAP handler at ") + kZapEndpoint, e.num());
  }
  ZapHandler* raw = handler.get();
  // The socket moves to the thread here; thread creation is the memory barrier ZeroMQ asks for.
  handler->thread_ = std::thread([raw] { raw->Run(); });
  return handler;
}

ZapHandler::~ZapHandler() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
}

void ZapHandler::Watch(zmq::socket_t& socket) {
  static std::atomic<uint64_t> next{0};
  const std::string endpoint = "inproc://pairfs-handshakes-" + std::to_string(next++);
  // A client without CURVE fails the handshake at whichever side reads the other's greeting
  // first: a protocol error here, or a connection closed mid-handshake (no detail).
  const int events = ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
  if (zmq_socket_monitor(socket.handle(), endpoint.c_str(), events) != 0) {
    throw zmq::error_t();
  }
  // Connected here, before `socket` binds, so that no event is lost (a monitor without a reader
  // drops its events); the thread takes it over (the mutex is the memory barrier ZeroMQ asks for).
  zmq::socket_t monitor(*context_, zmq::socket_type::pair);
  monitor.set(zmq::sockopt::linger, 0);
  monitor.connect(endpoint);
  std::lock_guard<std::mutex> lock(mutex_);
  pending_.push_back(std::move(monitor));
}

void ZapHandler::AdoptWatched() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (zmq::socket_t& monitor : pending_) monitors_.push_back(std::move(monitor));
  pending_.clear();
}

// One monitor event: two frames, (u16 event, u32 value) and the endpoint.
void ZapHandler::ReadEvent(size_t monitor) {
  zmq::message_t event;
  zmq::message_t address;
  if (!monitors_[monitor].recv(event, zmq::recv_flags::dontwait)) return;
  if (monitors_[monitor].get(zmq::sockopt::rcvmore))
    (void)monitors_[monitor].recv(address, zmq::recv_flags::dontwait);
  if (event.size() < 6) return;
  uint16_t number = 0;
  std::memcpy(&number, event.data(), sizeof number);
  if (number == ZMQ_EVENT_MONITOR_STOPPED) {
    monitors_.erase(monitors_.begin() + static_cast<std::ptrdiff_t>(monitor));
  } else if (number == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
             number == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
    Refused("at " + address.to_string(),
            "a client without CURVE that did not finish the handshake (no key)",
            &refused_without_key_);
  }
}

void ZapHandler::Refused(const std::string& where, const std::string& reason, uint64_t* count) {
  ++*count;
  PAIRFS_LOG_REFUSAL(RefusalLog(), "security: connection: " + reason,
                     "security: refused a connection {}: {} ({} such connection(s) refused so far)",
                     where, reason, *count);
}

void ZapHandler::Run() {
  while (!stopping_.load()) {
    try {
      AdoptWatched();
      std::vector<zmq::pollitem_t> items = {{socket_.handle(), 0, ZMQ_POLLIN, 0}};
      for (zmq::socket_t& monitor : monitors_)
        items.push_back({monitor.handle(), 0, ZMQ_POLLIN, 0});
      if (zmq::poll(items, std::chrono::milliseconds(kZapPollMs)) == 0) continue;
      if (items[0].revents & ZMQ_POLLIN) Answer();
      for (size_t i = items.size() - 1; i >= 1; --i) {  // from the end: ReadEvent may erase
        if (items[i].revents & ZMQ_POLLIN) ReadEvent(i - 1);
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      if (e.num() != EINTR) spdlog::warn("ZAP handler: {}", e.what());
    }
  }
}

// One request (RFC 27): version, request id, domain, address, routing id, mechanism, credentials;
// the answer: version, request id, status code, status text, user id, metadata.
void ZapHandler::Answer() {
  std::vector<zmq::message_t> request;
  do {
    zmq::message_t part;
    if (!socket_.recv(part, zmq::recv_flags::dontwait)) break;
    if (request.size() < 8) request.push_back(std::move(part));
  } while (socket_.get(zmq::sockopt::rcvmore));
  // libzmq sends at least six frames; a REP socket must answer whatever came, or it stops.
  request.resize(std::max<size_t>(request.size(), 6));
  const std::string request_id = request[1].to_string();
  const std::string domain = request[2].to_string();
  const std::string address = request[3].to_string();
  const std::string mechanism = request[5].to_string();
  std::string site;
  std::string reason;
  if (domain != kZapDomain) {
    reason = "the socket's ZAP domain is '" + domain + "'";
  } else if (mechanism != "CURVE" || request.size() != 7 ||
             request[6].size() != kCurvePublicKeyBytes) {
    reason = "mechanism " + mechanism + " (CURVE keys are required)";
  } else if (auto found = site_of_key_.find(request[6].to_string()); found != site_of_key_.end()) {
    site = found->second;
  } else {
    char z85[kCurveKeyTextBytes + 1] = {};
    zmq_z85_encode(z85, request[6].data<uint8_t>(), kCurvePublicKeyBytes);
    reason = std::string("public key ") + z85 + " is not in peer_public_keys";
  }
  if (site.empty()) Refused("from " + address, reason, &refused_);
  const std::string code = site.empty() ? "400" : "200";
  const std::string text = site.empty() ? reason : "OK";
  const std::string* reply[] = {nullptr, &request_id, &code, &text, &site};
  socket_.send(zmq::str_buffer("1.0"), zmq::send_flags::sndmore);
  for (int i = 1; i < 5; ++i) socket_.send(zmq::buffer(*reply[i]), zmq::send_flags::sndmore);
  socket_.send(zmq::message_t(), zmq::send_flags::none);
}

Status MakeCurveServer(Context& context, zmq::socket_t& socket) {
  const CurveKeys* keys = context.curve_keys();
  if (keys == nullptr) return Status::Ok();
  Result<ZapHandler*> zap = context.StartZapHandler();
  if (!zap.ok()) return zap.status();
  zap.value()->Watch(socket);
  socket.set(zmq::sockopt::curve_server, 1);
  socket.set(zmq::sockopt::curve_secretkey, keys->secret_key);
  socket.set(zmq::sockopt::zap_domain, kZapDomain);
  socket.set(zmq::sockopt::handshake_ivl, kHandshakeTimeoutMs);
  return Status::Ok();
}

Status MakeCurveClient(Context& context, zmq::socket_t& socket, const std::string& server_site) {
  const CurveKeys* keys = context.curve_keys();
  if (keys == nullptr) return Status::Ok();
  auto server_key = keys->peer_public_keys.find(server_site);
  if (server_key == keys->peer_public_keys.end()) {
    return Status::InvalidArgument("no public key for site " + server_site +
                                   " in security.peer_public_keys");
  }
  socket.set(zmq::sockopt::curve_serverkey, server_key->second);
  socket.set(zmq::sockopt::curve_publickey, keys->public_key);
  socket.set(zmq::sockopt::curve_secretkey, keys->secret_key);
  socket.set(zmq::sockopt::handshake_ivl, kHandshakeTimeoutMs);
  return Status::Ok();
}

std::string AuthenticatedSite(const zmq::message_t& message) {
  // zmq_msg_gets is not const in its C signature; it only reads the message's metadata.
  const char* user = zmq_msg_gets(const_cast<zmq_msg_t*>(message.handle()), "User-Id");
  return user == nullptr ? std::string() : std::string(user);
}

void RefuseImpostor(const char* where, const std::string& claimed, const std::string& authenticated,
                    uint64_t* count) {
  ++*count;
  PAIRFS_LOG_REFUSAL(
      RefusalLog(), std::string("security: impostor at ") + where + ": " + authenticated,
      "security: {}: refused a frame claiming site '{}' on a connection authenticated as site '{}' "
      "({} such frame(s) refused so far)",
      where, claimed, authenticated, *count);
}

}  // namespace pairfs::wire
