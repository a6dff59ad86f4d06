// build/tools/wan_proxy (tests/tools/wan_proxy/proxy.h): binding the routes, the loop, accepting,
// and moving bytes through the delay lines of each connection; closing and resetting.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "tests/tools/wan_proxy/proxy.h"

namespace pairfs::tools {

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

}  // namespace pairfs::tools
