// wan_proxy: a userspace WAN for the integration tests and `make bench` (these machines have no
// kernel netem). A TCP proxy that forwards bytes (it never parses them: ZeroMQ, CURVE or not, goes
// through unchanged) and delays each direction of every connection by the same time; optionally
// caps each direction's rate; stalls, heals and resets its connections on signals.
//
//   wan_proxy --listen HOST:PORT --to HOST:PORT [--listen HOST:PORT --to HOST:PORT ...]
//             [--delay-ms N] [--rate-mbps X] [--usr1 stall|cut] [--queue-mib N] [--name NAME]
//
// One process serves every --listen/--to pair given (a route: the n-th --listen forwards to the
// n-th --to); the signals act on all of its routes at once, so one process is one WAN link.
//   --delay-ms N   bytes read from one side at time t are written to the other at t + N ms or
//                  later (each direction; a round trip through the proxy costs 2N); default 0
//   --rate-mbps X  at most X MB/s (10^6 bytes per second, not megabits) per direction of each
//                  connection; default: no cap
//   --usr1 MODE    what SIGUSR1 does: `stall` (default) or `cut`, below
//   --queue-mib N  at most N MiB held per direction (default 32); at the bound the proxy stops
//                  reading that side, so the sender feels TCP backpressure; nothing is dropped.
//                  With --rate-mbps the bound is lower: delay x rate + 1 MiB, as a link's buffer
//   --name NAME    prefix of the log lines (default wan_proxy)
//   PORT 0 binds a free port; the log line `listening on HOST:PORT` names it.
//
// Signals (each logs one line on stderr, written after the change took effect, so a script that
// waits for the line knows that nothing is forwarded after it):
//   SIGUSR1 stall  forwarding stops, connections stay open, bytes read are kept (up to the bound,
//                  then the senders block), new connections wait in the listen backlog: a link
//                  whose packets vanish (iptables DROP), which nobody notices but by silence.
//                  `stalled` line.
//   SIGUSR1 cut    (--usr1 cut) every connection is reset and new ones are accepted and reset at
//                  once: a far host that answers with RST. `cut` line.
//   SIGUSR2 heal   forwarding resumes: kept bytes go out (they are overdue), waiting connections
//                  are accepted. `healed` line.
//   SIGHUP  reset  every connection is reset now (RST both sides); new ones are served. `reset`.
//   SIGTERM/SIGINT exit 0 after closing everything. `exiting` line.
// Every one of these lines ends with the bytes forwarded so far over all connections, each way
// (`forwarded so far: N bytes to the servers, M to the clients`), so that a script measures what
// the link carried between two signals; SIGUSR2 on a link that is not stalled or cut only logs
// that line (a way to read the totals).
// A side that resets or closes is passed on in order with its bytes and after the same delay
// (a close as shutdown(SHUT_WR), a reset as RST). SIGPIPE is ignored; peers that reset never end
// the proxy. Exit 2 on bad arguments, 1 if a --listen cannot be bound.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/tools/wan_connection.h"

using namespace pairfs::tools;

namespace {

// One read: large enough to move hundreds of MB/s on loopback with few system calls.
constexpr size_t kReadBytes = 256 << 10;
// Per direction without a rate cap: 10 ms of delay at 3 GB/s fits, and a stalled link holds at
// most this much per connection before the sender blocks.
constexpr size_t kDefaultQueueMib = 32;
// With a rate cap, room beyond delay x rate for the bytes waiting for their turn at the cap.
constexpr size_t kPacedHeadroomBytes = 1 << 20;
// A pair uses two connections; more than this are refused (reset), so a reconnect storm cannot
// exhaust file descriptors.
constexpr size_t kMaxConnections = 256;
constexpr int kListenBacklog = 128;
// Chunks held per direction: a sender of tiny writes (one ZeroMQ heartbeat per read) would
// otherwise cost an allocation's overhead per few bytes under the byte bound.
constexpr size_t kMaxChunksPerLine = 65536;
// A delay beyond 10 minutes is a typo, not a WAN.
constexpr int kMaxDelayMs = 600000;
constexpr int kEventsPerWait = 64;
// Read/write rounds per connection per wake-up, so that one busy connection cannot starve others.
constexpr int kPumpRounds = 16;

std::string g_name = "wan_proxy";

void Log(const char* format, ...) {
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  tm utc;
  gmtime_r(&now.tv_sec, &utc);
  char message[512];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof message, format, args);
  va_end(args);
  fprintf(stderr, "%02d:%02d:%02d.%03ld %s: %s\n", utc.tm_hour, utc.tm_min, utc.tm_sec,
          now.tv_nsec / 1000000, g_name.c_str(), message);
}

