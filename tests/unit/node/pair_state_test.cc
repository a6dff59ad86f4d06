#include "node/pair_state.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

using namespace pairfs;
using namespace pairfs::node;

namespace {

std::vector<PairState> EveryValidState() {
  std::vector<PairState> states;
  for (PairRole role : kAllRoles) {
    for (PairStatus status : kAllStatuses) {
      for (int flags = 0; flags < 8; ++flags) {
        PairState state{role, status, (flags & 1) != 0, (flags & 2) != 0, (flags & 4) != 0};
        if (IsValidPairState(state)) states.push_back(state);
      }
    }
  }
  return states;
}

std::vector<PairContext> EveryContext() {
  std::vector<PairContext> contexts;
  for (FenceLevel fence : {FenceLevel::kData, FenceLevel::kReserve, FenceLevel::kNever}) {
    for (PairMode mode : {PairMode::kSync, PairMode::kAsync}) {
      for (int flags = 0; flags < 4; ++flags) {
        for (PairStatus peer : {PairStatus::kPAIR, PairStatus::kSSWS}) {
          contexts.push_back({fence, mode, (flags & 1) != 0, (flags & 2) != 0, peer});
        }
      }
    }
  }
  return contexts;
}

bool Has(const PairTransition& transition, PairAction action) {
  return std::find(transition.actions.begin(), transition.actions.end(), action) !=
         transition.actions.end();
}

bool Writable(const PairState& state, const PairContext& context) {
  const WriteRule rule = WriteRuleFor(state, context);
  return rule == WriteRule::kLocal || rule == WriteRule::kLocalTracked ||
         rule == WriteRule::kReplicate;
}

PairState State(PairRole role, PairStatus status) { return {role, status, true, false, false}; }

PairTransition Must(const PairState& state, PairEvent event, const PairContext& context = {}) {
  Result<PairTransition> transition = Transit(state, event, context);
  INFO(EventName(event) << " in " << RoleName(state.role) << " " << StatusName(state.status) << ": "
                        << transition.status().message());
  REQUIRE(transition.ok());
  return transition.value();
}

}  // namespace

TEST_CASE(
    "every state and event gives a valid next state or a reasoned refusal, and the invariants "
    "hold") {
  const auto states = EveryValidState();
  const auto contexts = EveryContext();
  size_t answered = 0, refused = 0;
  for (const PairState& state : states) {
    for (int e = 0; e < kEventCount; ++e) {
      const auto event = static_cast<PairEvent>(e);
      for (const PairContext& context : contexts) {
        Result<PairTransition> result = Transit(state, event, context);
        INFO(EventName(event) << " in " << RoleName(state.role) << " " << StatusName(state.status)
                              << " consistent=" << state.consistent
                              << " outdated=" << state.outdated << " fenced=" << state.fenced
                              << " force=" << context.force);
        if (!result.ok()) {
          ++refused;
          REQUIRE(result.status().code() != Code::kCorruption);  // every event is handled
          REQUIRE_FALSE(result.status().message().empty());
          continue;
        }
        ++answered;
        const PairTransition& t = result.value();
        REQUIRE(IsValidPairState(t.next));
        // A site that becomes primary starts a new generation.
        if (t.next.role == PairRole::kPrimary && state.role != PairRole::kPrimary) {
          CHECK(Has(t, PairAction::kBumpGeneration));
        }
        // A primary that stops replicating bumps the generation (DESIGN: on every suspend), unless
        // it stops because it is outdated: an outdated side must never look newer than its peer.
        const bool was_replicating = state.status == PairStatus::kCOPY ||
                                     state.status == PairStatus::kPAIR ||
                                     state.status == PairStatus::kPFUL;
        const bool suspended_now = t.next.status == PairStatus::kPSUS ||
                                   t.next.status == PairStatus::kPSUE ||
                                   t.next.status == PairStatus::kPFUS;
        if (state.role == PairRole::kPrimary && was_replicating && suspended_now &&
            !t.next.fenced && !t.next.outdated) {
          CHECK(Has(t, PairAction::kBumpGeneration));
        }
        // A secondary becomes able to write on its own only on purpose: split --rw, takeover, or
        // the operator's unfence of a copy that was already made writable that way.
        if (state.role == PairRole::kSecondary && !Writable(state, context) &&
            t.next.role == PairRole::kSecondary &&
            WriteRuleFor(t.next, context) == WriteRule::kLocalTracked) {
          CHECK((event == PairEvent::kSplitReadWrite || event == PairEvent::kTakeover ||
                 event == PairEvent::kUnfence));
        }
        // An outdated or inconsistent copy is never promoted without --force.
        if (!context.force && (state.outdated || !state.consistent) &&
            state.role == PairRole::kSecondary &&
            (t.next.role == PairRole::kPrimary || t.next.status == PairStatus::kSSWS ||
             t.next.status == PairStatus::kSSUS) &&
            state.status != t.next.status) {
          FAIL("promoted a copy that may not hold the newest data");
        }
        if (event == PairEvent::kDissolve) CHECK(t.next.status == PairStatus::kSMPL);
        if (event == PairEvent::kPeerIsNewer) {
          CHECK_FALSE(Writable(t.next, context));
          CHECK_FALSE(Has(t, PairAction::kBumpGeneration));
        }
      }
    }
  }
  CHECK(answered > 0);
  CHECK(refused > 0);
}

