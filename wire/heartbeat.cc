#include "wire/heartbeat.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <zmq.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "wire/heartbeat_rules.h"
#include "wire/limits.h"
#include "wire/log_limit.h"
#include "wire/zap.h"

namespace pairfs::wire {
namespace {

using Clock = std::chrono::steady_clock;

// One warning per this many repeats of the same kind of trouble: a flood must not flood the log.
constexpr uint64_t kWarnEvery = 1000;

bool ShouldWarn(uint64_t* count) { return (*count)++ % kWarnEvery == 0; }

// What is known about one link; the thread writes it, Snapshot() and Latest() read it.
struct LinkRecord {
  bool heard = false;
  Clock::time_point last_heard;
  uint64_t incarnation = 0;  // of the last accepted beat: with `counter`, what makes a beat stale
  uint64_t counter = 0;
  std::string state;
  uint64_t dropped = 0;
};

// A heartbeat names its site in the envelope and in the body; both must survive DecodeFrame.
Status CheckSiteName(const std::string& site) {
  if (site.empty()) return Status::InvalidArgument("a heartbeat needs a site name");
  Result<std::string> bytes = EncodeFrame(MessageType::kHeartbeat, 0, site, "");
  if (!bytes.ok()) return bytes.status();
  Result<Frame> frame = DecodeFrame(bytes.value());
  if (!frame.ok()) {
    return Status::InvalidArgument("site name '" + site +
                                   "' cannot travel in a frame: " + frame.status().message());
  }
  return Status::Ok();
}

// Checks one received frame against every rule except staleness, which needs the link's memory.
// Returns the heartbeat, or Corruption saying why it is refused.
Result<HeartbeatMessage> CheckHeartbeat(std::string_view bytes, const std::string& peer_site,
                                        uint32_t link) {
  Result<Frame> frame = DecodeFrame(bytes);
  if (!frame.ok()) return frame.status();
  if (frame->type != MessageType::kHeartbeat) {
    return Status::Corruption(std::string("a ") + MessageTypeName(frame->type) +
                              " frame, not a heartbeat");
  }
  if (frame->sender_site != peer_site) {
    return Status::Corruption("a heartbeat from site '" + frame->sender_site + "' (the peer is '" +
                              peer_site + "')");
  }
  HeartbeatMessage beat;
  Status decoded = DecodeBody(frame->body, &beat);
  if (!decoded.ok()) return decoded;
  if (beat.site != peer_site) {
    return Status::Corruption("a heartbeat whose body names site '" + beat.site +
                              "' (the peer is '" + peer_site + "')");
  }
  if (beat.link != link) {
    return Status::Corruption("a heartbeat for link " + std::to_string(beat.link) +
                              " arrived on link " + std::to_string(link));
  }
  return beat;
}

// Reads one whole message without waiting: returns its number of parts (0: nothing waiting) and
// keeps the second, the frame behind the sender's routing identity. Throws zmq::error_t.
size_t ReceiveWholeMessage(zmq::socket_t& router, zmq::message_t* frame) {
  size_t parts = 0;
  do {
    zmq::message_t part;
    if (!router.recv(part, zmq::recv_flags::dontwait)) break;
    if (++parts == 2) *frame = std::move(part);
  } while (router.get(zmq::sockopt::rcvmore));
  return parts;
}

// Options both sockets of a link share: nothing lingers on close, nothing large is buffered, few
// beats wait in a pipe, and a connection that went silent is closed (see
// kHeartbeatConnectionCheckMs).
void SetLinkOptions(zmq::socket_t& socket) {
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxHeartbeatFrameBytes));
  socket.set(zmq::sockopt::sndhwm, kHeartbeatQueueMessages);
  socket.set(zmq::sockopt::rcvhwm, kHeartbeatQueueMessages);
  socket.set(zmq::sockopt::heartbeat_ivl, kHeartbeatConnectionCheckMs);
  socket.set(zmq::sockopt::heartbeat_timeout, kHeartbeatConnectionCheckMs * 3);
}

// The receiving socket of a link (a CURVE server when the context has keys). Throws zmq::error_t;
// the ZAP handler's failure to start is thrown as one too.
zmq::socket_t ListeningRouter(Context& context, const std::string& listen) {
  zmq::socket_t router(*static_cast<zmq::context_t*>(context.native()), zmq::socket_type::router);
  SetLinkOptions(router);
  if (!MakeCurveServer(context, router).ok()) throw zmq::error_t();
  // The peer redialling after an outage brings the same identity while the old connection may
  // still look alive here: the new one must take over, not be refused.
  router.set(zmq::sockopt::router_handover, 1);
  router.bind(listen);
  return router;
}

