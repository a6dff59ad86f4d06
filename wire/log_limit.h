// Rate-limited logging of refusals: input that anyone can send (garbage frames, refused
// messages, a flood of retransmits) must not fill DATA_DIR with one log line per message.
//
// A LogLimiter counts events per kind (a short key: "peer b: malformed replica write") and says
// when one may be logged: the first of a kind at once, then at most one line per interval, each
// carrying how many were suppressed since the last line. Thread-safe (one mutex; the map holds at
// most kMaxLogKinds kinds, the rest share one overflow kind, so a sender cannot grow it by
// inventing kinds).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include <spdlog/spdlog.h>

namespace pairfs::wire {

class LogLimiter {
 public:
  // `interval_ms`: the shortest time between two lines of one kind. `now_ms` is injected by tests
  // (the simulation's clock); 0 means the steady clock.
  explicit LogLimiter(int64_t interval_ms = kDefaultIntervalMs) : interval_ms_(interval_ms) {}

  // Counts one event of `kind` and returns true when a line should be logged now; then
  // `*suppressed` is the number of events of this kind not logged since the last line.
  bool Allow(const std::string& kind, uint64_t* suppressed, int64_t now_ms = 0);

  // Every event of `kind` counted so far (logged or not): the refusal counters tests and metrics
  // read.
  uint64_t Count(const std::string& kind) const;
  // Events over every kind.
  uint64_t Total() const;
  // metrics (issue 15): every kind's count (at most kMaxLogKinds entries), by kind.
  std::map<std::string, uint64_t> Counts() const;

  // One line per kind per 10 s: a person reading the log still sees each kind of refusal, and a
  // flood of 100,000 frames a second writes 6 lines a minute.
  static constexpr int64_t kDefaultIntervalMs = 10000;
  // Distinct kinds remembered; more share the kind "other" (see the class comment).
  static constexpr size_t kMaxLogKinds = 256;

 private:
  struct Kind {
    uint64_t total = 0;
    uint64_t suppressed = 0;
    int64_t last_logged_ms = 0;
    bool logged = false;
  };
  const int64_t interval_ms_;
  mutable std::mutex mutex_;
  std::map<std::string, Kind> kinds_;
  uint64_t total_ = 0;
};

// The process's limiter for refusals of peer input (the peer link, the replicator, heartbeats, the
// witness and the control endpoints share it, so one flood is one set of counters).
LogLimiter& RefusalLog();

}  // namespace pairfs::wire

// Logs `fmt, ...` at warn level through `limiter` under `kind`, with the suppressed count
// appended when there is one. Arguments are evaluated only when the line is logged.
#define PAIRFS_LOG_REFUSAL(limiter, kind, ...)                                    \
  do {                                                                            \
    uint64_t pairfs_suppressed_ = 0;                                              \
    if ((limiter).Allow((kind), &pairfs_suppressed_)) {                           \
      if (pairfs_suppressed_ == 0) {                                              \
        spdlog::warn(__VA_ARGS__);                                                \
      } else {                                                                    \
        spdlog::warn("{} ({} more like it not logged)", fmt::format(__VA_ARGS__), \
                     pairfs_suppressed_);                                         \
      }                                                                           \
    }                                                                             \
  } while (0)