class Proxy {
 public:
  enum class Fault { kNone, kStall, kCut };

  Proxy(WanClock::duration delay, double rate, bool usr1_cuts, size_t queue_bound)
      : delay_(delay), rate_(rate), usr1_cuts_(usr1_cuts), queue_bound_(queue_bound) {}

  // Binds every route; false (logged) if one cannot be bound.
  bool Open(std::vector<Route>& routes);
  // Serves until SIGTERM or SIGINT; returns the exit code.
  int Run();

 private:
  void Accept(Route& route);
  void OnSideEvent(Side& side, uint32_t events);
  void OnSignal();
  void Pump(Connection& connection);
  bool Fill(Connection& connection, Side& source);
  bool Flush(Connection& connection, Side& destination);
  void SideFailed(Side& side, int error);
  void Close(Connection& connection, const char* why, bool reset);
  void ResetAll(const char* why);
  void UpdateInterest(Side& side);
  void UpdateListeners();
  void ArmTimer();
  size_t OpenConnections() const;
  // The line may take another read: under the byte bound and the chunk bound.
  bool HasRoom(const DelayLine& line) const {
    return line.queued_bytes() < queue_bound_ && line.chunk_count() < kMaxChunksPerLine;
  }

  WanClock::duration delay_;
  double rate_;
  bool usr1_cuts_;
  size_t queue_bound_;
  Fault fault_ = Fault::kNone;
  int epoll_ = -1, signal_fd_ = -1, timer_fd_ = -1;
  Watch signal_watch_{Watch::kSignal}, timer_watch_{Watch::kTimer};
  std::vector<Route>* routes_ = nullptr;
  std::map<uint64_t, std::unique_ptr<Connection>> connections_;
  uint64_t next_id_ = 1;
  std::optional<WanClock::time_point> timer_at_;
  bool exiting_ = false;
  // Bytes written to servers (toward --to) and to clients over every connection so far: the
  // `forwarded so far` part of the signal lines (`make bench` measures a catch-up's traffic).
  uint64_t forwarded_up_ = 0, forwarded_down_ = 0;
  std::string Totals() const;
  char scratch_[kReadBytes];
};

bool Proxy::Open(std::vector<Route>& routes) {
  routes_ = &routes;
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGUSR1, SIGUSR2, SIGHUP, SIGTERM, SIGINT}) sigaddset(&signals, s);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  signal_fd_ = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
  if (epoll_ < 0 || timer_fd_ < 0 || signal_fd_ < 0) {
    Log("cannot set up epoll, timerfd or signalfd: %s", strerror(errno));
    return false;
  }
  epoll_event event{EPOLLIN, {.ptr = &signal_watch_}};
  epoll_ctl(epoll_, EPOLL_CTL_ADD, signal_fd_, &event);
  event = {EPOLLIN, {.ptr = &timer_watch_}};
  epoll_ctl(epoll_, EPOLL_CTL_ADD, timer_fd_, &event);
  for (Route& route : routes) {
    sockaddr_storage address;
    socklen_t length;
    if (!ParseHostPort(route.listen_text, &address, &length)) {
      Log("cannot resolve --listen %s", route.listen_text.c_str());
      return false;
    }
    route.fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(route.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (route.fd < 0 || bind(route.fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        listen(route.fd, kListenBacklog) != 0) {
      Log("cannot listen on %s: %s", route.listen_text.c_str(), strerror(errno));
      return false;
    }
    length = sizeof address;
    getsockname(route.fd, reinterpret_cast<sockaddr*>(&address), &length);
    Log("listening on %s, forwarding to %s, delay %lld ms each way, rate %s",
        AddressText(address).c_str(), route.to_text.c_str(),
        static_cast<long long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(delay_).count()),
        rate_ > 0 ? (std::to_string(rate_ / 1e6) + " MB/s per direction").c_str() : "uncapped");
  }
  UpdateListeners();
  return true;
}

