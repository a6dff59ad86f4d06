// A node::TimeSource (node/time_source.h) that moves only when the test says: a Replicator given it
// (ReplicatorOptions::clock) sees no time pass while the test holds it, whatever the wall clock
// does. Thread-safe: the replicator's threads read it while the test moves it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "node/time_source.h"

namespace pairfs::sim {

class ManualClock : public node::TimeSource {
 public:
  int64_t NowMs() const override { return now_ms_.load(); }
  // Returns after at most kManualClockPollMs of real time, so that a waiter sees a move of the
  // clock that no notify announced (the waiter checks its deadline again).
  void WaitUntil(std::condition_variable& ready, std::unique_lock<std::mutex>& lock,
                 int64_t deadline_ms) const override {
    if (NowMs() < deadline_ms) ready.wait_for(lock, std::chrono::milliseconds(kManualClockPollMs));
  }
  // A poll's pause: kManualClockPollMs of real time, whatever `ms` (the poller's deadline is on
  // this clock, so it waits for the test's move).
  void Pause(int64_t /*ms*/) const override {
    std::this_thread::sleep_for(std::chrono::milliseconds(kManualClockPollMs));
  }
  void Advance(int64_t ms) { now_ms_.fetch_add(ms); }
  static constexpr int kManualClockPollMs = 1;

 private:
  std::atomic<int64_t> now_ms_{1'000'000};  // any start: only differences mean anything
};

}  // namespace pairfs::sim
