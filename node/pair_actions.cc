// The executor of the pair state machine's actions (node/pair_state.h): every action Transit
// returns is carried out here and nowhere else. Commit carries out the actions of the save under
// the pair's mutex and saves the new state; RunAfterSave carries out, with that mutex released,
// those that talk to the peer, wait or start the copy thread; Change runs the machine and both.
// The switches list every action (no default) and -Wswitch is an error in this file: an action
// added to the machine and not carried out here does not build.
#include <spdlog/spdlog.h>

#include "node/command_rules.h"
#include "node/copy_engine.h"
#include "node/replicator.h"
#include "node/replicator_internal.h"
#include "wire/check.h"

#pragma GCC diagnostic error "-Wswitch"

namespace pairfs::node {

using namespace replicator_internal;

namespace {

// The pair fields of `volume`'s metadata as `next` and `generation` say; `clear`: back to a
// simplex, the pair's fields forgotten. Durable when it returns Ok.
Status SaveState(Volume& volume, const PairState& next, const wire::Generation& generation,
                 bool clear) {
  return volume.UpdateMetadata([&](VolumeMetadata& metadata) {
    metadata.role = RoleName(next.role);
    metadata.status = StatusName(next.status);
    metadata.consistent = next.consistent;
    metadata.outdated = next.outdated;
    metadata.fenced = next.fenced;
    metadata.generation = generation.counter;
    metadata.generation_site = generation.site;
    if (clear) {
      metadata.pair_mode.clear();
      metadata.peer_site.clear();
      metadata.peer_volume.clear();
      metadata.fence.clear();
      metadata.group.clear();
      metadata.region_size_bytes = 0;
      metadata.consistent = true;
      metadata.outdated = false;
      metadata.fenced = false;
      metadata.rpo_takeover_unix_ms = 0;  // asyncrest: the RPO record goes with the pair
      metadata.rpo_lost_writes = -1;
      metadata.rpo_lost_bytes = 0;
    }
  });
}

}  // namespace

// Saves `transition` (caller holds pair.mutex). `generation` is the one a bump or an adoption
// takes; a bump without one counts up from this side's own. Every action is listed here: those of
// the save are carried out, the others go to `after` for RunAfterSave.
Status Replicator::Commit(Pair& pair, const PairTransition& transition,
                          const wire::Generation* generation, AfterSave* after) {
  const wire::Generation next_generation =
      GenerationAfter(transition.actions, pair.generation, generation, options_.site);
  bool clear = false;
  bool asks_reserve = false;
  std::vector<PairAction> after_save;
  for (PairAction action : transition.actions) {
    switch (action) {
      case PairAction::kBumpGeneration:  // GenerationAfter, above
      case PairAction::kAdoptPeerGeneration: break;
      case PairAction::kStopCopy: StopCopy(pair, *calls_); break;
      case PairAction::kClearPairFields: clear = true; break;
      case PairAction::kAskReserve:  // the state waits for the reserve: nothing to save
        asks_reserve = true;
        after_save.push_back(action);
        break;
      case PairAction::kStartCopy:   // the copy starts from the saved state and marks
      case PairAction::kClearDirty:  // flushes and asks the peer
        after_save.push_back(action);
        break;
    }
  }
  PAIRFS_CHECK(after != nullptr || after_save.empty(),
               "a transition with actions after its save is committed without running them");
  if (after != nullptr) *after = AfterSave{{}, pair.generation};
  const PairState& next = transition.next;
  if (asks_reserve) {
    PAIRFS_CHECK(next == pair.state && next_generation == pair.generation && !clear,
                 "a transition that asks for the reserve changes nothing before its answer");
    after->actions = std::move(after_save);
    return Status::Ok();
  }
  Status saved = SaveState(*pair.volume, next, next_generation, clear);
  if (!saved.ok()) {
    spdlog::error("pair {}: cannot save {} -> {}: {}", pair.volume->name(),
                  StatusName(pair.state.status), StatusName(next.status), saved.message());
    // A suspension stops replicating even when it cannot be saved (the disk is full): held in
    // memory, at the same generation (the peer learns it from the status and suspends too). A
    // restart before it is saved finds the old status with the regions marked, and copies them.
    if (transition.hold_if_unsaved) {
      spdlog::error("pair {}: {} held in memory only until its metadata can be saved",
                    pair.volume->name(), StatusName(next.status));
      pair.state = next;
      StopCopyIfOutlived(pair, *calls_);
    }
    return saved;  // nothing runs after a save that failed
  }
  if (!(pair.state == next) || !(pair.generation == next_generation)) {
    spdlog::info("pair {}: {} {} -> {} {}{}{}, generation {}/{}", pair.volume->name(),
                 RoleName(pair.state.role), StatusName(pair.state.status), RoleName(next.role),
                 StatusName(next.status), next.outdated ? ", outdated" : "",
                 next.consistent ? "" : ", inconsistent", next_generation.counter,
                 next_generation.site);
  }
  pair.state = next;
  pair.generation = next_generation;
  StopCopyIfOutlived(pair, *calls_);  // node/copy_engine.h: a copy this change outlives stops now
  if (after != nullptr) *after = AfterSave{std::move(after_save), next_generation};
  return Status::Ok();
}

// The actions of a committed transition that run without the pair's mutex (Commit listed them).
void Replicator::RunAfterSave(Pair& pair, const AfterSave& after) {
  for (PairAction action : after.actions) {
    switch (action) {
      case PairAction::kStartCopy: StartCopy(pair.shared_from_this()); break;
      case PairAction::kClearDirty:
        // The copy source's marks, then the target's: both copies are equal and flushed.
        TrimActivityLog(pair, false);
        (void)Ask(wire::PeerTrimCommand{pair.Snapshot().peer_volume, after.generation});
        break;
      case PairAction::kAskReserve:
        // fence reserve: the writes that lost the link wait here (Pair::reserve_ask_mutex).
        AskReserveAfterLinkLoss(pair, after.generation);
        break;
      case PairAction::kBumpGeneration:
      case PairAction::kAdoptPeerGeneration:
      case PairAction::kStopCopy:
      case PairAction::kClearPairFields:
        PAIRFS_CHECK(false, "an action of the save listed to run after it");
    }
  }
}

Status Replicator::Change(Pair& pair, PairEvent event, const PairContext* context,
                          const wire::Generation* generation, AfterSave* after) {
  AfterSave here;
  Status committed;
  {
    std::lock_guard<std::mutex> lock(pair.mutex);
    Result<PairTransition> transition =
        Transit(pair.state, event, context ? *context : pair.context);
    if (!transition.ok()) return transition.status();
    committed = Commit(pair, transition.value(), generation, after ? after : &here);
  }
  if (after == nullptr && committed.ok()) RunAfterSave(pair, here);
  return committed;
}

}  // namespace pairfs::node
