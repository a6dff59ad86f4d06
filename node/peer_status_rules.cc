#include "node/peer_status_rules.h"

#include <algorithm>

#include "node/limits.h"

namespace pairfs::node {
namespace {

// True once `holds` has held at every reading for longer than `timeout_ms` (the watch then
// starts again); a reading where it does not hold resets it.
bool Lasted(bool holds, int64_t now_ms, int64_t timeout_ms, bool* seen, int64_t* since_ms) {
  if (!holds) {
    *seen = false;
    return false;
  }
  if (!*seen) {
    *seen = true;
    *since_ms = now_ms;
    return false;
  }
  if (now_ms - *since_ms <= timeout_ms) return false;
  *seen = false;
  return true;
}

}  // namespace

StatusVerdict ReadPeerStatus(const PeerStatusFacts& facts, int64_t now_ms, int64_t timeout_ms,
                             StatusWatch* watch) {
  const PairState& here = facts.here;
  // An outdated side still in PAIR or COPY (a copy that stopped midway) suspends as well.
  const bool settled = here.outdated && !IsReplicating(here.status);
  const bool newer = facts.peer_generation.NewerThan(facts.generation) && !settled;
  if (newer) {
    if (!Lasted(true, now_ms, timeout_ms, &watch->newer_seen, &watch->newer_since_ms)) {
      return StatusVerdict::kNone;
    }
    return facts.peer_generation.site == facts.site ? StatusVerdict::kFinishSwap
                                                    : StatusVerdict::kPeerNewer;
  }
  watch->newer_seen = false;
  const bool same = facts.generation == facts.peer_generation;
  const bool replicating = IsReplicating(here.status);
  const bool peer_suspended = facts.peer_status == PairStatus::kPSUE;
  if (same && here.role == PairRole::kPrimary && replicating &&
      facts.peer_role == PairRole::kSecondary && peer_suspended) {
    return StatusVerdict::kSecondarySuspended;
  }
  const bool primary_apart = same && here.role == PairRole::kSecondary && replicating &&
                             facts.peer_role == PairRole::kPrimary && peer_suspended;
  if (Lasted(primary_apart, now_ms, timeout_ms, &watch->primary_apart_seen,
             &watch->primary_apart_since_ms)) {
    return StatusVerdict::kPrimaryApart;
  }
  return StatusVerdict::kNone;
}

bool LinkReactionApplies(const PairState& here, const wire::Generation& generation,
                         const wire::Generation& seen) {
  return generation == seen && IsReplicating(here.status);
}

bool LinkIsSilent(bool heard_since_start, int64_t last_heard_ms, int64_t now_ms,
                  int64_t timeout_ms) {
  return heard_since_start && now_ms - last_heard_ms > timeout_ms;
}

int TakeoverProbeMs(bool cluster, bool link_silent, int peer_timeout_ms, int status_interval_ms) {
  const int probe_ms = cluster || link_silent ? kFailoverProbeMs
                                              : std::max(kTakeoverProbeMs, 2 * status_interval_ms);
  return std::min(peer_timeout_ms, probe_ms);
}

bool AskAgainAfterProbe(int probe_ms, int peer_timeout_ms, int64_t asked_ms, int64_t last_heard_ms,
                        int64_t now_ms, int status_interval_ms) {
  if (probe_ms >= peer_timeout_ms) return false;
  return last_heard_ms >= asked_ms || now_ms - last_heard_ms < 2 * int64_t{status_interval_ms};
}

bool PeerNewerApplies(const PairState& here, const wire::Generation& generation,
                      const wire::Generation& seen, const wire::Generation& peer,
                      const std::string& site) {
  if (!(generation == seen)) return false;
  if (here.outdated && !IsReplicating(here.status)) return false;
  return peer.site != site;
}

SwapStep FinishSwapStep(const PairState& here, PairRole peer_role, PairStatus peer_status) {
  const bool peer_demoted = peer_role == PairRole::kSecondary &&
                            (peer_status == PairStatus::kPAIR || peer_status == PairStatus::kPSUE ||
                             peer_status == PairStatus::kCOPY);
  const bool finishable =
      peer_demoted && here.role == PairRole::kSecondary && !here.outdated && here.consistent;
  if (!finishable) return SwapStep::kNone;
  if (here.status == PairStatus::kPAIR) {
    return peer_status == PairStatus::kPAIR ? SwapStep::kPromote : SwapStep::kSuspend;
  }
  if (here.status == PairStatus::kPSUE || here.status == PairStatus::kSSWS)
    return SwapStep::kResyncSwap;
  return SwapStep::kNone;
}

}  // namespace pairfs::node
