// build/tools/wan_proxy (tests/tools/wan_proxy/proxy.h): what the signals do (stall, cut, heal,
// reset, exit), which events each socket is watched for, and when the timer fires.
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

}  // namespace pairfs::tools
