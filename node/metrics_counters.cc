// The replicator's counters that the metrics endpoint reads (node/metrics_collect.h): the
// definitions of Replicator::ReplicatedOf and PeerHeardMsAgo (node/replicator.h).
#include <algorithm>

#include "node/pair_runtime.h"
#include "node/replicator.h"
#include "node/replicator_internal.h"

namespace pairfs::node {

Replicator::ReplicatedCounts Replicator::ReplicatedOf(const std::string& name) const {
  ReplicatedCounts counts;
  if (std::shared_ptr<Pair> pair = FindPair(name)) {
    counts.writes = pair->replicated_writes.load(std::memory_order_relaxed);
    counts.bytes = pair->replicated_bytes.load(std::memory_order_relaxed);
  }
  return counts;
}

int64_t Replicator::PeerHeardMsAgo() const {
  if (!heard_since_start_.load()) return -1;
  return std::max<int64_t>(0, NowMs() - last_heard_ms_.load());
}

}  // namespace pairfs::node
