// The status exchange and the reactions to what the peer shows (doc/design.md "Pair statuses"):
// every status_interval_ms each side sends each pair's status (Background, replicator.cc);
// ServeStatus compares the peer's with this side's and reacts: a peer newer for longer than
// peer_timeout_ms makes this copy outdated (OnPeerNewer) or finishes a swap this site made
// (FinishSwap); a primary suspended while this side replicates suspends this side too. OnLinkLost
// is the reaction every path that loses the peer calls.
#include <algorithm>

#include <spdlog/spdlog.h>

#include "node/peer_status_rules.h"
#include "node/replicator.h"
#include "node/replicator_internal.h"

namespace pairfs::node {

using namespace replicator_internal;
using wire::MessageType;

void Replicator::ServeStatus(const wire::Frame& frame) {
  wire::PeerStatusMessage message;
  Status decoded = wire::DecodeBody(frame.body, &message);
  if (decoded.ok()) decoded = wire::CheckPeerStatus(message);
  if (!decoded.ok()) return CountRefusal(frame.type, decoded);
  std::shared_ptr<Pair> pair = FindPair(message.volume);
  if (!pair) return;
  pair->peer_progress.store(message.copy_progress);
  uint64_t heard = pair->peer_counter_heard.load();
  while (message.generation.counter > heard &&
         !pair->peer_counter_heard.compare_exchange_weak(heard, message.generation.counter)) {
  }
  PairStatus peer_status = PairStatus::kSMPL;
  (void)ParseStatus(message.status, &peer_status);
  PeerStatusFacts facts;
  facts.peer_generation = message.generation;
  (void)ParseRole(message.role, &facts.peer_role);  // anything else reads as simplex
  facts.peer_status = peer_status;
  facts.site = options_.site;
  std::unique_lock<std::mutex> lock(pair->mutex);
  facts.here = pair->state;
  facts.generation = pair->generation;
  const StatusVerdict verdict =
      ReadPeerStatus(facts, NowMs(), options_.peer_timeout_ms, &pair->status_watch);
  lock.unlock();
  switch (verdict) {
    case StatusVerdict::kNone: return;
    case StatusVerdict::kFinishSwap:
      return FinishSwap(*pair, facts.generation, message.generation, facts.peer_role, peer_status);
    case StatusVerdict::kPeerNewer: return OnPeerNewer(*pair, facts.generation, message.generation);
    case StatusVerdict::kSecondarySuspended:
      // As a link loss, so that fence reserve asks for the determining volume (a plain
      // transition dropped its kAskReserve and left the primary in PAIR: found by the cluster
      // simulation).
      return OnLinkLost(*pair, facts.generation);
    case StatusVerdict::kPrimaryApart:
      // A secondary that stayed in PAIR or COPY would refuse the resync that brings them
      // together again (found by the cluster simulation: W1).
      spdlog::warn("pair {}: the primary at site {} is {}: suspended here too",
                   pair->volume->name(), options_.peer_site, message.status);
      return OnLinkLost(*pair, facts.generation);
  }
}

void Replicator::OnLinkLost(Pair& pair, const wire::Generation& seen) {
  AfterSave after;
  {
    std::lock_guard<std::mutex> lock(pair.mutex);
    if (!(pair.generation == seen) || !IsReplicating(pair.state.status)) return;  // already handled
    Result<PairTransition> transition = Transit(pair.state, PairEvent::kLinkLost, pair.context);
    if (!transition.ok()) return;
    if (!(transition->next == pair.state)) {  // unchanged: fence reserve, whose ask logs its own
      spdlog::warn("pair {}: link to site {} lost (fence {})", pair.volume->name(),
                   options_.peer_site, FenceName(pair.context.fence));
    }
    (void)Commit(pair, transition.value(), nullptr, &after);
  }
  RunAfterSave(pair, after);  // kAskReserve: the writes that lost the link wait for its answer
}

void Replicator::OnPeerNewer(Pair& pair, const wire::Generation& seen,
                             const wire::Generation& peer) {
  std::lock_guard<std::mutex> lock(pair.mutex);
  if (!PeerNewerApplies(pair.state, pair.generation, seen, peer, options_.site)) return;
  spdlog::warn(
      "pair {}: site {} has generation {}/{}, newer than {}/{} here: this copy is outdated",
      pair.volume->name(), options_.peer_site, peer.counter, peer.site, seen.counter, seen.site);
  Result<PairTransition> transition = Transit(pair.state, PairEvent::kPeerIsNewer, pair.context);
  if (transition.ok()) (void)Commit(pair, transition.value(), nullptr);
}

// A generation that names this site is made by this site (a takeover, a resync --swap, a split)
// and sent to the peer before this side commits it. A peer that stays at such a generation,
// newer than this side's, means this side never committed it: the command's answer was lost, or
// this node restarted first. Nobody wrote at it (only this site could), so this copy is no older
// than the peer's and is not marked outdated. Where the peer was demoted by a swap (a secondary
// in PAIR, PSUE or COPY) and this side is a consistent secondary, the swap is finished here: in
// PAIR at both, this side becomes the primary in PAIR; suspended here, this side resyncs --swap
// (found by the cluster simulation: a pair, the determining volume too, secondary at both sites,
// which no race can win and no resync from a primary can mend). Anything else is left as it is.
void Replicator::FinishSwap(Pair& pair, const wire::Generation& seen, const wire::Generation& peer,
                            PairRole peer_role, PairStatus peer_status) {
  using Step = SwapStep;
  if (pair.Snapshot().context.mode == PairMode::kAsync) {
    // asyncswap: an async swap moves the group's journals too; only the takeover does that.
    std::lock_guard<std::mutex> lock(pair.mutex);
    if (!pair.unfinished_swap_logged) {
      pair.unfinished_swap_logged = true;
      spdlog::warn(
          "pair {}: site {} was demoted for a swap to this site that did not finish: "
          "run takeover here again to finish it",
          pair.volume->name(), options_.peer_site);
    }
    return;
  }
  Step step = Step::kNone;
  ClosedGate closed(pair.gate);
  PairContext context;
  {
    std::lock_guard<std::mutex> lock(pair.mutex);
    if (!(pair.generation == seen)) return;
    step = FinishSwapStep(pair.state, peer_role, peer_status);
    if (step == Step::kNone && !pair.unfinished_swap_logged) {
      pair.unfinished_swap_logged = true;
      spdlog::warn(
          "pair {}: site {} is at generation {}/{}, which this site made and never committed; "
          "this copy ({}) is left as it is",
          pair.volume->name(), options_.peer_site, peer.counter, peer.site,
          StatusName(pair.state.status));
    }
    context = pair.context;
  }
  if (step == Step::kNone) return;
  if (step == Step::kSuspend) {
    closed.Open();
    return OnLinkLost(pair, seen);
  }
  if (step == Step::kResyncSwap) {
    closed.Open();  // Resync closes the gate itself
    std::string note;
    Status resynced = Resync(pair.volume->name(), true, false, &note);
    if (resynced.ok()) {
      spdlog::warn(
          "pair {}: site {} was demoted for a swap to this site that did not finish: resync --swap "
          "from "
          "here ({})",
          pair.volume->name(), options_.peer_site, note);
    } else {
      spdlog::error("pair {}: cannot finish the swap to this site with resync --swap: {}",
                    pair.volume->name(), resynced.message());
    }
    return;
  }
  context.force = false;
  context.peer_reachable = true;
  context.peer_status = PairStatus::kPAIR;
  Status changed = Change(pair, PairEvent::kTakeover, &context, &peer);
  if (changed.ok()) {
    spdlog::warn(
        "pair {}: site {} was demoted for a swap to this site that did not finish: primary here "
        "now "
        "(generation {}/{})",
        pair.volume->name(), options_.peer_site, peer.counter, peer.site);
  } else {
    spdlog::error("pair {}: cannot finish the swap to this site: {}", pair.volume->name(),
                  changed.message());
  }
}

}  // namespace pairfs::node
