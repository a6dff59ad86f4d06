#include "node/latency_histogram.h"

#include <bit>
#include <cstdlib>
#include <limits>

#include <spdlog/spdlog.h>

namespace pairfs::node {

namespace {

uint64_t Nanos(std::chrono::steady_clock::duration span) {
  return span.count() <= 0
             ? 0
             : static_cast<uint64_t>(
                   std::chrono::duration_cast<std::chrono::nanoseconds>(span).count());
}

constexpr uint64_t kFirstBucketNs = 1024;  // bucket 0: under 2^10 ns

std::atomic<uint64_t> trace_budget{0};

// Takes one line of the trace budget; false when it is spent.
bool TakeTraceLine() {
  uint64_t left = trace_budget.load(std::memory_order_relaxed);
  while (left > 0) {
    if (trace_budget.compare_exchange_weak(left, left - 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

}  // namespace

// ---- LatencyHistogram ---------------------------------------------------------------------------

size_t LatencyHistogram::BucketOf(uint64_t nanoseconds) {
  if (nanoseconds < kFirstBucketNs) return 0;
  const size_t bucket = static_cast<size_t>(std::bit_width(nanoseconds)) - 10;
  return bucket < kBuckets ? bucket : kBuckets - 1;
}

uint64_t LatencyHistogram::BucketUpperNs(size_t bucket) {
  if (bucket + 1 >= kBuckets) return std::numeric_limits<uint64_t>::max();
  return kFirstBucketNs << bucket;
}

void LatencyHistogram::Record(uint64_t nanoseconds) {
  counts_[BucketOf(nanoseconds)].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(nanoseconds, std::memory_order_relaxed);
}

LatencyHistogram::Snapshot LatencyHistogram::Read() const {
  Snapshot snapshot;
  for (size_t i = 0; i < kBuckets; ++i)
    snapshot.counts[i] = counts_[i].load(std::memory_order_relaxed);
  snapshot.count = count_.load(std::memory_order_relaxed);
  snapshot.sum_ns = sum_ns_.load(std::memory_order_relaxed);
  return snapshot;
}

uint64_t LatencyHistogram::Snapshot::QuantileUpperNs(double fraction) const {
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  if (total == 0) return 0;
  const double wanted = fraction * static_cast<double>(total);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts[i];
    if (static_cast<double>(seen) >= wanted && seen > 0) return BucketUpperNs(i);
  }
  return BucketUpperNs(kBuckets - 1);
}

// ---- stages -------------------------------------------------------------------------------------

const char* StageName(Stage stage) {
  switch (stage) {
    case Stage::kFuseWrite: return "fuse_write";
    case Stage::kFuseFsync: return "fuse_fsync";
    case Stage::kWrite: return "write";
    case Stage::kWriteLock: return "write_lock";
    case Stage::kWriteWindow: return "write_window";
    case Stage::kWriteSend: return "write_send";
    case Stage::kWriteLocal: return "write_local";
    case Stage::kWriteWait: return "write_wait";
    case Stage::kWriteRoundTrip: return "write_round_trip";
    case Stage::kFlush: return "flush";
    case Stage::kFlushSend: return "flush_send";
    case Stage::kFlushLocal: return "flush_local";
    case Stage::kFlushWait: return "flush_wait";
    case Stage::kFlushRoundTrip: return "flush_round_trip";
    case Stage::kServeWrite: return "serve_write";
    case Stage::kServeWriteLocal: return "serve_write_local";
    case Stage::kServeFlush: return "serve_flush";
    case Stage::kServeFlushLocal: return "serve_flush_local";
    case Stage::kWriteSyncAhead: return "write_sync_ahead";
    case Stage::kCount: break;
  }
  return "unknown";
}

std::string StageTable::Summary() const {
  std::string text;
  for (size_t i = 0; i < kStageCount; ++i) {
    const LatencyHistogram::Snapshot s = histograms_[i].Read();
    if (s.count == 0) continue;
    text += fmt::format("{}{}: n={} mean={}us p50<{}us p99<{}us", text.empty() ? "" : "; ",
                        StageName(static_cast<Stage>(i)), s.count, s.sum_ns / s.count / 1000,
                        s.QuantileUpperNs(0.5) / 1000, s.QuantileUpperNs(0.99) / 1000);
  }
  return text;
}

StageTable& StageLatencies() {
  static StageTable table;
  return table;
}

void TraceNextWrites(uint64_t count) { trace_budget.store(count, std::memory_order_relaxed); }

void TraceWritesFromEnvironment() {
  const char* text = std::getenv("PAIRFS_TRACE_WRITES");
  if (text == nullptr || *text == '\0') return;
  char* end = nullptr;
  const unsigned long long count = std::strtoull(text, &end, 10);
  if (*end != '\0') {
    spdlog::warn("PAIRFS_TRACE_WRITES={} is not a count; no trace", text);
    return;
  }
  spdlog::info("tracing the stage times of the next {} writes and flushes", count);
  TraceNextWrites(count);
}

// ---- StageTimer ---------------------------------------------------------------------------------

StageTimer::StageTimer(Stage whole, LatencyHistogram* volume_whole)
    : whole_(whole),
      volume_whole_(volume_whole),
      start_(Clock::now()),
      last_(start_),
      tracing_(TakeTraceLine()) {}

StageTimer::~StageTimer() {
  const Clock::time_point end = Clock::now();
  const uint64_t whole_ns = Nanos(end - start_);
  Note(whole_, whole_ns);
  if (volume_whole_ != nullptr) volume_whole_->Record(whole_ns);
  if (!tracing_) return;
  std::string line;
  for (size_t i = 0; i < kStageCount; ++i) {
    if (traced_us_[i] == 0 && static_cast<Stage>(i) != whole_) continue;
    line += fmt::format(" {}={}", StageName(static_cast<Stage>(i)), traced_us_[i]);
  }
  spdlog::info("trace {} (us):{}", StageName(whole_), line);
}

void StageTimer::Note(Stage stage, uint64_t nanoseconds) {
  StageLatencies().Record(stage, nanoseconds);
  if (tracing_) traced_us_[static_cast<size_t>(stage)] += static_cast<uint32_t>(nanoseconds / 1000);
}

StageTimer::Clock::time_point StageTimer::Mark(Stage stage) {
  const Clock::time_point now = Clock::now();
  Note(stage, Nanos(now - last_));
  last_ = now;
  return now;
}

void StageTimer::Since(Stage stage, Clock::time_point start) { Span(stage, start, Clock::now()); }

void StageTimer::Span(Stage stage, Clock::time_point start, Clock::time_point end) {
  Note(stage, Nanos(end - start));
}

}  // namespace pairfs::node