// The sending socket of a link, identified by this site's name (a CURVE client trusting only the
// peer's key when the context has keys: HeartbeatLinks::Start checked that there is one). Throws
// zmq::error_t.
zmq::socket_t ConnectedDealer(Context& context, const std::string& peer, const std::string& site,
                              const std::string& peer_site) {
  zmq::socket_t dealer(*static_cast<zmq::context_t*>(context.native()), zmq::socket_type::dealer);
  SetLinkOptions(dealer);
  if (!MakeCurveClient(context, dealer, peer_site).ok()) throw zmq::error_t();
  // No beat waits for a connection: one delivered after an outage would look like life.
  dealer.set(zmq::sockopt::immediate, 1);
  dealer.set(zmq::sockopt::reconnect_ivl, kHeartbeatReconnectMs);
  dealer.set(zmq::sockopt::reconnect_ivl_max, kHeartbeatReconnectMaxMs);
  dealer.set(zmq::sockopt::routing_id, site);
  dealer.connect(peer);
  return dealer;
}

}  // namespace

struct HeartbeatLinks::Impl {
  struct Sockets {
    zmq::socket_t router;  // receives the peer's beats
    zmq::socket_t dealer;  // sends ours; anything arriving on it is discarded unread
  };

  std::vector<HeartbeatEndpoints> endpoints;
  std::vector<Sockets> sockets;  // used by the thread only, once it runs
  std::string site;
  std::string peer_site;
  uint64_t incarnation = 0;
  std::chrono::milliseconds interval{0};
  StateFunction state;
  int wake_fd = -1;
  std::atomic<bool> stopping{false};
  std::atomic<bool> beat_requested{false};
  std::thread thread;

  // The thread's own counters.
  uint64_t counter = 0;        // of the last beat sent
  uint64_t refused = 0;        // frames refused on any link, for the rate-limited warning
  uint64_t trouble = 0;        // beats not made or sent and failed receives, likewise
  bool authenticated = false;  // CURVE: a beat's sender must be its connection's key's site
  uint64_t impostors = 0;      // beats refused for naming another site than their key's

  mutable std::mutex mutex;  // guards records and latest
  std::vector<LinkRecord> records;
  std::optional<HeartbeatMessage> latest;

  ~Impl() {
    if (wake_fd >= 0) ::close(wake_fd);
  }
  void Wake() {
    const uint64_t one = 1;
    (void)!::write(wake_fd, &one, sizeof one);
  }
  Status Open(Context& context);
  void Run();
  void SendBeats();
  void ReceiveOn(uint32_t link);
  void Refuse(uint32_t link, const std::string& reason);
  bool Admit(uint32_t link, const HeartbeatMessage& beat);
  void DiscardDealerInput(uint32_t link);
};

Status HeartbeatLinks::Impl::Open(Context& context) {
  sockets.resize(endpoints.size());
  for (size_t link = 0; link < endpoints.size(); ++link) {
    std::string doing = "listen on " + endpoints[link].listen;
    try {
      sockets[link].router = ListeningRouter(context, endpoints[link].listen);
      doing = "connect to " + endpoints[link].peer;
      sockets[link].dealer = ConnectedDealer(context, endpoints[link].peer, site, peer_site);
    } catch (const zmq::error_t& e) {
      return Status::IoError("heartbeat link " + std::to_string(link) + ": cannot " + doing,
                             e.num());
    }
  }
  return Status::Ok();
}

