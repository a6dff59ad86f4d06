#include "node/command_rules.h"

#include <algorithm>

namespace pairfs::node {

wire::Generation NextGeneration(const wire::Generation& mine, uint64_t peer_counter,
                                const std::string& site) {
  return wire::Generation{std::max(mine.counter, peer_counter) + 1, site};
}

bool ResyncTargetIsBehind(const PairState& here, const wire::Generation& generation,
                          const wire::Generation& commanded) {
  return commanded.NewerThan(generation) && IsReplicating(here.status);
}

bool CopyResumesAtStart(const PairState& here, uint64_t marked_bytes) {
  if (here.role != PairRole::kPrimary) return false;
  return here.status == PairStatus::kCOPY || (here.status == PairStatus::kPAIR && marked_bytes > 0);
}

wire::Generation GenerationAfter(const std::vector<PairAction>& actions,
                                 const wire::Generation& current, const wire::Generation* given,
                                 const std::string& site) {
  wire::Generation next = current;
  for (PairAction action : actions) {
    if (action == PairAction::kBumpGeneration) {
      next = given ? *given : wire::Generation{current.counter + 1, site};
    } else if (action == PairAction::kAdoptPeerGeneration && given) {
      next = *given;
    }
  }
  return next;
}

}  // namespace pairfs::node
