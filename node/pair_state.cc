#include "node/pair_state.h"

#include <initializer_list>

namespace pairfs::node {
namespace {

using A = PairAction;
using S = PairStatus;

Status Refuse(const PairState& state, PairEvent event, const std::string& reason) {
  return Status::InvalidArgument(std::string("cannot ") + EventName(event) + " in " +
                                 StatusName(state.status) + ": " + reason);
}

// Refuses promoting a copy that may not hold the newest data, unless forced.
Status CheckPromotable(const PairState& state, PairEvent event, const PairContext& context) {
  if (context.force) return Status::Ok();
  if (state.outdated) {
    return Status::ReadOnly(
        std::string("cannot ") + EventName(event) +
        ": this copy is outdated (the peer has newer writes); --force discards them");
  }
  if (!state.consistent) {
    return Status::ReadOnly(
        std::string("cannot ") + EventName(event) +
        ": this copy is inconsistent (its initial copy or resync did not finish); "
        "--force uses it anyway");
  }
  return Status::Ok();
}

PairTransition To(PairState next, std::initializer_list<A> actions) {
  return {next, std::vector<A>(actions)};
}

PairTransition Unchanged(const PairState& state) { return {state, {}}; }

// The actions of a suspend: the primary starts a new generation (what it writes alone is marked
// by its write rule, kLocalTracked); the secondary takes the primary's generation. A running copy
// stops either way.
PairTransition Suspend(const PairState& state, S status) {
  PairState next = state;
  next.status = status;
  PairTransition transition{next, {}};
  if (state.role == PairRole::kPrimary) {
    transition.actions.push_back(A::kBumpGeneration);
    if (state.status == S::kCOPY) transition.actions.push_back(A::kStopCopy);
  } else {
    transition.actions.push_back(A::kAdoptPeerGeneration);
    if (state.status == S::kCOPY) transition.actions.push_back(A::kStopCopy);
  }
  return transition;
}

Result<PairTransition> OnSplit(const PairState& state, PairEvent event,
                               const PairContext& context) {
  if (state.status == S::kPSUS && event == PairEvent::kSplit)
    return Refuse(state, event, "already split");
  if (state.status == S::kSSUS || state.status == S::kSSWS) {
    return Refuse(state, event, "the secondary is already writable");
  }
  if (event == PairEvent::kSplit) {
    if (!IsReplicating(state.status) && state.status != S::kPSUE && state.status != S::kPFUS) {
      return Refuse(state, event, "not a split-able status");
    }
    return Suspend(state, S::kPSUS);
  }
  // split --rw: the secondary becomes writable, so it must hold a whole copy.
  if (state.status == S::kCOPY) {
    return Refuse(state, event, "the secondary is inconsistent until the copy finishes; use split");
  }
  if (state.role == PairRole::kPrimary) {
    return state.status == S::kPSUS ? Unchanged(state) : Suspend(state, S::kPSUS);
  }
  Status promotable = CheckPromotable(state, event, context);
  if (!promotable.ok()) return promotable;
  PairState next = state;
  next.status = S::kSSUS;
  return To(next, {A::kAdoptPeerGeneration});
}

Result<PairTransition> OnLinkEvent(const PairState& state, PairEvent event,
                                   const PairContext& context) {
  const bool primary = state.role == PairRole::kPrimary;
  if (event == PairEvent::kLinkLost) {
    if (!IsReplicating(state.status)) return Unchanged(state);  // already apart: nothing to do
    if (!primary) {
      PairState next = state;
      next.status = S::kPSUE;
      if (state.status == S::kCOPY) return To(next, {A::kStopCopy});
      return To(next, {});
    }
    if (context.fence == FenceLevel::kReserve) return To(state, {A::kAskReserve});
    return Suspend(state, S::kPSUE);
  }
  if (!primary || !IsReplicating(state.status) || context.fence != FenceLevel::kReserve) {
    return Refuse(state, event,
                  "no reserve was asked (only a fence-reserve primary asks after a link loss)");
  }
  // Granted: the reserve asked marked the peer outdated in the same record.
  if (event == PairEvent::kReserveGranted) return Suspend(state, S::kPSUE);
  // kReserveLost: the other site carries on; this copy stops writing (the writes that waited
  // for the reserve read the fence and fail).
  PairState next = state;
  next.status = S::kPSUE;
  next.fenced = true;
  return To(next, {});
}

// A write failed at this copy or the peer's (doc/design.md "Faults of the local disk"): the copies
// may differ in its region, which stays marked. The primary suspends as on a link loss with fence
// never (no reserve is asked: the peer answered); the secondary suspends as well. In any other
// status the region is tracked already.
Result<PairTransition> OnWriteFailed(const PairState& state) {
  if (!IsReplicating(state.status)) return Unchanged(state);
  if (state.role == PairRole::kPrimary) return Suspend(state, S::kPSUE);
  PairState next = state;
  next.status = S::kPSUE;
  if (state.status == S::kCOPY) return To(next, {A::kStopCopy});
  return To(next, {});
}

Result<PairTransition> OnResync(const PairState& state, PairEvent event,
                                const PairContext& context) {
  if (IsReplicating(state.status))
    return Refuse(state, event, "a pair in sync or copying needs no resync");
  const bool primary = state.role == PairRole::kPrimary;
  if (event == PairEvent::kResync) {
    if (state.status == S::kSSWS) {
      return Refuse(state, event,
                    "this side took over (SSWS); resync --swap here makes it the primary");
    }
    if (primary && context.peer_status == S::kSSWS) {
      return Refuse(state, event,
                    "the peer took over (SSWS); resync --swap at the peer makes it the primary");
    }
    PairState next = state;
    next.status = S::kCOPY;
    if (!primary) {  // the copy's target: the primary reads its dirty bitmap (ServeBitmap)
      // An async resync through the journal keeps the target a prefix (applied whole).
      next.consistent =
          context.journaled_resync && context.mode == PairMode::kAsync ? state.consistent : false;
      return To(next, {A::kAdoptPeerGeneration});  // the primary's, in the same save
    }
    if (state.outdated) {
      return Status::ReadOnly(
          "cannot resync from an outdated copy; resync --swap at the peer instead");
    }
    // A fenced copy may be copied from (the copy refuses a newer peer); it stays fenced.
    return To(next, {A::kStartCopy});
  }
  if (event == PairEvent::kResyncSwapHere) {
    Status promotable = CheckPromotable(state, event, context);
    if (!promotable.ok()) return promotable;
    return To({PairRole::kPrimary, S::kCOPY, true, false, false},
              {A::kBumpGeneration, A::kStartCopy});
  }
  // kResyncSwapByPeer. asyncrest: a journaled resync --swap of an async pair keeps this copy
  // consistent (its own image until the batch is applied whole).
  const bool consistent =
      context.journaled_resync && context.mode == PairMode::kAsync && state.consistent;
  return To({PairRole::kSecondary, S::kCOPY, consistent, false, false}, {A::kAdoptPeerGeneration});
}

Result<PairTransition> OnTakeover(const PairState& state, PairEvent event,
                                  const PairContext& context) {
  if (state.role == PairRole::kPrimary)
    return Refuse(state, event, "this side is already the primary");
  if (state.status == S::kSSWS) return Refuse(state, event, "already taken over");
  Status promotable = CheckPromotable(state, event, context);
  if (!promotable.ok()) return promotable;
  if (context.peer_reachable && state.status == S::kPAIR) {
    PairState next = state;
    next.role = PairRole::kPrimary;
    return To(next, {A::kBumpGeneration});  // the peer demoted itself first (kDemotedBySwap)
  }
  PairState next = state;
  next.status = S::kSSWS;
  next.fenced = false;
  if (state.status == S::kCOPY) return To(next, {A::kBumpGeneration, A::kStopCopy});
  return To(next, {A::kBumpGeneration});
}

Result<PairTransition> OnJournal(const PairState& state, PairEvent event,
                                 const PairContext& context) {
  if (context.mode != PairMode::kAsync) return Refuse(state, event, "not an async pair");
  if (state.role != PairRole::kPrimary) return Refuse(state, event, "the journal is the primary's");
  PairState next = state;
  switch (event) {
    case PairEvent::kJournalHighWater:
      if (state.status != S::kPAIR) return Unchanged(state);
      next.status = S::kPFUL;
      return To(next, {});
    case PairEvent::kJournalBelowHighWater:
      if (state.status != S::kPFUL) return Unchanged(state);
      next.status = S::kPAIR;
      return To(next, {});
    default:  // kJournalFull
      if (state.status != S::kPAIR && state.status != S::kPFUL && state.status != S::kCOPY)
        return Unchanged(state);
      return Suspend(state, S::kPFUS);
  }
}

}  // namespace

bool IsReplicating(S status) {
  return status == S::kCOPY || status == S::kPAIR || status == S::kPFUL;
}

bool IsValidPairState(const PairState& state) {
  if ((state.role == PairRole::kSimplex) != (state.status == S::kSMPL)) return false;
  if ((state.status == S::kSSUS || state.status == S::kSSWS) && state.role != PairRole::kSecondary)
    return false;
  if ((state.status == S::kPFUL || state.status == S::kPFUS) && state.role != PairRole::kPrimary)
    return false;
  return true;
}

namespace {

// A new pair: the primary starts its initial copy under a new generation, the secondary takes
// the primary's. A volume already in a pair refuses.
Result<PairTransition> OnCreate(const PairState& state, PairEvent event) {
  if (state.status != S::kSMPL) return Refuse(state, event, "the volume is already in a pair");
  if (event == PairEvent::kCreateAsPrimary) {
    return To({PairRole::kPrimary, S::kCOPY, true, false, false},
              {A::kBumpGeneration, A::kStartCopy});
  }
  return To({PairRole::kSecondary, S::kCOPY, false, false, false}, {A::kAdoptPeerGeneration});
}

// Unfence applies in any status, in a pair or not.
Result<PairTransition> OnUnfence(const PairState& state, const PairContext& context) {
  const bool in_pair = state.status != S::kSMPL;
  PairState next = state;
  next.fenced = false;
  // Lifted into writing alone (the winner's own copy): a new generation, as for any side
  // that starts writing alone, so that the peer finds itself behind (found by the cluster
  // simulation: a same-generation peer was taken as the copy to keep and a write was lost).
  const WriteRule rule = WriteRuleFor(next, context);
  if (state.fenced && in_pair && (rule == WriteRule::kLocal || rule == WriteRule::kLocalTracked)) {
    return To(next, {A::kBumpGeneration});
  }
  return To(next, {});
}

// The initial copy or a resync's copy finished: this side is consistent and in PAIR.
Result<PairTransition> OnCopyDone(const PairState& state, PairEvent event) {
  if (state.status != S::kCOPY) return Refuse(state, event, "no copy is running");
  PairState next = state;
  next.status = S::kPAIR;
  next.consistent = true;
  next.outdated = false;
  // The copy source clears both sides' marks (the target's when the source asks).
  if (state.role == PairRole::kPrimary) return To(next, {A::kClearDirty});
  return To(next, {});
}

// The peer takes the primary role in a swap: this primary becomes its secondary.
Result<PairTransition> OnDemotedBySwap(const PairState& state, PairEvent event,
                                       const PairContext& context) {
  // Async (asyncswap): a PFUL primary swaps too (the drain ships its backlog), and a demote
  // repeated after a swap that did not finish takes the new generation again (every step
  // of the four-role swap is idempotent).
  const bool async = context.mode == PairMode::kAsync;
  if (async && state.role == PairRole::kSecondary && state.status == S::kPAIR)
    return To(state, {A::kAdoptPeerGeneration});
  if (async && state.role == PairRole::kPrimary && state.status == S::kPFUL) {
    PairState next = state;
    next.role = PairRole::kSecondary;
    next.status = S::kPAIR;
    return To(next, {A::kAdoptPeerGeneration});
  }
  if (state.role != PairRole::kPrimary || state.status != S::kPAIR) {
    return Refuse(state, event, "a swap needs a primary in PAIR");
  }
  PairState next = state;
  next.role = PairRole::kSecondary;
  return To(next, {A::kAdoptPeerGeneration});
}

// The peer holds newer data: this side is outdated, and stops replicating if it was.
Result<PairTransition> OnPeerIsNewer(const PairState& state) {
  // No generation bump: an outdated side must never look newer than the side that is.
  PairState next = state;
  next.outdated = true;
  if (IsReplicating(state.status)) next.status = S::kPSUE;
  if (state.status == S::kCOPY) return To(next, {A::kStopCopy});
  return To(next, {});
}

// The pair is gone: the volume is simplex again, its pair fields cleared.
Result<PairTransition> OnDissolve(const PairState& state) {
  PairState next = state;
  next.role = PairRole::kSimplex;
  next.status = S::kSMPL;
  next.outdated = false;
  next.fenced = false;
  return To(next, {A::kClearPairFields});
}

// Transit without hold_if_unsaved.
Result<PairTransition> TransitOnce(const PairState& state, PairEvent event,
                                   const PairContext& context) {
  if (!IsValidPairState(state)) {
    return Status::Corruption(std::string("impossible pair state: ") + RoleName(state.role) +
                              " in " + StatusName(state.status));
  }
  const bool in_pair = state.status != S::kSMPL;
  switch (event) {
    case PairEvent::kCreateAsPrimary:
    case PairEvent::kCreateAsSecondary: return OnCreate(state, event);
    case PairEvent::kUnfence: return OnUnfence(state, context);
    case PairEvent::kFence: {
      if (!in_pair) return Refuse(state, event, "the volume is not in a pair");
      PairState next = state;
      next.fenced = true;
      return To(next, {});
    }
    case PairEvent::kLinkLost:
    case PairEvent::kWriteFailed:
      if (!in_pair) return Unchanged(state);
      break;
    default:
      if (!in_pair) return Refuse(state, event, "the volume is not in a pair");
  }
  switch (event) {
    case PairEvent::kCopyDone: return OnCopyDone(state, event);
    case PairEvent::kSplit:
    case PairEvent::kSplitReadWrite: return OnSplit(state, event, context);
    case PairEvent::kLinkLost:
    case PairEvent::kReserveGranted:
    case PairEvent::kReserveLost: return OnLinkEvent(state, event, context);
    case PairEvent::kResync:
    case PairEvent::kResyncSwapHere:
    case PairEvent::kResyncSwapByPeer: return OnResync(state, event, context);
    case PairEvent::kTakeover: return OnTakeover(state, event, context);
    case PairEvent::kDemotedBySwap: return OnDemotedBySwap(state, event, context);
    case PairEvent::kPeerIsNewer: return OnPeerIsNewer(state);
    case PairEvent::kDissolve: return OnDissolve(state);
    case PairEvent::kJournalHighWater:
    case PairEvent::kJournalBelowHighWater:
    case PairEvent::kJournalFull: return OnJournal(state, event, context);
    case PairEvent::kWriteFailed: return OnWriteFailed(state);
    default: break;
  }
  return Status::Corruption(std::string("unhandled pair event ") + EventName(event));
}

}  // namespace

Result<PairTransition> Transit(const PairState& state, PairEvent event,
                               const PairContext& context) {
  Result<PairTransition> transition = TransitOnce(state, event, context);
  if (transition.ok()) {
    transition->hold_if_unsaved = IsReplicating(state.status) &&
                                  transition->next.status == S::kPSUE &&
                                  event != PairEvent::kReserveGranted;
  }
  return transition;
}

WriteRule WriteRuleFor(const PairState& state, const PairContext& context) {
  if (state.status == S::kSMPL) return WriteRule::kLocal;
  if (state.fenced || state.outdated) return WriteRule::kRefuseReadOnly;
  if (state.role == PairRole::kPrimary) {
    if (IsReplicating(state.status)) return WriteRule::kReplicate;
    if (state.status == S::kPSUE && context.fence == FenceLevel::kData) return WriteRule::kRefuseIo;
    return WriteRule::kLocalTracked;
  }
  if (IsReplicating(state.status)) {
    return context.mode == PairMode::kSync ? WriteRule::kForwardToPrimary
                                           : WriteRule::kRefuseReadOnly;
  }
  if (state.status == S::kSSUS || state.status == S::kSSWS) return WriteRule::kLocalTracked;
  return WriteRule::kRefuseReadOnly;  // PSUS, PSUE: the secondary never writes on its own
}

const char* RoleName(PairRole role) {
  switch (role) {
    case PairRole::kSimplex: return "simplex";
    case PairRole::kPrimary: return "primary";
    case PairRole::kSecondary: return "secondary";
  }
  return "?";
}

const char* FenceName(FenceLevel fence) {
  switch (fence) {
    case FenceLevel::kData: return "data";
    case FenceLevel::kReserve: return "reserve";
    case FenceLevel::kNever: return "never";
  }
  return "?";
}

const char* ModeName(PairMode mode) { return mode == PairMode::kSync ? "sync" : "async"; }

bool ParseRole(const std::string& name, PairRole* role) {
  for (PairRole candidate : kAllRoles) {
    if (name == RoleName(candidate)) {
      *role = candidate;
      return true;
    }
  }
  return false;
}

bool ParseStatus(const std::string& name, PairStatus* status) {
  for (PairStatus candidate : kAllStatuses) {
    if (name == StatusName(candidate)) {
      *status = candidate;
      return true;
    }
  }
  return false;
}

bool ParseFence(const std::string& name, FenceLevel* fence) {
  for (FenceLevel candidate : {FenceLevel::kData, FenceLevel::kReserve, FenceLevel::kNever}) {
    if (name == FenceName(candidate)) {
      *fence = candidate;
      return true;
    }
  }
  return false;
}

bool ParseMode(const std::string& name, PairMode* mode) {
  if (name != "sync" && name != "async") return false;
  *mode = name == "sync" ? PairMode::kSync : PairMode::kAsync;
  return true;
}

const char* StatusName(PairStatus status) {
  static constexpr const char* kNames[] = {"SMPL", "COPY", "PAIR", "PSUS", "PSUE",
                                           "SSUS", "SSWS", "PFUL", "PFUS"};
  return kNames[static_cast<int>(status)];
}

const char* EventName(PairEvent event) {
  static constexpr const char* kNames[] = {"create (primary)",
                                           "create (secondary)",
                                           "copy done",
                                           "split",
                                           "split --rw",
                                           "link lost",
                                           "reserve granted",
                                           "reserve lost",
                                           "resync",
                                           "resync --swap (here)",
                                           "resync --swap (by peer)",
                                           "takeover",
                                           "swap by peer",
                                           "peer is newer",
                                           "dissolve",
                                           "unfence",
                                           "fence",
                                           "journal high water",
                                           "journal below high water",
                                           "journal full",
                                           "write failed"};
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == kEventCount, "a name for every event");
  return kNames[static_cast<int>(event)];
}

const char* ActionName(PairAction action) {
  static constexpr const char* kNames[] = {
      "bump generation", "adopt peer generation", "start copy",       "stop copy",
      "clear dirty",     "ask reserve",           "clear pair fields"};
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == kActionCount, "a name for every action");
  return kNames[static_cast<int>(action)];
}

const char* WriteRuleName(WriteRule rule) {
  static constexpr const char* kNames[] = {"local",          "replicate", "forward to primary",
                                           "local, tracked", "EROFS",     "EIO"};
  return kNames[static_cast<int>(rule)];
}

}  // namespace pairfs::node