void HeartbeatLinks::Impl::SendBeats() {
  std::string state_now;
  try {
    state_now = state();
  } catch (const std::exception& e) {
    if (ShouldWarn(&trouble))
      spdlog::warn("heartbeat: no beat sent, the state function failed: {}", e.what());
    return;
  } catch (...) {
    if (ShouldWarn(&trouble)) spdlog::warn("heartbeat: no beat sent, the state function failed");
    return;
  }
  ++counter;
  for (uint32_t link = 0; link < sockets.size(); ++link) {
    const HeartbeatMessage beat{site, incarnation, counter, state_now, link};
    Result<std::string> frame =
        EncodeFrame(MessageType::kHeartbeat, counter, site, EncodeBody(beat));
    if (!frame.ok() || frame->size() > kMaxHeartbeatFrameBytes) {
      if (ShouldWarn(&trouble)) {
        spdlog::warn("heartbeat link {}: beat not sent: {}", link,
                     frame.ok() ? "state '" + state_now.substr(0, 64) + "...' makes it too large"
                                : frame.status().message());
      }
      continue;
    }
    try {
      if (!sockets[link].dealer.send(zmq::buffer(frame.value()), zmq::send_flags::dontwait)) {
        spdlog::debug("heartbeat link {}: no connection to {}, beat {} dropped", link,
                      endpoints[link].peer, counter);
      }
    } catch (const zmq::error_t& e) {
      if (ShouldWarn(&trouble)) spdlog::warn("heartbeat link {}: send failed: {}", link, e.what());
    }
  }
}

void HeartbeatLinks::Impl::Refuse(uint32_t link, const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mutex);
    ++records[link].dropped;
  }
  ++refused;
  PAIRFS_LOG_REFUSAL(RefusalLog(), "heartbeat link " + std::to_string(link),
                     "heartbeat link {} ({}): refused {} ({} refused on all links so far)", link,
                     endpoints[link].listen, reason, refused);
}

// Records `beat` unless it is stale; returns false if it was.
bool HeartbeatLinks::Impl::Admit(uint32_t link, const HeartbeatMessage& beat) {
  std::lock_guard<std::mutex> lock(mutex);
  LinkRecord& record = records[link];
  if (!BeatIsNewer({record.heard, record.incarnation, record.counter}, beat.incarnation,
                   beat.counter))
    return false;
  record.heard = true;
  record.last_heard = Clock::now();
  record.incarnation = beat.incarnation;
  record.counter = beat.counter;
  record.state = beat.state;
  if (!latest ||
      BeatIsNewer({true, latest->incarnation, latest->counter}, beat.incarnation, beat.counter))
    latest = beat;
  return true;
}

void HeartbeatLinks::Impl::ReceiveOn(uint32_t link) {
  for (int batch = 0; batch < kHeartbeatReceiveBatch; ++batch) {
    zmq::message_t frame;
    size_t parts = 0;
    try {
      parts = ReceiveWholeMessage(sockets[link].router, &frame);
    } catch (const zmq::error_t& e) {
      if (ShouldWarn(&trouble))
        spdlog::warn("heartbeat link {}: receive failed: {}", link, e.what());
      return;
    }
    if (parts == 0) return;
    if (parts != 2) {
      Refuse(link, "a message of " + std::to_string(parts) + " parts");
      continue;
    }
    Result<HeartbeatMessage> beat = CheckHeartbeat(frame.to_string_view(), peer_site, link);
    if (!beat.ok()) {
      Refuse(link, beat.status().message());
    } else if (const std::string key_site = AuthenticatedSite(frame);
               authenticated && key_site != beat->site) {
      // CheckHeartbeat made the envelope's site and the body's the peer's; the key must be too.
      {
        std::lock_guard<std::mutex> lock(mutex);
        ++records[link].dropped;
      }
      RefuseImpostor("heartbeat", beat->site, key_site, &impostors);
    } else if (!Admit(link, beat.value())) {
      Refuse(link, "a stale heartbeat (incarnation " + std::to_string(beat->incarnation) +
                       ", counter " + std::to_string(beat->counter) + ")");
    }
  }
}

void HeartbeatLinks::Impl::DiscardDealerInput(uint32_t link) {
  try {
    zmq::message_t drop;
    for (int batch = 0; batch < kHeartbeatReceiveBatch; ++batch) {
      if (!sockets[link].dealer.recv(drop, zmq::recv_flags::dontwait)) return;
    }
  } catch (const zmq::error_t& e) {
    if (ShouldWarn(&trouble))
      spdlog::warn("heartbeat link {}: discarding input failed: {}", link, e.what());
  }
}