TEST_CASE("a new pair copies, then is in sync at both sides") {
  PairTransition primary =
      Must(State(PairRole::kSimplex, PairStatus::kSMPL), PairEvent::kCreateAsPrimary);
  CHECK(primary.next == PairState{PairRole::kPrimary, PairStatus::kCOPY, true, false, false});
  CHECK(primary.actions ==
        std::vector<PairAction>{PairAction::kBumpGeneration, PairAction::kStartCopy});
  PairTransition secondary =
      Must(State(PairRole::kSimplex, PairStatus::kSMPL), PairEvent::kCreateAsSecondary);
  CHECK_FALSE(secondary.next.consistent);
  CHECK(WriteRuleFor(secondary.next, {}) == WriteRule::kForwardToPrimary);
  CHECK(Must(secondary.next, PairEvent::kCopyDone).next ==
        State(PairRole::kSecondary, PairStatus::kPAIR));
  CHECK(Must(primary.next, PairEvent::kCopyDone).next.status == PairStatus::kPAIR);
}

TEST_CASE("link loss follows the fence level") {
  const PairState primary = State(PairRole::kPrimary, PairStatus::kPAIR);
  PairContext never{FenceLevel::kNever};
  PairTransition alone = Must(primary, PairEvent::kLinkLost, never);
  CHECK(alone.next.status == PairStatus::kPSUE);
  CHECK(WriteRuleFor(alone.next, never) == WriteRule::kLocalTracked);

  PairContext data{FenceLevel::kData};
  CHECK(WriteRuleFor(Must(primary, PairEvent::kLinkLost, data).next, data) == WriteRule::kRefuseIo);

  PairContext reserve{FenceLevel::kReserve};
  PairTransition asking = Must(primary, PairEvent::kLinkLost, reserve);
  CHECK(asking.next == primary);
  CHECK(asking.actions == std::vector<PairAction>{PairAction::kAskReserve});
  PairTransition won = Must(primary, PairEvent::kReserveGranted, reserve);
  CHECK(won.next.status == PairStatus::kPSUE);
  CHECK(Has(won, PairAction::kBumpGeneration));
  CHECK(WriteRuleFor(won.next, reserve) == WriteRule::kLocalTracked);
  // Writing alone needs the new generation saved: never held in memory unsaved.
  CHECK_FALSE(won.hold_if_unsaved);
  CHECK(Must(primary, PairEvent::kWriteFailed, reserve).hold_if_unsaved);
  PairTransition lost = Must(primary, PairEvent::kReserveLost, reserve);
  CHECK(lost.next.fenced);
  CHECK(lost.actions.empty());
  CHECK(lost.hold_if_unsaved);
  // The writes that waited for the reserve read the fence (write_path.cc: AfterLinkLoss).
  CHECK(WriteRuleFor(lost.next, reserve) == WriteRule::kRefuseReadOnly);
  // Lifted into writing alone (the winner's own copy): a new generation, so the peer is behind.
  PairTransition lifted = Must(lost.next, PairEvent::kUnfence, reserve);
  CHECK(lifted.next.fenced == false);
  CHECK(Has(lifted, PairAction::kBumpGeneration));
  PairState fenced_in_pair = primary;
  fenced_in_pair.fenced = true;
  CHECK_FALSE(Has(Must(fenced_in_pair, PairEvent::kUnfence, reserve), PairAction::kBumpGeneration));
  // The fenced copy may be copied from (the copy itself refuses a newer peer); it stays fenced
  // until clusterd lifts it, in PAIR where a write is ordered through this primary again.
  PairTransition resynced = Must(lost.next, PairEvent::kResync, reserve);
  CHECK(resynced.next.status == PairStatus::kCOPY);
  CHECK(resynced.next.fenced);
  CHECK(Has(resynced, PairAction::kStartCopy));
  CHECK(WriteRuleFor(resynced.next, reserve) == WriteRule::kRefuseReadOnly);
  CHECK(Must(resynced.next, PairEvent::kCopyDone, reserve).next.fenced);

  const PairTransition secondary =
      Must(State(PairRole::kSecondary, PairStatus::kPAIR), PairEvent::kLinkLost, never);
  CHECK(secondary.next.status == PairStatus::kPSUE);
  CHECK(WriteRuleFor(secondary.next, never) ==
        WriteRule::kRefuseReadOnly);  // never writes on its own
  CHECK(Must(secondary.next, PairEvent::kLinkLost, never).next == secondary.next);  // already apart
}