int Proxy::Run() {
  epoll_event events[kEventsPerWait];
  while (!exiting_) {
    ArmTimer();
    int count = epoll_wait(epoll_, events, kEventsPerWait, -1);
    if (count < 0) {
      if (errno == EINTR) continue;
      Log("epoll_wait: %s", strerror(errno));
      return 1;
    }
    // Signals first: once a `stalled` line is out, not one more byte is forwarded.
    for (int i = 0; i < count; ++i)
      if (static_cast<Watch*>(events[i].data.ptr)->kind == Watch::kSignal) OnSignal();
    for (int i = 0; i < count && !exiting_; ++i) {
      auto* watch = static_cast<Watch*>(events[i].data.ptr);
      if (watch->kind == Watch::kListener) {
        Accept(*static_cast<Route*>(watch));
      } else if (watch->kind == Watch::kSide) {
        auto* side = static_cast<Side*>(watch);
        if (!side->connection->closed) OnSideEvent(*side, events[i].events);
      } else if (watch->kind == Watch::kTimer) {
        uint64_t expirations;
        while (read(timer_fd_, &expirations, sizeof expirations) > 0) {
        }
        timer_at_.reset();
        for (auto& [id, connection] : connections_)
          if (!connection->closed) Pump(*connection);
      }
    }
    for (auto it = connections_.begin(); it != connections_.end();)
      it = it->second->closed ? connections_.erase(it) : std::next(it);
  }
  ResetAll("exiting");
  return 0;
}

size_t Proxy::OpenConnections() const {
  size_t open = 0;
  for (const auto& [id, connection] : connections_) open += connection->closed ? 0 : 1;
  return open;
}

void Proxy::Accept(Route& route) {
  for (;;) {
    sockaddr_storage from;
    socklen_t length = sizeof from;
    int fd = accept4(route.fd, reinterpret_cast<sockaddr*>(&from), &length,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
        Log("accept on %s: %s", route.listen_text.c_str(), strerror(errno));
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;
    }
    if (fault_ == Fault::kCut || OpenConnections() >= kMaxConnections) {
      Log("connection from %s to %s refused (%s)", AddressText(from).c_str(),
          route.listen_text.c_str(), fault_ == Fault::kCut ? "cut" : "too many connections");
      CloseWithReset(fd);
      continue;
    }
    auto connection = std::make_unique<Connection>(delay_, rate_);
    Connection& c = *connection;
    c.id = next_id_++;
    c.route = &route;
    c.client.kind = c.server.kind = Watch::kSide;
    c.client.connection = c.server.connection = &c;
    c.client.name = "client";
    c.server.name = "server";
    c.client.fd = fd;
    SetNoDelay(fd);
    connections_[c.id] = std::move(connection);
    Log("connection %llu from %s accepted on %s", static_cast<unsigned long long>(c.id),
        AddressText(from).c_str(), route.listen_text.c_str());
    c.server.fd = socket(route.to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.server.fd >= 0) SetNoDelay(c.server.fd);
    if (c.server.fd < 0 ||
        (connect(c.server.fd, reinterpret_cast<sockaddr*>(&route.to), route.to_length) != 0 &&
         errno != EINPROGRESS)) {
      SideFailed(c.server, errno);  // the client is reset after the delay, as a refusal would be
    }
    Pump(c);
  }
}

