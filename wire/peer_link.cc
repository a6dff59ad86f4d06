#include "wire/peer_link.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <zmq.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "wire/limits.h"
#include "wire/log_limit.h"
#include "wire/zap.h"

namespace pairfs::wire {

struct PeerLink::Impl {
  zmq::socket_t router;  // the link thread's only
  zmq::socket_t dealer;  // any thread's, under send_mutex
  int wake_fd = -1;
  std::string site;
  std::string peer_site;
  Handler handler;
  std::atomic<bool> stopping{false};
  std::mutex send_mutex;  // guards dealer: a leaf
  std::thread thread;
  uint64_t refused = 0;
  bool authenticated = false;  // CURVE: every frame's sender must be its connection's key's site
  uint64_t impostors = 0;

  void Run();
  void Wake() {
    const uint64_t one = 1;
    (void)!::write(wake_fd, &one, sizeof one);
  }
  void DrainDealer();
  bool ReceiveFromPeer();
};

namespace {

// The DEALER is drained at most this often (Run): the peer never sends on it, so a drain finds
// nothing, and each costs ZeroMQ a poll and a getpid (on every wake-up, twice per replicated
// write and fsync, it was 2 of the link thread's syscalls per operation).
constexpr auto kPeerLinkDrainEvery = std::chrono::milliseconds(100);

}  // namespace

PeerLink::PeerLink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PeerLink::~PeerLink() {
  impl_->stopping.store(true);
  impl_->Wake();
  if (impl_->thread.joinable()) impl_->thread.join();
  ::close(impl_->wake_fd);
}

Result<std::unique_ptr<PeerLink>> PeerLink::Start(Context& context, const std::string& listen,
                                                  const std::string& peer_endpoint,
                                                  std::string site, std::string peer_site,
                                                  Handler handler) {
  auto impl = std::make_unique<Impl>();
  auto& zmq_context = *static_cast<zmq::context_t*>(context.native());
  try {
    impl->router = zmq::socket_t(zmq_context, zmq::socket_type::router);
    impl->router.set(zmq::sockopt::linger, 0);
    impl->router.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxFrameBytes));
    impl->router.set(zmq::sockopt::router_handover, 1);
    impl->router.set(zmq::sockopt::rcvhwm, kPeerQueueMessages);
    Status curve = MakeCurveServer(context, impl->router);
    if (!curve.ok()) return curve;
    impl->router.bind(listen);
  } catch (const zmq::error_t& e) {
    return Status::IoError("cannot listen on " + listen, e.num());
  }
  try {
    impl->dealer = zmq::socket_t(zmq_context, zmq::socket_type::dealer);
    impl->dealer.set(zmq::sockopt::linger, 0);
    impl->dealer.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxFrameBytes));
    impl->dealer.set(zmq::sockopt::immediate, 1);
    impl->dealer.set(zmq::sockopt::sndhwm, kPeerQueueMessages);
    impl->dealer.set(zmq::sockopt::rcvhwm, kPeerQueueMessages);
    impl->dealer.set(zmq::sockopt::reconnect_ivl, kPeerReconnectMs);
    impl->dealer.set(zmq::sockopt::reconnect_ivl_max, kPeerReconnectMaxMs);
    impl->dealer.set(zmq::sockopt::heartbeat_ivl, kPeerHeartbeatMs);
    impl->dealer.set(zmq::sockopt::heartbeat_timeout, kPeerHeartbeatMs * 3);
    impl->dealer.set(zmq::sockopt::routing_id, site);
    Status curve = MakeCurveClient(context, impl->dealer, peer_site);
    if (!curve.ok()) return curve;
    impl->dealer.connect(peer_endpoint);
  } catch (const zmq::error_t& e) {
    return Status::IoError("cannot connect to the peer at " + peer_endpoint, e.num());
  }
  impl->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl->wake_fd < 0) return Status::IoError("eventfd", errno);
  impl->site = std::move(site);
  impl->peer_site = std::move(peer_site);
  impl->authenticated = context.curve_keys() != nullptr;
  impl->handler = std::move(handler);
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->Run(); });
  return std::unique_ptr<PeerLink>(new PeerLink(std::move(impl)));
}

Status PeerLink::Send(std::string frame_bytes) {
  return SendShared(std::make_shared<const std::string>(std::move(frame_bytes)));
}