TEST_CASE("takeover swaps when the primary answers, else goes SSWS; refused for unsafe copies") {
  const PairState secondary = State(PairRole::kSecondary, PairStatus::kPAIR);
  PairTransition swap =
      Must(secondary, PairEvent::kTakeover, {FenceLevel::kNever, PairMode::kSync, false, true});
  CHECK(swap.next.role == PairRole::kPrimary);
  // The peer demotes itself first (its kDemotedBySwap, asked by the command before this event).
  CHECK(swap.actions == std::vector<PairAction>{PairAction::kBumpGeneration});
  CHECK(Must(State(PairRole::kPrimary, PairStatus::kPAIR), PairEvent::kDemotedBySwap).next.role ==
        PairRole::kSecondary);
  PairTransition alone =
      Must(secondary, PairEvent::kTakeover, {FenceLevel::kNever, PairMode::kSync, false, false});
  CHECK(alone.next.status == PairStatus::kSSWS);
  CHECK(WriteRuleFor(alone.next, {}) == WriteRule::kLocalTracked);

  PairState outdated = State(PairRole::kSecondary, PairStatus::kPSUE);
  outdated.outdated = true;
  Result<PairTransition> refused = Transit(outdated, PairEvent::kTakeover, {});
  CHECK(refused.status().code() == Code::kReadOnly);
  CHECK_THAT(refused.status().message(), Catch::Contains("outdated") && Catch::Contains("--force"));
  PairContext force;
  force.force = true;
  force.peer_reachable = false;
  CHECK(Must(outdated, PairEvent::kTakeover, force).next.status == PairStatus::kSSWS);

  PairState copying{PairRole::kSecondary, PairStatus::kCOPY, false, false, false};
  CHECK_THAT(Transit(copying, PairEvent::kTakeover, {}).status().message(),
             Catch::Contains("inconsistent"));
  CHECK_THAT(Transit(State(PairRole::kPrimary, PairStatus::kPAIR), PairEvent::kTakeover, {})
                 .status()
                 .message(),
             Catch::Contains("already the primary"));
}

