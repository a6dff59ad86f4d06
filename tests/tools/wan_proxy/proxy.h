// The proxy of build/tools/wan_proxy (usage and signals: tests/tools/wan_proxy/main.cc): one
// thread, one epoll loop over the listeners, both sides of every connection, a signalfd and a
// timerfd; the delay lines (tests/tools/wan_delay_line.h) hold what is not due yet. proxy.cc
// accepts, reads and writes; proxy_control.cc reacts to the signals, keeps the epoll interest and
// arms the timer. Not thread-safe: everything runs on the thread that calls Run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/tools/wan_connection.h"

namespace pairfs::tools {

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

// The prefix of the log lines (--name).
extern std::string g_name;
// One line on stderr: the UTC time, g_name and the printf-formatted message.
void Log(const char* format, ...) __attribute__((format(printf, 1, 2)));

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

}  // namespace pairfs::tools