void Proxy::OnSideEvent(Side& side, uint32_t events) {
  Connection& c = *side.connection;
  int error = 0;
  socklen_t length = sizeof error;
  if (&side == &c.server && !c.server_connected) {
    getsockopt(side.fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
      SideFailed(side, error);
    } else {
      c.server_connected = true;
    }
  } else if (events & EPOLLERR) {
    getsockopt(side.fd, SOL_SOCKET, SO_ERROR, &error, &length);
    SideFailed(side, error ? error : ECONNRESET);
  } else if (events & EPOLLOUT) {
    side.write_blocked = false;
  }
  Pump(c);
}

void Proxy::Pump(Connection& c) {
  bool progress = true;
  for (int round = 0; round < kPumpRounds && progress && !c.closed; ++round) {
    progress = Fill(c, c.client);
    progress |= Fill(c, c.server);
    progress |= Flush(c, c.server);
    progress |= Flush(c, c.client);
  }
  if (c.closed) return;
  // Every end has been passed on, or both sides are gone: nothing is left to forward.
  if (c.up.ended() && c.up.empty() && c.down.ended() && c.down.empty()) {
    Close(c, "both directions ended", false);
    return;
  }
  UpdateInterest(c.client);
  UpdateInterest(c.server);
}

// Reads what `source` has into the line toward the other side, up to the bound. True if
// anything was read or ended.
bool Proxy::Fill(Connection& c, Side& source) {
  DelayLine& line = c.OutOf(source);
  if (source.fd < 0 || line.ended() || (&source == &c.server && !c.server_connected)) return false;
  bool progress = false;
  while (HasRoom(line)) {
    ssize_t n = recv(source.fd, scratch_, sizeof scratch_, 0);
    if (n > 0) {
      line.PushBytes(std::string(scratch_, n), WanClock::now());
      progress = true;
      if (static_cast<size_t>(n) < sizeof scratch_) break;  // drained for now
    } else if (n == 0) {
      line.PushEnd(DelayLine::Kind::kEndOfStream, WanClock::now());
      return true;
    } else if (errno == EINTR) {
      continue;
    } else {
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        SideFailed(source, errno);
        return true;
      }
      break;
    }
  }
  return progress;
}

// Writes what is due of the line toward `destination`. True if anything was written or ended.
bool Proxy::Flush(Connection& c, Side& destination) {
  if (fault_ == Fault::kStall || c.closed) return false;
  DelayLine& line = c.Into(destination);
  bool progress = false;
  WanClock::time_point now = WanClock::now();
  while (line.HeadReady(now)) {
    if (line.HeadKind() == DelayLine::Kind::kReset) {
      Close(c, &destination == &c.server ? "reset by the client" : "reset by the server", true);
      return true;
    }
    if (&destination == &c.server && !c.server_connected) break;
    if (line.HeadKind() == DelayLine::Kind::kEndOfStream) {
      shutdown(destination.fd, SHUT_WR);
      line.PopEnd();
      return true;
    }
    if (destination.write_blocked) break;
    std::string_view bytes = line.HeadBytes();
    ssize_t n = send(destination.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        destination.write_blocked = true;
      } else {
        SideFailed(destination, errno);
        return true;
      }
      break;
    }
    line.ConsumeBytes(n, now);
    (&destination == &c.server ? c.bytes_up : c.bytes_down) += n;
    (&destination == &c.server ? forwarded_up_ : forwarded_down_) += n;
    progress = true;
    if (static_cast<size_t>(n) < bytes.size()) {
      destination.write_blocked = true;
      break;
    }
    now = WanClock::now();
  }
  return progress;
}

