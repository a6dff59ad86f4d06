#include "node/activity_log.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "node/limits.h"
#include "node/replicator_internal.h"

namespace pairfs::node {

using namespace replicator_internal;
using wire::MessageType;

namespace replicator_internal {

namespace {

// How far a long write at `offset` that reaches an unmarked extent marks ahead: doubling the
// stream's marked run behind it, like a readahead window (kMarkAheadBytes, node/limits.h).
uint64_t MarkAheadBytes(const RegionSet& regions, uint64_t offset) {
  const uint64_t region_bytes = regions.region_bytes();
  const uint64_t behind =
      regions.MarkedRunBefore(offset / region_bytes, kMarkAheadMaxBytes / region_bytes) *
      region_bytes;
  return std::clamp(behind, kMarkAheadBytes, kMarkAheadMaxBytes);
}

}  // namespace

Activity::~Activity() {
  if (pair_ == nullptr) return;
  std::lock_guard<std::mutex> lock(pair_->epoch_mutex);
  if (--pair_->in_flight[epoch_] == 0) pair_->in_flight.erase(epoch_);
}

Result<Activity> Activity::Begin(Replicator::Pair& pair, uint64_t offset, uint64_t length,
                                 bool extents) {
  if (extents) {
    const uint64_t extent = std::max(kActivityExtentBytes, pair.regions->region_bytes());
    uint64_t end = offset + length;
    // A long write reaching an extent not marked yet is most likely a sequential stream: the
    // extents ahead are marked with it, in the same metadata flush, instead of one flush each.
    if (length >= kMarkAheadMinWriteBytes &&
        !pair.regions->IsMarked((end - 1) / pair.regions->region_bytes())) {
      end += MarkAheadBytes(*pair.regions, offset);
    }
    offset -= offset % extent;
    length = std::min(pair.volume->size_bytes(), end + (extent - end % extent) % extent) - offset;
  }
  std::shared_lock<std::shared_mutex> marking(pair.al_mutex);
  Activity activity;
  {
    std::lock_guard<std::mutex> lock(pair.epoch_mutex);
    activity.pair_ = &pair;
    activity.epoch_ = pair.epoch;
    ++pair.in_flight[pair.epoch];
    const uint64_t region_bytes = pair.regions->region_bytes();
    const uint64_t last =
        std::min<uint64_t>((offset + length - 1) / region_bytes, pair.last_epoch.size() - 1);
    for (uint64_t region = offset / region_bytes; region <= last; ++region) {
      if (pair.last_epoch[region] != kPinnedEpoch) pair.last_epoch[region] = pair.epoch;
    }
  }
  Status marked = pair.regions->MarkBeforeWrite(offset, length);
  if (!marked.ok()) {
    // Refused before anything is written: a write the dirty bitmap cannot cover never happens.
    return Status(marked.code(),
                  "volume " + pair.volume->name() +
                      ": the write is refused, its region cannot be marked in the "
                      "dirty bitmap: " +
                      marked.message(),
                  marked.error_number());
  }
  return activity;
}

}  // namespace replicator_internal

// ---- the trim: epochs closed, regions cleared once both copies hold their writes --------------

uint32_t Replicator::CloseEpoch(Pair& pair) {
  std::lock_guard<std::mutex> lock(pair.epoch_mutex);
  return pair.epoch++;
}

void Replicator::ClearActivityThrough(Pair& pair, uint32_t closing, bool keep_hot,
                                      const wire::Generation& generation, PairStatus status) {
  std::unique_lock<std::shared_mutex> no_marking(pair.al_mutex);
  const Pair::View now = pair.Snapshot();
  if (!(now.generation == generation) || now.state.status != status)
    return;  // changed meanwhile: keep all
  std::vector<uint64_t> clear;
  {
    std::lock_guard<std::mutex> lock(pair.epoch_mutex);
    for (uint64_t region : pair.regions->MarkedRegions()) {
      const uint32_t touched = pair.last_epoch[region];
      if (keep_hot ? touched < closing : touched <= closing) clear.push_back(region);
    }
  }
  if (clear.empty()) return;
  Status cleared = pair.regions->ClearRegions(clear);
  if (!cleared.ok())
    spdlog::warn("pair {}: cannot trim the activity log: {}", pair.volume->name(),
                 cleared.message());
}

void Replicator::TrimActivityLog(Pair& pair, bool keep_hot) {
  const Pair::View view = pair.Snapshot();
  // An async primary journaling its writes (PAIR, PFUL; finding F1 of issue 13).
  const bool journaling =
      view.context.mode == PairMode::kAsync && view.state.role == PairRole::kPrimary &&
      (view.state.status == PairStatus::kPAIR || view.state.status == PairStatus::kPFUL);
  if ((view.state.status != PairStatus::kPAIR && !journaling) || pair.regions->marked_bytes() == 0)
    return;
  const uint32_t closing = CloseEpoch(pair);
  // Every write of the closing epoch (and before) must have finished at both copies, within
  // peer_timeout_ms of the replicator's clock (polled every 2 ms of it).
  const int64_t deadline = NowMs() + options_.peer_timeout_ms;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(pair.epoch_mutex);
      if (pair.in_flight.empty() || pair.in_flight.begin()->first > closing) break;
    }
    if (NowMs() > deadline) return;
    ClockOrSteady(options_.clock).Pause(2);
  }
  if (journaling) {
    // The journal is the write-ahead log: once it holds every write of the closed epochs
    // durably, a restart replays them, and the marks are no longer needed to find them. The end
    // of a copy (not keep_hot) also flushes both copies below, as for a sync pair.
    if (!async_->SyncJournalOf(pair).ok()) return;
    if (keep_hot) {
      // Every finished write's region is cleared, hot ones too (keep_hot false): its entry is
      // durable now. Keeping hot regions left seconds of writes marked, and a primary killed
      // under load re-journaled them all at its restart, past half its journal: PFUS
      // (async_pair.sh). A hot region is marked again by its next write (one bitmap write).
      ClearActivityThrough(pair, closing, false, view.generation, view.state.status);
      return;
    }
  }
  Status flushed = pair.volume->Flush();
  if (!flushed.ok()) {  // the marks stay: any write since the last flush may be lost here
    KeepAllChanged(pair);
    SuspendOnDiskFault(pair, view.generation, "a flush failed here: " + flushed.message());
    return;
  }
  wire::FlushMessage flush{view.peer_volume, view.generation, 0, 0};
  Result<wire::Frame> answer =
      Exchange(MessageType::kFlush, wire::EncodeBody(flush), options_.peer_timeout_ms);
  wire::FlushMessage reply;
  if (!answer.ok() || !wire::DecodeBody(answer->body, &reply).ok() || reply.code != 0) {
    if (answer.ok() && IsDiskFault(reply.code)) {
      KeepAllChanged(pair);
      SuspendOnDiskFault(pair, view.generation, "a flush failed at site " + options_.peer_site);
    }
    return;
  }
  ClearActivityThrough(pair, closing, keep_hot, view.generation, PairStatus::kPAIR);
}

}  // namespace pairfs::node
