// Faults of the local disk in a pair (doc/design.md "Faults of the local disk"): a write or flush
// that fails at either copy while the pair replicates suspends it, with the regions that may
// differ marked and pinned until a copy repairs them. Rare paths: the hot write path pays nothing.
#include <algorithm>

#include <spdlog/spdlog.h>

#include "node/replicator.h"
#include "node/replicator_internal.h"

namespace pairfs::node {
namespace {

using namespace replicator_internal;

}  // namespace

void Replicator::KeepChanged(Pair& pair, uint64_t offset, uint64_t length) {
  if (length == 0) return;
  const uint64_t region_bytes = pair.regions->region_bytes();
  {
    std::lock_guard<std::mutex> lock(pair.epoch_mutex);
    const uint64_t last =
        std::min<uint64_t>((offset + length - 1) / region_bytes, pair.last_epoch.size() - 1);
    for (uint64_t region = offset / region_bytes; region <= last; ++region)
      pair.last_epoch[region] = kPinnedEpoch;
  }
  Status marked = pair.regions->MarkBeforeWrite(offset, length);
  if (!marked.ok()) {
    spdlog::critical(
        "pair {}: a failed write's region cannot be marked in the dirty bitmap ({}); it is kept "
        "in memory only: resync before restarting this node",
        pair.volume->name(), marked.message());
  }
}

void Replicator::KeepAllChanged(Pair& pair) {
  std::lock_guard<std::mutex> lock(pair.epoch_mutex);
  for (uint64_t region : pair.regions->MarkedRegions()) pair.last_epoch[region] = kPinnedEpoch;
}

void Replicator::SuspendOnDiskFault(Pair& pair, const wire::Generation& seen,
                                    const std::string& why) {
  std::lock_guard<std::mutex> lock(pair.mutex);
  if (!(pair.generation == seen) || !IsReplicating(pair.state.status)) return;  // already apart
  Result<PairTransition> transition = Transit(pair.state, PairEvent::kWriteFailed, pair.context);
  if (!transition.ok()) return;
  spdlog::error("pair {}: {}; suspending (PSUE): resync once the disk is repaired",
                pair.volume->name(), why);
  (void)Commit(pair, transition.value(), nullptr);  // held in memory if it cannot be saved
}

}  // namespace pairfs::node