// `side` failed (reset, refused, broken pipe): it is closed now; what was queued toward it is
// dropped, and its peer is reset once everything `side` sent before has been passed on.
void Proxy::SideFailed(Side& side, int error) {
  Connection& c = *side.connection;
  if (side.fd < 0) return;
  bool connecting = &side == &c.server && !c.server_connected;
  Log("connection %llu: %s side failed: %s%s%s", static_cast<unsigned long long>(c.id), side.name,
      connecting ? "cannot connect to " : "", connecting ? (c.route->to_text + ": ").c_str() : "",
      strerror(error));
  if (side.registered) epoll_ctl(epoll_, EPOLL_CTL_DEL, side.fd, nullptr);
  side.registered = 0;
  close(side.fd);
  side.fd = -1;
  c.Into(side).Discard();
  if (!c.OutOf(side).ended()) c.OutOf(side).PushEnd(DelayLine::Kind::kReset, WanClock::now());
}

void Proxy::Close(Connection& c, const char* why, bool reset) {
  for (Side* side : {&c.client, &c.server}) {
    if (side->fd < 0) continue;
    if (side->registered) epoll_ctl(epoll_, EPOLL_CTL_DEL, side->fd, nullptr);
    side->registered = 0;
    if (reset)
      CloseWithReset(side->fd);
    else
      close(side->fd);
    side->fd = -1;
  }
  c.closed = true;
  Log("connection %llu closed (%s): %llu bytes to the server, %llu to the client",
      static_cast<unsigned long long>(c.id), why, static_cast<unsigned long long>(c.bytes_up),
      static_cast<unsigned long long>(c.bytes_down));
}

void Proxy::ResetAll(const char* why) {
  for (auto& [id, connection] : connections_)
    if (!connection->closed) Close(*connection, why, true);
}

std::string Proxy::Totals() const {
  char text[128];
  snprintf(text, sizeof text, "forwarded so far: %llu bytes to the servers, %llu to the clients",
           static_cast<unsigned long long>(forwarded_up_),
           static_cast<unsigned long long>(forwarded_down_));
  return text;
}

void Proxy::OnSignal() {
  signalfd_siginfo info;
  while (read(signal_fd_, &info, sizeof info) == sizeof info) {
    size_t open = OpenConnections();
    switch (info.ssi_signo) {
      case SIGUSR1:
        if (usr1_cuts_) {
          fault_ = Fault::kCut;
          ResetAll("cut");
          Log("cut: %zu connections reset, new ones are reset until SIGUSR2; %s", open,
              Totals().c_str());
        } else {
          fault_ = Fault::kStall;
          UpdateListeners();
          Log("stalled: nothing is forwarded until SIGUSR2; %zu connections kept open, bytes kept; "
              "%s",
              open, Totals().c_str());
        }
        break;
      case SIGUSR2:
        fault_ = Fault::kNone;
        UpdateListeners();
        Log("healed: forwarding again (%zu connections); %s", open, Totals().c_str());
        for (auto& [id, connection] : connections_)
          if (!connection->closed) Pump(*connection);
        break;
      case SIGHUP:
        ResetAll("reset on SIGHUP");
        Log("reset: %zu connections reset; %s", open, Totals().c_str());
        break;
      default:
        Log("exiting on %s; %s", strsignal(info.ssi_signo), Totals().c_str());
        exiting_ = true;
        return;
    }
  }
}

void Proxy::UpdateInterest(Side& side) {
  if (side.fd < 0) return;
  Connection& c = *side.connection;
  uint32_t want = 0;
  if (&side == &c.server && !c.server_connected) {
    want = EPOLLOUT;
  } else {
    DelayLine& out = c.OutOf(side);
    if (!out.ended() && HasRoom(out)) want |= EPOLLIN;
    if (side.write_blocked && fault_ != Fault::kStall) want |= EPOLLOUT;
  }
  if (want == side.registered) return;
  // Not registered at all when nothing is wanted: EPOLLHUP is reported even for an empty mask.
  epoll_event event{want, {.ptr = static_cast<Watch*>(&side)}};
  int op = want == 0 ? EPOLL_CTL_DEL : side.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  epoll_ctl(epoll_, op, side.fd, &event);
  side.registered = want;
}