TEST_CASE("resync copies from the primary; toward an SSWS peer only resync --swap works") {
  const PairState primary = State(PairRole::kPrimary, PairStatus::kPSUS);
  CHECK(Must(primary, PairEvent::kResync).actions ==
        std::vector<PairAction>{PairAction::kStartCopy});
  PairState secondary_after =
      Must(State(PairRole::kSecondary, PairStatus::kPSUS), PairEvent::kResync).next;
  CHECK_FALSE(secondary_after.consistent);
  PairContext peer_took_over;
  peer_took_over.peer_status = PairStatus::kSSWS;
  CHECK_THAT(Transit(primary, PairEvent::kResync, peer_took_over).status().message(),
             Catch::Contains("resync --swap at the peer"));
  CHECK_THAT(Transit(State(PairRole::kSecondary, PairStatus::kSSWS), PairEvent::kResync, {})
                 .status()
                 .message(),
             Catch::Contains("resync --swap here"));
  PairTransition swap =
      Must(State(PairRole::kSecondary, PairStatus::kSSWS), PairEvent::kResyncSwapHere);
  CHECK(swap.next == PairState{PairRole::kPrimary, PairStatus::kCOPY, true, false, false});
  CHECK(swap.actions ==
        std::vector<PairAction>{PairAction::kBumpGeneration, PairAction::kStartCopy});
  // The copy's target only takes the primary's generation: the primary reads its dirty bitmap
  // before saving.
  CHECK(Must(State(PairRole::kSecondary, PairStatus::kPSUS), PairEvent::kResync).actions ==
        std::vector<PairAction>{PairAction::kAdoptPeerGeneration});
  PairState old_primary = State(PairRole::kPrimary, PairStatus::kPSUE);
  old_primary.outdated = true;
  CHECK(Transit(old_primary, PairEvent::kResync, {}).status().code() == Code::kReadOnly);
  CHECK(Must(old_primary, PairEvent::kResyncSwapByPeer).next ==
        PairState{PairRole::kSecondary, PairStatus::kCOPY, false, false, false});
  // asyncrest: a journaled resync --swap of an async pair keeps the old primary's own image
  // consistent until the batch is applied whole; a sync pair's, or one not journaled, is not.
  PairContext journaled;
  journaled.mode = PairMode::kAsync;
  journaled.journaled_resync = true;
  CHECK(Transit(old_primary, PairEvent::kResyncSwapByPeer, journaled)->next ==
        PairState{PairRole::kSecondary, PairStatus::kCOPY, true, false, false});
  journaled.mode = PairMode::kSync;
  CHECK(Transit(old_primary, PairEvent::kResyncSwapByPeer, journaled)->next.consistent == false);
  CHECK_THAT(Transit(State(PairRole::kPrimary, PairStatus::kPAIR), PairEvent::kResync, {})
                 .status()
                 .message(),
             Catch::Contains("needs no resync"));
}

TEST_CASE("split and split --rw") {
  const PairState primary = State(PairRole::kPrimary, PairStatus::kPAIR);
  const PairState secondary = State(PairRole::kSecondary, PairStatus::kPAIR);
  CHECK(Must(primary, PairEvent::kSplit).next.status == PairStatus::kPSUS);
  CHECK(Must(secondary, PairEvent::kSplit).next.status == PairStatus::kPSUS);
  CHECK(WriteRuleFor(Must(secondary, PairEvent::kSplit).next, {}) == WriteRule::kRefuseReadOnly);
  CHECK(Must(primary, PairEvent::kSplitReadWrite).next.status == PairStatus::kPSUS);
  PairState writable = Must(secondary, PairEvent::kSplitReadWrite).next;
  CHECK(writable.status == PairStatus::kSSUS);
  CHECK(WriteRuleFor(writable, {}) == WriteRule::kLocalTracked);
  CHECK_THAT(Transit(State(PairRole::kSecondary, PairStatus::kCOPY), PairEvent::kSplitReadWrite, {})
                 .status()
                 .message(),
             Catch::Contains("inconsistent"));
  CHECK_THAT(Transit(State(PairRole::kPrimary, PairStatus::kPSUS), PairEvent::kSplit, {})
                 .status()
                 .message(),
             Catch::Contains("already split"));
}

