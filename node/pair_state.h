// The pair status state machine of one side of a pair (doc/design.md "Pair statuses"), pure: no
// I/O, no clock, no locks. The node executes the actions in the order given. Thread-safe
// (stateless).
//
// Transit() answers an event with the next state and the actions to take, or refuses it with a
// one-line reason that pairctl prints as is. WriteRuleFor() derives, from a state, what a write
// arriving at this side's mount must do; it is never stored. The table of every transition is
// in pairctl(8), printed from this code by build/tools/pair_table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wire/status.h"

namespace pairfs::node {

enum class PairRole : uint8_t { kSimplex, kPrimary, kSecondary };
enum class PairStatus : uint8_t { kSMPL, kCOPY, kPAIR, kPSUS, kPSUE, kSSUS, kSSWS, kPFUL, kPFUS };
enum class FenceLevel : uint8_t { kData, kReserve, kNever };
enum class PairMode : uint8_t { kSync, kAsync };

// What one side keeps durably about its pair.
struct PairState {
  PairRole role = PairRole::kSimplex;
  PairStatus status = PairStatus::kSMPL;
  bool consistent = true;  // false while the target of an initial copy or a resync
  bool outdated = false;   // the peer has a newer generation: no writes, no promotion
  bool fenced = false;     // lost the determining volume's reserve: no writes until unfenced
  bool operator==(const PairState&) const = default;
};

enum class PairEvent : uint8_t {
  kCreateAsPrimary,    // operator's create, at the site that holds the P-VOL
  kCreateAsSecondary,  // the peer created the pair; this site holds the S-VOL
  kCopyDone,           // the initial copy or a resync finished
  kSplit,              // operator: split (PSUS)
  kSplitReadWrite,     // operator: split --rw (primary PSUS, secondary SSUS)
  kLinkLost,           // no answer from the peer within peer_timeout_ms
  kReserveGranted,     // fence reserve, after kLinkLost: this site won the determining volume
  kReserveLost,        // fence reserve: the other site holds it or it cannot be reached
  kResync,             // resync primary -> secondary
  kResyncSwapHere,     // resync --swap issued at this side: this side becomes primary
  kResyncSwapByPeer,   // resync --swap issued at the peer: this side becomes secondary
  kTakeover,           // operator's takeover at this (secondary) side
  kDemotedBySwap,      // the peer took over with a swap: this side becomes secondary
  kPeerIsNewer,        // the peer showed a newer generation: outdated, and suspended if in sync
  kDissolve,           // the pair is removed; data kept
  kUnfence,            // the operator lifted the fence (pairctl cluster unfence)
  kFence,              // clusterd lost the race: this copy refuses writes until unfenced
  kJournalHighWater,   // async: the master journal passed its high-water mark
  kJournalBelowHighWater,
  kJournalFull,  // async: the master journal is full
  kWriteFailed,  // a write failed at either copy (disk full, EIO): the copies may differ
};

// What the node does to carry out a transition, in the order given; every action is executed by
// the replicator's executor (Replicator::Commit in the save, Replicator::RunAfterSave once the
// pair's lock is released). What a transition needs and is no action: the regions written alone
// are marked by the write rule (kLocalTracked), not by an action; a resync's target sends nothing
// on its own (the copy source reads its dirty bitmap before saving COPY); a swap's demotion of
// the peer is the peer's own transition (kDemotedBySwap, kResyncSwapByPeer), which the command
// waits for before this side's event; the peer recorded outdated with a granted fence reserve is
// written in the same record as the grant (kAskReserve asks for both); and the writes held for
// the reserve fail when they read the fenced state the lost reserve commits.
enum class PairAction : uint8_t {
  kBumpGeneration,       // a new generation (counter + 1, this site), durable before anything else
  kAdoptPeerGeneration,  // take the peer's generation (it bumped for both sides)
  kStartCopy,            // copy the marked regions to the peer (once the state is saved)
  kStopCopy,             // abandon a running copy (the target stays inconsistent)
  kClearDirty,           // the copy source, once both copies are equal: clear the marks, both sides
  kAskReserve,           // hold writes and ask for the determining volume's reservation (the state
                         // waits for the answer: kReserveGranted or kReserveLost)
  kClearPairFields,      // back to SMPL: forget peer, mode, fence, bitmap
};
inline constexpr int kActionCount = static_cast<int>(PairAction::kClearPairFields) + 1;

struct PairContext {
  FenceLevel fence = FenceLevel::kNever;
  PairMode mode = PairMode::kSync;
  bool force = false;          // takeover or swap of an outdated or inconsistent copy
  bool peer_reachable = true;  // the peer answered just now (takeover: swap or SSWS)
  PairStatus peer_status = PairStatus::kSMPL;  // the peer's status, when reachable
  // ---- async resync (issue 13 part 4) ----
  // kResync at the target of an async resync whose regions arrive as one journal batch (applied
  // only whole): the target stays as consistent as it was (a prefix of the primary's writes).
  bool journaled_resync = false;
};

struct PairTransition {
  PairState next;
  std::vector<PairAction> actions;
  // A suspension stops replicating even when its save fails (the disk is full): the node then
  // holds it in memory. Not a granted fence reserve, whose writing alone needs its new
  // generation saved first (the peer is recorded outdated against it).
  bool hold_if_unsaved = false;
};

// Every event in every state: the next state and actions, or InvalidArgument (wrong status for
// the command, with the reason) / ReadOnly (outdated or inconsistent copy without --force).
// Observations that change nothing (a link lost while already suspended) return the same state
// and no actions.
Result<PairTransition> Transit(const PairState& state, PairEvent event, const PairContext& context);

// What a write arriving at this side's mount does.
enum class WriteRule : uint8_t {
  kLocal,             // SMPL: write here
  kReplicate,         // primary in sync: exclusive, write here, forward to the secondary
  kForwardToPrimary,  // secondary of a sync pair in sync: the primary orders it first
  kLocalTracked,      // write here alone and mark the region dirty
  kRefuseReadOnly,    // EROFS
  kRefuseIo,          // EIO (fence data, peer unreachable)
};
// (While a fence-reserve primary asks for the reserve its state is unchanged and the rule is
// kReplicate: the replicator holds those writes until kReserveGranted or kReserveLost.)
WriteRule WriteRuleFor(const PairState& state, const PairContext& context);

// True while the pair replicates: writes go to both copies (COPY, PAIR, PFUL).
bool IsReplicating(PairStatus status);

// True for the role and status combinations a side can be in (simplex is exactly SMPL; SSUS and
// SSWS are secondary statuses; PFUL and PFUS are the async primary's).
bool IsValidPairState(const PairState& state);

const char* RoleName(PairRole role);
const char* FenceName(FenceLevel fence);
const char* ModeName(PairMode mode);
// Parse the names above (as stored in metadata and typed by users); false for anything else.
bool ParseRole(const std::string& name, PairRole* role);
bool ParseStatus(const std::string& name, PairStatus* status);
bool ParseFence(const std::string& name, FenceLevel* fence);
bool ParseMode(const std::string& name, PairMode* mode);
const char* StatusName(PairStatus status);
const char* EventName(PairEvent event);
const char* ActionName(PairAction action);
const char* WriteRuleName(WriteRule rule);

inline constexpr PairStatus kAllStatuses[] = {
    PairStatus::kSMPL, PairStatus::kCOPY, PairStatus::kPAIR, PairStatus::kPSUS, PairStatus::kPSUE,
    PairStatus::kSSUS, PairStatus::kSSWS, PairStatus::kPFUL, PairStatus::kPFUS};
inline constexpr PairRole kAllRoles[] = {PairRole::kSimplex, PairRole::kPrimary,
                                         PairRole::kSecondary};
inline constexpr int kEventCount = static_cast<int>(PairEvent::kWriteFailed) + 1;

}  // namespace pairfs::node