Status PeerLink::SendShared(std::shared_ptr<const std::string> frame_bytes) {
  // Sent on the caller's thread: a hand-off to the link thread (a queue, an eventfd, a wake-up)
  // was on every write's and every answer's way. The ZeroMQ message refers to the frame's bytes
  // without a copy (a 1 MiB write would pay one) and holds a reference to them, which ZeroMQ drops
  // once its I/O thread has written the frame, or here if the send fails. ZeroMQ only reads the
  // bytes of a message it sends (CURVE encrypts into a message of its own).
  auto* owner = new std::shared_ptr<const std::string>(std::move(frame_bytes));
  zmq::message_t message(
      const_cast<char*>((*owner)->data()), (*owner)->size(),
      [](void*, void* hint) { delete static_cast<std::shared_ptr<const std::string>*>(hint); },
      owner);
  std::lock_guard<std::mutex> lock(impl_->send_mutex);
  try {
    if (!impl_->dealer.send(message, zmq::send_flags::dontwait)) {
      spdlog::debug("peer link: no connection to {} (or its pipe is full), frame dropped",
                    impl_->peer_site);
    }
  } catch (const zmq::error_t& e) {
    spdlog::warn("peer link: send to {} failed: {}", impl_->peer_site, e.what());
    return Status::IoError("send to the peer failed", e.num());
  }
  return Status::Ok();
}

void PeerLink::Impl::DrainDealer() {
  // The peer never answers on this socket (it answers on its own DEALER, to the ROUTER); whatever
  // arrives here is dropped, so that it cannot fill the pipe.
  std::lock_guard<std::mutex> lock(send_mutex);
  zmq::message_t drop;
  try {
    while (dealer.recv(drop, zmq::recv_flags::dontwait)) {
    }
  } catch (const zmq::error_t&) {
  }
}

// True once the ROUTER is empty (a receive found nothing), false if the budget ran out first.
bool PeerLink::Impl::ReceiveFromPeer() {
  for (int budget = 0; budget < 256; ++budget) {
    std::vector<zmq::message_t> parts;
    try {
      do {
        zmq::message_t part;
        if (!router.recv(part, zmq::recv_flags::dontwait)) break;
        if (parts.size() < 3) parts.push_back(std::move(part));
      } while (router.get(zmq::sockopt::rcvmore));
    } catch (const zmq::error_t& e) {
      spdlog::warn("peer link: receive failed: {}", e.what());
      return true;
    }
    if (parts.empty()) return true;
    if (parts.size() != 2) {
      PAIRFS_LOG_REFUSAL(RefusalLog(), "peer link: parts",
                         "peer link: refused a message of {} parts ({} refused so far)",
                         parts.size(), ++refused);
      continue;
    }
    Result<Frame> frame = DecodeFrame(parts[1].to_string_view());
    if (!frame.ok()) {
      PAIRFS_LOG_REFUSAL(RefusalLog(), "peer link: malformed",
                         "peer link: refused a frame: {} ({} refused so far)",
                         frame.status().message(), ++refused);
      continue;
    }
    if (frame->sender_site != peer_site) {
      PAIRFS_LOG_REFUSAL(
          RefusalLog(), "peer link: another site",
          "peer link: refused a frame from site '{}' (the peer is '{}'; {} refused so far)",
          frame->sender_site, peer_site, ++refused);
      continue;
    }
    if (authenticated) {
      const std::string key_site = AuthenticatedSite(parts[1]);
      if (key_site != frame->sender_site) {
        RefuseImpostor("peer link", frame->sender_site, key_site, &impostors);
        continue;
      }
    }
    handler(std::move(frame.value()));
  }
  return false;
}

void PeerLink::Impl::Run() {
  // The DEALER is not polled here: other threads send on it (under send_mutex), and a socket is
  // never polled while another thread uses it. It is drained now and then instead (the peer sends
  // status frames every tick, so the thread wakes), and its receive pipe is bounded
  // (kPeerQueueMessages).
  // The ROUTER's ZMQ_FD is polled with the wake-up eventfd by ::poll, not zmq::poll: zmq::poll
  // asks the socket for ZMQ_EVENTS before and after its own poll (a poll and a getpid each),
  // twice per replicated write and fsync. ZMQ_FD is edge-triggered: it is readable again only
  // after a receive found the socket empty (ReceiveFromPeer returns true then), so the thread
  // sleeps only after that, and otherwise (its budget ran out) only looks.
  int router_fd = -1;
  try {
    router_fd = router.get(zmq::sockopt::fd);
  } catch (const zmq::error_t& e) {
    spdlog::error("peer link: no ZMQ_FD for the listening socket: {}", e.what());
    return;
  }
  bool drained = false;
  auto last_drain = std::chrono::steady_clock::now();
  while (!stopping.load()) {
    if (drained) {
      pollfd items[] = {{router_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
      if (::poll(items, 2, -1) < 0) {
        if (errno != EINTR) spdlog::warn("peer link: poll failed: {}", std::strerror(errno));
        continue;
      }
      if (items[1].revents & POLLIN) {
        uint64_t count = 0;
        (void)!::read(wake_fd, &count, sizeof count);
      }
    }
    // Whatever woke the poll: ZMQ_FD's readiness says that commands arrived, not which, and a
    // frame left on the socket would wait for the next, unrelated wake-up.
    drained = ReceiveFromPeer();
    const auto now = std::chrono::steady_clock::now();
    if (now - last_drain >= kPeerLinkDrainEvery) {
      last_drain = now;
      DrainDealer();
    }
  }
}

}  // namespace pairfs::wire
