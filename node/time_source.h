// The time a Replicator reads (ReplicatorOptions::clock): the first part of an Env seam like
// leveldb's, so that a test can hold or move the replicator's time. The daemon uses the steady
// clock; tests/sim/manual_clock.h is a clock a test moves by hand. SteadyNowMs is the node's one
// plain "steady now in milliseconds" for the timers and ages that no test holds.
//
// What reads the injected clock: the background thread's tick and timers (statuses every
// status_interval_ms, trims every trim_interval_ms), the link's silence (nothing heard for
// peer_timeout_ms: the link is lost) and when the peer was last heard, the peer-status watch
// (node/peer_status_rules.h), peer_heard_ms_ago, an ask's deadline and retransmits
// (node/peer_calls.h: every call of the write path, the copy engine, the commands and the
// votes), the trim's wait for writes in flight and its polls, the takeover's probe, the restart
// resyncs' silence check, an async group's ages and intervals (AsyncGroupHooks::clock: lag_ms,
// the RPO's ages, checkpoints) and the operators' waits on a group (WaitShipped, WaitRestored,
// WaitPeerApplied), and the group's threads' timed waits (AsyncGroup::WaitFor). What does not
// yet (issue 12, tests/sim/README.md "The Env seam"): the replicator's threads' waits for work
// (the threads themselves start through node/thread_starter.h), the writers' PFUL pacing, the
// witness's calls (wire/), and measurements (latency stages, a copy's duration).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace pairfs::node {

// std::chrono::steady_clock in milliseconds: only differences mean anything.
inline int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Milliseconds on a monotonic scale: only differences mean anything. Thread-safe.
class TimeSource {
 public:
  virtual ~TimeSource() = default;
  virtual int64_t NowMs() const = 0;
  // Waits on `ready` (whose mutex `lock` holds) until it is notified or this clock may have
  // reached `deadline_ms`; may return early (the caller checks its condition and the time again).
  virtual void WaitUntil(std::condition_variable& ready, std::unique_lock<std::mutex>& lock,
                         int64_t deadline_ms) const = 0;
  // A poll's pause between two looks at a condition: waits up to `ms` of this clock; may return
  // early (a poller checks its condition and its deadline, both on this clock, again).
  virtual void Pause(int64_t ms) const = 0;
};

// The steady clock (SteadyNowMs; the daemon's clock). Thread-safe.
class SteadyTimeSource : public TimeSource {
 public:
  int64_t NowMs() const override { return SteadyNowMs(); }
  void WaitUntil(std::condition_variable& ready, std::unique_lock<std::mutex>& lock,
                 int64_t deadline_ms) const override {
    ready.wait_until(lock,
                     std::chrono::steady_clock::time_point(std::chrono::milliseconds(deadline_ms)));
  }
  void Pause(int64_t ms) const override {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  }
};

// The steady clock, for whoever is given no clock. Never destroyed: a thread still running while
// the process exits may read it (a destroyed one's call would abort: pure virtual).
inline const TimeSource& DefaultTimeSource() {
  static const TimeSource* const steady = new SteadyTimeSource;
  return *steady;
}

// An injected clock (an options field, null when none is given) or the steady clock.
inline const TimeSource& ClockOrSteady(const TimeSource* clock) {
  return clock != nullptr ? *clock : DefaultTimeSource();
}

}  // namespace pairfs::node