// Listeners are watched except during a stall: new connections then wait in the backlog.
void Proxy::UpdateListeners() {
  bool want = fault_ != Fault::kStall;
  for (Route& route : *routes_) {
    if (want == route.registered) continue;
    epoll_event event{EPOLLIN, {.ptr = static_cast<Watch*>(&route)}};
    epoll_ctl(epoll_, want ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, route.fd, &event);
    route.registered = want;
  }
}

// The timer fires when the earliest head that waits for its time (not for a writable socket) is
// due: exact to the timer's resolution, however long the delay.
void Proxy::ArmTimer() {
  std::optional<WanClock::time_point> earliest;
  if (fault_ != Fault::kStall) {
    for (auto& [id, connection] : connections_) {
      Connection& c = *connection;
      if (c.closed) continue;
      for (Side* destination : {&c.server, &c.client}) {
        if (destination->write_blocked || (destination == &c.server && !c.server_connected))
          continue;
        std::optional<WanClock::time_point> at = c.Into(*destination).HeadReadyAt();
        if (at && (!earliest || *at < *earliest)) earliest = at;
      }
    }
  }
  if (earliest == timer_at_) return;
  itimerspec spec{};
  if (earliest) {
    auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(earliest->time_since_epoch()).count();
    if (ns <= 0) ns = 1;  // zero would disarm the timer
    spec.it_value.tv_sec = ns / 1000000000;
    spec.it_value.tv_nsec = ns % 1000000000;
  }
  timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
  timer_at_ = earliest;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"wan_proxy: a TCP proxy that delays, caps and cuts a link (tests and make bench)"};
  std::vector<std::string> listens, targets;
  int delay_ms = 0;
  double rate_mbps = 0;
  std::string usr1 = "stall";
  size_t queue_mib = kDefaultQueueMib;
  app.add_option("--listen", listens, "HOST:PORT to accept on (repeatable; PORT 0: any free port)")
      ->required();
  app.add_option("--to", targets, "HOST:PORT to forward the n-th --listen to (repeatable)")
      ->required();
  app.add_option("--delay-ms", delay_ms, "delay of each direction in ms")
      ->check(CLI::Range(0, kMaxDelayMs));
  app.add_option("--rate-mbps", rate_mbps, "cap per direction in MB/s (10^6 bytes/s); 0: none")
      ->check(CLI::Range(0.0, 1e6));
  app.add_option("--usr1", usr1, "what SIGUSR1 does: stall or cut")
      ->check(CLI::IsMember({"stall", "cut"}));
  app.add_option("--queue-mib", queue_mib, "bytes held per direction before reading stops, MiB")
      ->check(CLI::Range(1, 1024));
  app.add_option("--name", g_name, "prefix of the log lines");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is not an error
  }
  if (listens.size() != targets.size()) {
    fprintf(stderr, "wan_proxy: give one --to per --listen (%zu --listen, %zu --to)\n",
            listens.size(), targets.size());
    return 2;
  }
  std::vector<Route> routes(listens.size());
  for (size_t i = 0; i < routes.size(); ++i) {
    routes[i].kind = Watch::kListener;
    routes[i].listen_text = listens[i];
    routes[i].to_text = targets[i];
    if (!ParseHostPort(targets[i], &routes[i].to, &routes[i].to_length)) {
      fprintf(stderr, "wan_proxy: --to %s is not HOST:PORT that resolves\n", targets[i].c_str());
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  const double bytes_per_second = rate_mbps * 1e6;
  size_t bound = queue_mib << 20;
  if (bytes_per_second > 0) {
    size_t link_buffer =
        static_cast<size_t>(bytes_per_second * delay_ms / 1000.0) + kPacedHeadroomBytes;
    bound = std::min(bound, link_buffer);
  }
  auto proxy = std::make_unique<Proxy>(std::chrono::milliseconds(delay_ms), bytes_per_second,
                                       usr1 == "cut", bound);
  if (!proxy->Open(routes)) return 1;
  int code = proxy->Run();
  Log("exited");
  return code;
}
