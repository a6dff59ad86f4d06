// The status exchange and the reactions to what the peer shows (doc/design.md "Pair statuses"):
// every status_interval_ms each side sends each pair's status (Background, replicator.cc);
// ServeStatus compares the peer's with this side's and reacts: a peer newer for longer than
// peer_timeout_ms makes this copy outdated (OnPeerNewer) or finishes a swap this site made
// (FinishSwap); a primary suspended while this side replicates suspends this side too. OnLinkLost
// is the reaction every path that loses the peer calls.
#include <algorithm>

#include <spdlog/spdlog.h>

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
  PairStatus peer_status = PairStatus::kSMPL;
  (void)ParseStatus(message.status, &peer_status);
  std::unique_lock<std::mutex> lock(pair->mutex);
  // An outdated side still in PAIR or COPY (a copy that stopped midway) suspends as well.
  const bool settled = pair->state.outdated && !IsReplicating(pair->state.status);
  if (message.generation.NewerThan(pair->generation) && !settled) {
    // A command that moves the generation (split, takeover) reaches the peer within
    // peer_timeout_ms; only a peer that stays newer longer than that means this side is behind.
    if (!pair->newer_seen) {
      pair->newer_seen = true;
      pair->newer_since = Clock::now();
    } else if (Clock::now() - pair->newer_since > Ms(options_.peer_timeout_ms)) {
      pair->newer_seen = false;
      const wire::Generation seen = pair->generation;
      lock.unlock();
      if (message.generation.site == options_.site) {
        FinishSwap(*pair, seen, message.generation, message.role, peer_status);
      } else {
        OnPeerNewer(*pair, seen, message.generation);
      }
    }
    return;
  }
  pair->newer_seen = false;
  // The secondary suspended on its own (a write it forwarded got no answer) while this side
  // still thinks the pair is in sync: suspend here too, so both show the truth.
  // As a link loss, so that fence reserve asks for the determining volume (a plain transition
  // dropped its kAskReserve and left the primary in PAIR: found by the cluster simulation).
  if (pair->generation == message.generation && pair->state.role == PairRole::kPrimary &&
      IsReplicating(pair->state.status) && message.role == "secondary" &&
      peer_status == PairStatus::kPSUE) {
    const wire::Generation seen = pair->generation;
    lock.unlock();
    OnLinkLost(*pair, seen);
    return;
  }
  // The other way round: the primary suspended on an error (a lost fence reserve fences and
  // suspends it without a word to this side, this side restarted in PAIR meanwhile, or a copy
  // stopped midway; a split tells this side itself). A secondary that stayed in PAIR or COPY
  // would refuse the resync that brings them together again (found by the cluster simulation:
  // W1). Only when it lasts longer than peer_timeout_ms: a resync moves this side to COPY just
  // before the primary, so one status may still say PSUE.
  const bool primary_apart = pair->generation == message.generation &&
                             pair->state.role == PairRole::kSecondary &&
                             IsReplicating(pair->state.status) && message.role == "primary" &&
                             peer_status == PairStatus::kPSUE;
  if (!primary_apart) {
    pair->primary_apart_seen = false;
  } else if (!pair->primary_apart_seen) {
    pair->primary_apart_seen = true;
    pair->primary_apart_since = Clock::now();
  } else if (Clock::now() - pair->primary_apart_since > Ms(options_.peer_timeout_ms)) {
    pair->primary_apart_seen = false;
    const wire::Generation seen = pair->generation;
    lock.unlock();
    spdlog::warn("pair {}: the primary at site {} is {}: suspended here too", pair->volume->name(),
                 options_.peer_site, message.status);
    OnLinkLost(*pair, seen);
  }
}

void Replicator::OnLinkLost(Pair& pair, const wire::Generation& seen) {
  {
    std::lock_guard<std::mutex> lock(pair.mutex);
    if (!(pair.generation == seen) || !IsReplicating(pair.state.status)) return;  // already handled
    Result<PairTransition> transition = Transit(pair.state, PairEvent::kLinkLost, pair.context);
    if (!transition.ok()) return;
    const auto& actions = transition->actions;
    if (std::find(actions.begin(), actions.end(), PairAction::kAskReserve) == actions.end()) {
      spdlog::warn("pair {}: link to site {} lost (fence {})", pair.volume->name(),
                   options_.peer_site, FenceName(pair.context.fence));
      (void)Commit(pair, transition.value(), nullptr);
      return;
    }
  }
  AskReserveAfterLinkLoss(pair, seen);  // fence reserve: the writes that lost the link wait here
}

void Replicator::OnPeerNewer(Pair& pair, const wire::Generation& seen,
                             const wire::Generation& peer) {
  std::lock_guard<std::mutex> lock(pair.mutex);
  if (!(pair.generation == seen) || (pair.state.outdated && !IsReplicating(pair.state.status)))
    return;
  if (peer.site == options_.site) return;  // made here, never committed: see FinishSwap
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
                            const std::string& peer_role, PairStatus peer_status) {
  const bool peer_demoted = peer_role == "secondary" &&
                            (peer_status == PairStatus::kPAIR || peer_status == PairStatus::kPSUE ||
                             peer_status == PairStatus::kCOPY);
  enum class Step { kNone, kPromote, kSuspend, kResyncSwap } step = Step::kNone;
  ClosedGate closed(pair.gate);
  PairContext context;
  {
    std::lock_guard<std::mutex> lock(pair.mutex);
    if (!(pair.generation == seen)) return;
    const bool finishable = peer_demoted && pair.state.role == PairRole::kSecondary &&
                            !pair.state.outdated && pair.state.consistent;
    if (finishable && pair.state.status == PairStatus::kPAIR) {
      // Both in PAIR: this side becomes the primary; the peer suspended since: so does this
      // side, and the next status finishes with resync --swap.
      step = peer_status == PairStatus::kPAIR ? Step::kPromote : Step::kSuspend;
    } else if (finishable && pair.state.status == PairStatus::kPSUE) {
      step = Step::kResyncSwap;
    } else if (!pair.unfinished_swap_logged) {
      pair.unfinished_swap_logged = true;
      spdlog::warn(
          "pair {}: site {} is at generation {}/{}, which this site made and never committed; this "
          "copy "
          "({}) is left as it is",
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
