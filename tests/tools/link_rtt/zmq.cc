// build/tools/link_rtt's ZeroMQ round trip (link_rtt.h, main.cc): two sites' sockets as
// wire/peer_link.cc makes them, one thread per site.
#include <poll.h>

#include <zmq.hpp>

#include <atomic>
#include <cerrno>
#include <string>
#include <thread>

#include "tests/tools/link_rtt/link_rtt.h"
#include "wire/limits.h"
#include "wire/link.h"

namespace pairfs::link_rtt {
namespace {

// How often a waiting thread looks whether the other one gave up.
constexpr int kStopCheckMs = 100;

// One site's sockets, with the options wire/peer_link.cc gives its own.
struct ZmqSite {
  wire::Context context;  // declared first: closed after the sockets
  zmq::socket_t router;
  zmq::socket_t dealer;
  int router_fd = -1;
  std::string endpoint;  // the ROUTER's, with the port the system chose
};

Status BindRouter(ZmqSite& site) {
  try {
    site.router = zmq::socket_t(*static_cast<zmq::context_t*>(site.context.native()),
                                zmq::socket_type::router);
    site.router.set(zmq::sockopt::linger, 0);
    site.router.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::kMaxFrameBytes));
    site.router.set(zmq::sockopt::router_handover, 1);
    site.router.set(zmq::sockopt::rcvhwm, wire::kPeerQueueMessages);
    site.router.bind("tcp://127.0.0.1:*");
    site.endpoint = site.router.get(zmq::sockopt::last_endpoint);
    site.router_fd = site.router.get(zmq::sockopt::fd);
  } catch (const zmq::error_t& e) {
    return Status::IoError("cannot listen on tcp://127.0.0.1", e.num());
  }
  return Status::Ok();
}

Status ConnectDealer(ZmqSite& site, const std::string& name, const std::string& peer_endpoint) {
  try {
    site.dealer = zmq::socket_t(*static_cast<zmq::context_t*>(site.context.native()),
                                zmq::socket_type::dealer);
    site.dealer.set(zmq::sockopt::linger, 0);
    site.dealer.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::kMaxFrameBytes));
    site.dealer.set(zmq::sockopt::immediate, 1);
    site.dealer.set(zmq::sockopt::sndhwm, wire::kPeerQueueMessages);
    site.dealer.set(zmq::sockopt::rcvhwm, wire::kPeerQueueMessages);
    site.dealer.set(zmq::sockopt::reconnect_ivl, wire::kPeerReconnectMs);
    site.dealer.set(zmq::sockopt::reconnect_ivl_max, wire::kPeerReconnectMaxMs);
    site.dealer.set(zmq::sockopt::heartbeat_ivl, wire::kPeerHeartbeatMs);
    site.dealer.set(zmq::sockopt::heartbeat_timeout, wire::kPeerHeartbeatMs * 3);
    site.dealer.set(zmq::sockopt::routing_id, name);
    site.dealer.connect(peer_endpoint);
  } catch (const zmq::error_t& e) {
    return Status::IoError("cannot connect to " + peer_endpoint, e.num());
  }
  return Status::Ok();
}

// Sends `bytes` on a DEALER as PeerLink::SendShared does: no copy, dontwait. Until the connection
// is up, ZMQ_IMMEDIATE refuses the frame; it is offered again every millisecond (only the warm-up's
// first frames meet that).
Status SendFrame(zmq::socket_t& dealer, const std::string& bytes) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(kWaitTimeoutMs);
  try {
    while (true) {
      zmq::message_t message(const_cast<char*>(bytes.data()), bytes.size(), nullptr);
      if (dealer.send(message, zmq::send_flags::dontwait)) return Status::Ok();
      if (Clock::now() >= deadline) return Status::Timeout("no connection to the other site");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  } catch (const zmq::error_t& e) {
    return Status::IoError("send failed", e.num());
  }
}

// Waits for one message on a ROUTER as PeerLink's thread does: receives with dontwait and sleeps
// in ::poll on ZMQ_FD only once a receive found the socket empty (ZMQ_FD is edge-triggered).
// Returns the frame's size; Timeout after kWaitTimeoutMs, or once `stop` is set.
Result<size_t> ReceiveFrame(ZmqSite& site, const std::atomic<bool>& stop) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(kWaitTimeoutMs);
  try {
    while (true) {
      zmq::message_t identity, frame;
      if (site.router.recv(identity, zmq::recv_flags::dontwait)) {
        // The parts of a message arrive together: the frame is there already.
        if (!site.router.get(zmq::sockopt::rcvmore) ||
            !site.router.recv(frame, zmq::recv_flags::dontwait) ||
            site.router.get(zmq::sockopt::rcvmore))
          return Status::Corruption("a message of other than 2 parts");
        return frame.size();
      }
      const auto left = deadline - Clock::now();
      if (left <= std::chrono::milliseconds(0) || stop.load())
        return Status::Timeout("no frame from the other site");
      pollfd item{site.router_fd, POLLIN, 0};
      if (::poll(&item, 1, kStopCheckMs) < 0 && errno != EINTR)
        return Status::IoError("poll on ZMQ_FD", errno);
    }
  } catch (const zmq::error_t& e) {
    return Status::IoError("receive failed", e.num());
  }
}

}  // namespace

Result<std::vector<int64_t>> MeasureZmq(size_t bytes, int count) {
  // Before the sites: ZeroMQ refers to these bytes (no copy) until the sockets are closed.
  const std::string ping(bytes, 'p'), answer(kReplyBytes, 'r');
  ZmqSite a, b;
  Status status = BindRouter(a);
  if (status.ok()) status = BindRouter(b);
  if (status.ok()) status = ConnectDealer(a, "a", b.endpoint);
  if (status.ok()) status = ConnectDealer(b, "b", a.endpoint);
  if (!status.ok()) return status;
  std::atomic<bool> stop{false}, never{false};
  Status served;
  std::thread site_b([&] {
    for (int i = 0; i < kWarmupRoundTrips + count; ++i) {
      Result<size_t> received = ReceiveFrame(b, stop);
      if (!received.ok()) {
        if (!stop.load()) served = received.status();
        return;
      }
      if (received.value() != bytes) {
        served = Status::Corruption("site b received a frame of " +
                                    std::to_string(received.value()) + " bytes");
        return;
      }
      served = SendFrame(b.dealer, answer);
      if (!served.ok()) return;
    }
  });
  Result<std::vector<int64_t>> measured = Measure(count, [&]() -> Status {
    Status sent = SendFrame(a.dealer, ping);
    if (!sent.ok()) return sent;
    Result<size_t> received = ReceiveFrame(a, never);
    if (!received.ok()) return received.status();
    if (received.value() != kReplyBytes) return Status::Corruption("a short answer");
    return Status::Ok();
  });
  stop.store(true);
  site_b.join();
  if (!served.ok()) return Status(served.code(), "site b: " + served.message());
  return measured;
}

}  // namespace pairfs::link_rtt
