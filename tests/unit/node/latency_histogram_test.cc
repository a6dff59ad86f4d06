#include "node/latency_histogram.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <thread>
#include <vector>

using namespace pairfs::node;

TEST_CASE("latency buckets are log2 of nanoseconds from 1024 ns up, the last open-ended",
          "[latency]") {
  CHECK(LatencyHistogram::BucketOf(0) == 0);
  CHECK(LatencyHistogram::BucketOf(1023) == 0);
  CHECK(LatencyHistogram::BucketOf(1024) == 1);
  CHECK(LatencyHistogram::BucketOf(2047) == 1);
  CHECK(LatencyHistogram::BucketOf(2048) == 2);
  CHECK(LatencyHistogram::BucketOf(std::numeric_limits<uint64_t>::max()) ==
        LatencyHistogram::kBuckets - 1);
  // Each bucket's upper bound is the next one's first duration.
  for (size_t i = 0; i + 1 < LatencyHistogram::kBuckets; ++i) {
    const uint64_t upper = LatencyHistogram::BucketUpperNs(i);
    CHECK(LatencyHistogram::BucketOf(upper - 1) == i);
    CHECK(LatencyHistogram::BucketOf(upper) == i + 1);
  }
  CHECK(LatencyHistogram::BucketUpperNs(LatencyHistogram::kBuckets - 1) ==
        std::numeric_limits<uint64_t>::max());
}

TEST_CASE("a histogram counts every duration in its bucket, with count and sum", "[latency]") {
  LatencyHistogram histogram;
  histogram.Record(500);      // bucket 0
  histogram.Record(3000);     // [2048, 4096): bucket 2
  histogram.Record(3500);     // bucket 2
  histogram.Record(1000000);  // 1 ms: [2^19, 2^20): bucket 10
  const LatencyHistogram::Snapshot snapshot = histogram.Read();
  CHECK(snapshot.count == 4);
  CHECK(snapshot.sum_ns == 500 + 3000 + 3500 + 1000000);
  CHECK(snapshot.counts[0] == 1);
  CHECK(snapshot.counts[2] == 2);
  CHECK(snapshot.counts[10] == 1);
  CHECK(snapshot.QuantileUpperNs(0.5) == 4096);
  CHECK(snapshot.QuantileUpperNs(1.0) == LatencyHistogram::BucketUpperNs(10));
  CHECK(LatencyHistogram().Read().QuantileUpperNs(0.5) == 0);
}

TEST_CASE("a histogram recorded by many threads at once loses no count", "[latency]") {
  LatencyHistogram histogram;
  constexpr int kThreads = 4;
  constexpr int kEach = 10000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&histogram, t] {
      for (int i = 0; i < kEach; ++i) histogram.Record(static_cast<uint64_t>(t + 1) * 1500);
    });
  }
  for (std::thread& thread : threads) thread.join();
  const LatencyHistogram::Snapshot snapshot = histogram.Read();
  CHECK(snapshot.count == kThreads * kEach);
  uint64_t in_buckets = 0;
  for (uint64_t c : snapshot.counts) in_buckets += c;
  CHECK(in_buckets == snapshot.count);
}

TEST_CASE("a stage timer records each mark and its whole in the process's table", "[latency]") {
  const uint64_t before_whole = StageLatencies().Of(Stage::kServeFlush).Read().count;
  const uint64_t before_local = StageLatencies().Of(Stage::kServeFlushLocal).Read().count;
  {
    StageTimer timer(Stage::kServeFlush);
    const StageTimer::Clock::time_point start = timer.now();
    timer.Since(Stage::kServeFlushLocal, start);
  }
  CHECK(StageLatencies().Of(Stage::kServeFlush).Read().count == before_whole + 1);
  CHECK(StageLatencies().Of(Stage::kServeFlushLocal).Read().count == before_local + 1);
  CHECK(StageLatencies().Summary().find("serve_flush:") != std::string::npos);
  CHECK(std::string(StageName(Stage::kWriteRoundTrip)) == "write_round_trip");
}
