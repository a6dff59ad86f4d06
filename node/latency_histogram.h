// Where a write's and an fsync's microseconds go: latency histograms of the stages of the write
// path (doc/design.md "what a write, discard or fsync does in each status"), always on, and a
// short trace mode that logs the stage times of the next N writes and flushes.
//
// LatencyHistogram: counts of durations in fixed log2 buckets of nanoseconds. Recording is one
// relaxed atomic add per counter (no lock), cheap enough for every write; reading takes a
// snapshot of every bucket (not atomic as a whole: a write recorded meanwhile may show in the
// count and not yet in its bucket). Thread-safe.
//
// Stage: the stages measured, named for logs and metrics (StageName). StageLatencies() is the
// process's table of one histogram per stage (issue 15's metrics export it).
//
// VolumeLatencies: one volume's whole FUSE write and fsync requests (issue 15's
// pairfs_write_latency_seconds{volume}, pairfs_fsync_latency_seconds{volume}); each Volume holds
// one (node/volume.h), for as long as the volume is loaded.
//
// StageTimer: one write's (or flush's, or served request's) stages on one thread: Mark(stage)
// records the time since the previous mark into that stage; Since(stage, start) records a span
// that overlaps others (the round trip); the destructor records the whole (also into the
// volume's histogram when one is given) and, while the trace budget lasts, logs one line with
// every stage's microseconds. Not thread-safe (one per call).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace pairfs::node {

class LatencyHistogram {
 public:
  // Bucket 0 counts durations under 1024 ns; bucket i (1 <= i < kBuckets - 1) those in
  // [2^(i+9), 2^(i+10)) ns; the last counts everything from 2^(kBuckets+8) ns (~1.1 s) up.
  static constexpr size_t kBuckets = 22;

  struct Snapshot {
    std::array<uint64_t, kBuckets> counts{};
    uint64_t count = 0;   // of every duration recorded
    uint64_t sum_ns = 0;  // their sum
    // The upper bound (ns) of the bucket holding the `fraction` (0..1) quantile; 0 when empty.
    uint64_t QuantileUpperNs(double fraction) const;
  };

  void Record(uint64_t nanoseconds);
  Snapshot Read() const;
  // The bucket a duration falls in, and a bucket's exclusive upper bound in ns (the last
  // bucket's is UINT64_MAX).
  static size_t BucketOf(uint64_t nanoseconds);
  static uint64_t BucketUpperNs(size_t bucket);

 private:
  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

// One volume's histograms of the whole FUSE request, as the application sees it (the same span
// as the fuse_write and fuse_fsync stages). Thread-safe (relaxed atomics).
struct VolumeLatencies {
  LatencyHistogram write;
  LatencyHistogram fsync;
};

// The stages of the write path. At the writing site (the primary of a sync pair): kWrite* and
// kFlush*; at the peer: kServe*. The round trips overlap the local stages; the others of one
// write follow each other.
enum class Stage : size_t {
  kFuseWrite,        // the FUSE write handler, from its call to its reply (any pair status)
  kFuseFsync,        // the FUSE fsync handler
  kWrite,            // a replicated write in Replicator, whole
  kWriteLock,        // waiting for its range and marking the activity log
  kWriteWindow,      // waiting for room in the data window (node/peer_calls.h DataWindow)
  kWriteSend,        // encoding its frame(s) (a copy of the data) and queueing them to the link
  kWriteLocal,       // writing this site's copy
  kWriteWait,        // after the local write, waiting for the peer's answer
  kWriteRoundTrip,   // from queueing the frame(s) to the peer's (last) answer
  kFlush,            // a flush with the peer, whole
  kFlushSend,        // encoding and queueing the flush
  kFlushLocal,       // this site's fdatasync
  kFlushWait,        // after it, waiting for the peer's answer
  kFlushRoundTrip,   // from queueing the flush to its answer
  kServeWrite,       // at the peer: a replica write from its dispatch to its answer queued
  kServeWriteLocal,  // of which the write of its copy
  kServeFlush,       // at the peer: a flush from its dispatch to its answer queued
  kServeFlushLocal,  // of which its fdatasync
  kWriteSyncAhead,   // a write that sent a flush ahead: this site's fdatasync after its copy
  kCount,
};
inline constexpr size_t kStageCount = static_cast<size_t>(Stage::kCount);

// "fuse_write", "write_round_trip", ...: the stage's name for logs and metrics.
const char* StageName(Stage stage);

// The process's histograms, one per stage. Thread-safe; lives as long as the process.
class StageTable {
 public:
  void Record(Stage stage, uint64_t nanoseconds) {
    histograms_[static_cast<size_t>(stage)].Record(nanoseconds);
  }
  const LatencyHistogram& Of(Stage stage) const { return histograms_[static_cast<size_t>(stage)]; }
  // One line per stage that has counts: "stage: n=… mean=…µs p50<…µs p99<…µs" (for logs).
  std::string Summary() const;

 private:
  std::array<LatencyHistogram, kStageCount> histograms_;
};
StageTable& StageLatencies();

// The trace mode: the next `count` StageTimers log their stages (at info). PAIRFS_TRACE_WRITES=N
// in the daemon's environment sets it at start (pairfs(8)). Thread-safe.
void TraceNextWrites(uint64_t count);
// Reads PAIRFS_TRACE_WRITES (a count; absent, empty or not a number: no trace).
void TraceWritesFromEnvironment();

class StageTimer {
 public:
  using Clock = std::chrono::steady_clock;

  // Times `whole` from now; the destructor records it also into `volume_whole` when given (it
  // must outlive the timer).
  explicit StageTimer(Stage whole, LatencyHistogram* volume_whole = nullptr);
  ~StageTimer();
  StageTimer(const StageTimer&) = delete;
  StageTimer& operator=(const StageTimer&) = delete;

  // Records the time since the previous mark (or the start) as `stage`; returns now.
  Clock::time_point Mark(Stage stage);
  // Records the span from `start` to now as `stage`, leaving the mark where it was.
  void Since(Stage stage, Clock::time_point start);
  // Records the span from `start` to `end` as `stage`.
  void Span(Stage stage, Clock::time_point start, Clock::time_point end);
  Clock::time_point now() const { return Clock::now(); }

 private:
  void Note(Stage stage, uint64_t nanoseconds);
  const Stage whole_;
  LatencyHistogram* const volume_whole_;
  const Clock::time_point start_;
  Clock::time_point last_;
  bool tracing_;
  std::array<uint32_t, kStageCount> traced_us_{};  // only while tracing
};

}  // namespace pairfs::node