void HeartbeatLinks::Impl::Run() {
  // Per link its ROUTER then its DEALER; the eventfd last.
  std::vector<zmq::pollitem_t> items;
  for (Sockets& link : sockets) {
    items.push_back({link.router.handle(), 0, ZMQ_POLLIN, 0});
    items.push_back({link.dealer.handle(), 0, ZMQ_POLLIN, 0});
  }
  items.push_back({nullptr, wake_fd, ZMQ_POLLIN, 0});
  Clock::time_point next_beat = Clock::now();
  uint64_t poll_trouble = 0;
  while (!stopping.load()) {
    const Clock::time_point now = Clock::now();
    if (beat_requested.exchange(false) || now >= next_beat) {
      SendBeats();
      next_beat = now + interval;
    }
    const auto wait =
        std::max(std::chrono::milliseconds(0),
                 std::chrono::ceil<std::chrono::milliseconds>(next_beat - Clock::now()));
    try {
      zmq::poll(items, wait);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      if (e.num() == ETERM) {
        spdlog::error("heartbeat: the ZeroMQ context was closed; no more beats");
        return;
      }
      if (ShouldWarn(&poll_trouble)) spdlog::warn("heartbeat: poll failed: {}", e.what());
      std::this_thread::sleep_for(wait);  // not a busy loop while the failure lasts
      continue;
    }
    if (items.back().revents & ZMQ_POLLIN) {
      uint64_t count = 0;
      (void)!::read(wake_fd, &count, sizeof count);
    }
    for (uint32_t link = 0; link < sockets.size(); ++link) {
      if (items[2 * link].revents & ZMQ_POLLIN) ReceiveOn(link);
      if (items[2 * link + 1].revents & ZMQ_POLLIN) DiscardDealerInput(link);
    }
  }
}

HeartbeatLinks::HeartbeatLinks(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HeartbeatLinks::~HeartbeatLinks() {
  impl_->stopping.store(true);
  impl_->Wake();
  if (impl_->thread.joinable()) impl_->thread.join();
}

Result<std::unique_ptr<HeartbeatLinks>> HeartbeatLinks::Start(
    Context& context, std::vector<HeartbeatEndpoints> links, std::string site,
    std::string peer_site, uint64_t incarnation, int interval_ms, StateFunction state) {
  if (links.empty() || links.size() > kMaxHeartbeatLinks) {
    return Status::InvalidArgument("heartbeat links: " + std::to_string(links.size()) +
                                   " given, 1 to " + std::to_string(kMaxHeartbeatLinks) +
                                   " allowed");
  }
  if (interval_ms < 1) return Status::InvalidArgument("heartbeat interval must be at least 1 ms");
  if (!state) return Status::InvalidArgument("heartbeat links need a state function");
  for (const std::string* name : {&site, &peer_site}) {
    Status checked = CheckSiteName(*name);
    if (!checked.ok()) return checked;
  }
  const CurveKeys* keys = context.curve_keys();
  if (keys != nullptr && keys->peer_public_keys.count(peer_site) == 0) {
    return Status::InvalidArgument("no public key for site " + peer_site +
                                   " in security.peer_public_keys");
  }
  if (keys != nullptr) {
    Result<ZapHandler*> zap = context.StartZapHandler();
    if (!zap.ok()) return zap.status();
  }
  auto impl = std::make_unique<Impl>();
  impl->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl->wake_fd < 0) return Status::IoError("eventfd", errno);
  impl->endpoints = std::move(links);
  impl->site = std::move(site);
  impl->peer_site = std::move(peer_site);
  impl->incarnation = incarnation;
  impl->interval = std::chrono::milliseconds(interval_ms);
  impl->state = std::move(state);
  impl->records.resize(impl->endpoints.size());
  impl->authenticated = keys != nullptr;
  Status opened = impl->Open(context);
  if (!opened.ok()) return opened;
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->Run(); });
  return std::unique_ptr<HeartbeatLinks>(new HeartbeatLinks(std::move(impl)));
}

std::vector<HeartbeatSnapshot> HeartbeatLinks::Snapshot() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  const Clock::time_point now = Clock::now();
  std::vector<HeartbeatSnapshot> snapshot;
  for (const LinkRecord& record : impl_->records) {
    HeartbeatSnapshot link;
    link.heard = record.heard;
    if (record.heard) {
      link.last_heard_ms_ago =
          std::chrono::duration_cast<std::chrono::milliseconds>(now - record.last_heard).count();
    }
    link.peer_incarnation = record.incarnation;
    link.peer_state = record.state;
    link.dropped = record.dropped;
    link.authenticated = impl_->authenticated;
    snapshot.push_back(std::move(link));
  }
  return snapshot;
}

std::optional<HeartbeatMessage> HeartbeatLinks::Latest() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->latest;
}

void HeartbeatLinks::BeatNow() {
  impl_->beat_requested.store(true);
  impl_->Wake();
}

}  // namespace pairfs::wire
