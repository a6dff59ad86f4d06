// link_rtt (tests/tools/link_rtt/; usage and what it measures: main.cc): what the two transports
// share. Each Measure* runs kWarmupRoundTrips round trips and then `count` measured ones between
// two threads of this process on 127.0.0.1, a frame of `bytes` one way and kReplyBytes back, and
// returns the measured ones' durations in nanoseconds, or the first failure. zmq.cc: ZeroMQ as
// the peer link uses it; tcp.cc: one plain TCP connection; wakeup.cc: no transport, the two
// threads' wake-ups alone. Each call sets up and tears down its own sockets and thread; not to be
// called from two threads at once (it would measure both).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "wire/status.h"

namespace pairfs::link_rtt {

using Clock = std::chrono::steady_clock;

// Round trips before the measured ones: connections up, caches, allocator and CPU clocks warm.
constexpr int kWarmupRoundTrips = 1000;
// The answer's size: an acknowledgement is a 64-byte envelope and a small body.
constexpr size_t kReplyBytes = 64;
// Every wait for the other thread (or, at the start, for a connection) ends after this: a lost
// frame is an error, not a hang.
constexpr int kWaitTimeoutMs = 5000;
// 8 bytes of memory per measured round trip.
constexpr int kMaxRoundTrips = 10'000'000;

Result<std::vector<int64_t>> MeasureZmq(size_t bytes, int count);
Result<std::vector<int64_t>> MeasureTcp(size_t bytes, int count);
// Two wake-ups, no network (`bytes` unused): wakeup.cc.
Result<std::vector<int64_t>> MeasureWakeup(size_t bytes, int count);

// Runs `round_trip` (returning Status) kWarmupRoundTrips + count times on the calling thread and
// times each; the measured ones' durations in nanoseconds, or the first failure.
template <class RoundTrip>
Result<std::vector<int64_t>> Measure(int count, RoundTrip round_trip) {
  std::vector<int64_t> nanoseconds;
  nanoseconds.reserve(count);
  for (int i = 0; i < kWarmupRoundTrips + count; ++i) {
    const auto start = Clock::now();
    Status status = round_trip();
    const auto end = Clock::now();
    if (!status.ok()) return status;
    if (i >= kWarmupRoundTrips)
      nanoseconds.push_back(
          std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
  }
  return nanoseconds;
}

}  // namespace pairfs::link_rtt