TEST_CASE("async pairs throttle at high water and suspend when the journal fills") {
  PairContext async;
  async.mode = PairMode::kAsync;
  const PairState primary = State(PairRole::kPrimary, PairStatus::kPAIR);
  PairState full = Must(primary, PairEvent::kJournalHighWater, async).next;
  CHECK(full.status == PairStatus::kPFUL);
  CHECK(WriteRuleFor(full, async) == WriteRule::kReplicate);
  CHECK(Must(full, PairEvent::kJournalBelowHighWater, async).next.status == PairStatus::kPAIR);
  PairTransition suspended = Must(full, PairEvent::kJournalFull, async);
  CHECK(suspended.next.status == PairStatus::kPFUS);
  CHECK(Has(suspended, PairAction::kBumpGeneration));
  CHECK(WriteRuleFor(suspended.next, async) == WriteRule::kLocalTracked);
  CHECK_THAT(Transit(primary, PairEvent::kJournalFull, {}).status().message(),
             Catch::Contains("not an async pair"));
  CHECK(WriteRuleFor(State(PairRole::kSecondary, PairStatus::kPAIR), async) ==
        WriteRule::kRefuseReadOnly);
}

TEST_CASE("commands on a volume in no pair are refused, dissolve ends any pair") {
  const PairState simplex = State(PairRole::kSimplex, PairStatus::kSMPL);
  CHECK_THAT(Transit(simplex, PairEvent::kSplit, {}).status().message(),
             Catch::Contains("not in a pair"));
  CHECK(WriteRuleFor(simplex, {}) == WriteRule::kLocal);
  CHECK(Must(State(PairRole::kSecondary, PairStatus::kSSWS), PairEvent::kDissolve).next == simplex);
  CHECK(Transit({PairRole::kPrimary, PairStatus::kSMPL}, PairEvent::kSplit, {}).status().code() ==
        Code::kCorruption);
}

// The executor (node/replicator.cc: Commit, RunAfterSave) runs the actions of the save under the
// pair's lock and the others after it; its callers rely on these rows: only a create and a
// primary's resync start a copy, only the copy source's copy done clears the marks, only a fence
// reserve primary's link loss asks for the reserve, and that ask changes nothing until answered.
TEST_CASE("actions that run after the save come only from the events whose callers run them") {
  const auto states = EveryValidState();
  const auto contexts = EveryContext();
  int seen[kActionCount] = {};
  for (const PairState& state : states) {
    for (int e = 0; e < kEventCount; ++e) {
      const auto event = static_cast<PairEvent>(e);
      for (const PairContext& context : contexts) {
        Result<PairTransition> result = Transit(state, event, context);
        if (!result.ok()) continue;
        const PairTransition& t = result.value();
        INFO(EventName(event) << " in " << RoleName(state.role) << " " << StatusName(state.status));
        for (PairAction action : t.actions) ++seen[static_cast<int>(action)];
        if (Has(t, PairAction::kStartCopy)) {
          CHECK((event == PairEvent::kCreateAsPrimary || event == PairEvent::kResync ||
                 event == PairEvent::kResyncSwapHere));
          CHECK(t.next.role == PairRole::kPrimary);
          CHECK(t.next.status == PairStatus::kCOPY);
        }
        if (Has(t, PairAction::kClearDirty)) {
          CHECK(event == PairEvent::kCopyDone);
          CHECK(state.role == PairRole::kPrimary);
        }
        if (Has(t, PairAction::kAskReserve)) {
          CHECK(event == PairEvent::kLinkLost);
          CHECK(t.actions == std::vector<PairAction>{PairAction::kAskReserve});
          CHECK(t.next == state);
        }
        if (event == PairEvent::kCreateAsPrimary) {
          // Its save is SaveCreatedPrimary's, which takes the bump: the rest runs after it.
          CHECK(t.actions ==
                std::vector<PairAction>{PairAction::kBumpGeneration, PairAction::kStartCopy});
        }
        const bool hold = IsReplicating(state.status) && t.next.status == PairStatus::kPSUE &&
                          event != PairEvent::kReserveGranted;
        CHECK(t.hold_if_unsaved == hold);
      }
    }
  }
  for (int a = 0; a < kActionCount; ++a) {
    INFO(ActionName(static_cast<PairAction>(a)));
    CHECK(seen[a] > 0);  // no action that no transition returns
  }
}
