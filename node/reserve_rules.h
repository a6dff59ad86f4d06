// What the reservations across a pair decide (node/replicator_reserve.cc, and the reservation
// commands of node/pair_commands.cc), as pure functions with no I/O, no lock and no clock, so
// that the node, its table test (tests/unit/node/reserve_rules_test.cc) and the cluster
// simulation (tests/sim/cluster_sim_reserve.cc) take the same decisions. What one copy of the
// determining volume's record answers to a vote is Vote's (node/reservation.h); these say who
// asks whom, what a majority of the answers means, and which record a copy keeps.
// Thread-safe (no state); a VoteTally belongs to one reserve.
#pragma once

#include <cstdint>
#include <string>

#include "node/pair_state.h"
#include "wire/messages.h"
#include "wire/status.h"

namespace pairfs::node {

// Whether a reserve of a managed volume (not the determining one) may be asked at all:
// InvalidArgument for --force or an outdated site (they apply to the determining volume only),
// Conflict for a preempt by a site that does not hold the determining volume's reservation
// (`determining_holder`, as this node's copy of its record says; `determining_configured` false
// when the config names no determining volume). `ask.volume` names the managed volume.
Status CheckManagedReserve(const wire::ReserveVoteRequest& ask, bool preempt,
                           bool determining_configured, const std::string& determining_holder);

// Whether a managed volume reserved by `holder` (empty: by nobody) is held by a site other than
// `site`: then writes from `site` (at its mount, or forwarded from there) are refused (Conflict),
// and so is a reserve or release `site` asks without preempting.
bool ReservedByOther(const std::string& holder, const std::string& site);

// Whether the primary of a managed volume orders a reserve (or release) by `ask.holder` while
// `current` holds the volume: a preempt always; else only if nobody or the asker holds it
// (Conflict "volume V is reserved by site C").
Status CheckOrderedReserve(const wire::ReserveVoteRequest& ask, bool preempt,
                           const std::string& current);

// Whether this copy of the determining volume's record decides a reserve when there is no
// witness: the primary's, or a secondary's that took over (SSWS), never an outdated copy's
// (after a takeover elsewhere its record is the stale one). Any other copy asks the peer.
bool RecordDecidesHere(const PairState& here);

// Where a reserve (or release) is decided, for a managed volume and for the determining one.
enum class ReserveRoute : uint8_t {
  kApplyHere,  // this copy is the only one that counts now: applied here alone
  kAskPeer,    // the peer's copy decides: forwarded to it (a reserve the peer forwarded itself
               // is kRefuseForwarded instead)
  kRefuseForwarded,  // forwarded here, but this copy does not decide either: InvalidArgument
                     // ("secondary at both sites")
  kOrderHere,        // this copy decides: applied here and mirrored to the peer, in order
  kMajority,         // the determining volume with a witness: a majority of the three copies
};
// A managed volume's: not in a pair, or not replicating (suspended, SSWS): here; replicating:
// ordered at the primary, asked of it from the secondary. `forwarded`: the peer asked.
ReserveRoute RouteManagedReserve(bool paired, const PairState& here, bool forwarded);
// The determining volume's: with a witness, a majority; not in a pair, here; else where the
// record decides (RecordDecidesHere), asked of the peer from any other copy.
ReserveRoute RouteDeterminingReserve(bool witness, bool paired, const PairState& here,
                                     bool forwarded);

// Whether a managed pair keeps the determining volume from being released (without force): a
// pair with fence reserve apart from its peer (anything but PAIR) may have written alone on the
// strength of this hold, and a release lets the other site win the next race.
bool HoldsDeterminingVolume(FenceLevel fence, PairStatus status);

// The votes of a majority reserve of the determining volume over its three copies of the
// record (this node's, the witness's, the peer's).
inline constexpr int kRecordCopies = 3;
inline constexpr int kMajority = kRecordCopies / 2 + 1;
struct VoteTally {
  int granted = 0;
  int refused = 0;
  bool own_granted = false;  // this copy's vote was a grant: it must still stand at the end
  std::string refusal;       // the first refusal, "who: why"
};
// Counts one answer: `who` granted, or refused with `why` (kept if it is the first refusal).
// `own` marks this copy's vote, whose refusal is kept as it is (without `who`).
void CountVote(VoteTally* tally, bool granted, const std::string& who, const std::string& why,
               bool own = false);
// Whether the peer's vote is still needed: not once a majority granted.
bool NeedsPeerVote(const VoteTally& tally);

enum class TallyVerdict : uint8_t {
  kWon,          // a majority granted; if this copy's grant counted, it must still stand
                 // (OwnGrantStands), else Conflict
  kRefused,      // no majority and some copy refused: Conflict with the first refusal
  kUnreachable,  // no majority and nobody refused: too few copies answered
};
TallyVerdict ReadTally(const VoteTally& tally);

// Whether this copy's grant still stands once the votes are in: its record's holder is the one
// the request made (the asker, or nobody for a release). A release here may have run meanwhile.
bool OwnGrantStands(const wire::ReserveVoteRequest& request, const std::string& holder_now);

// The number a site's next vote on the determining volume's record carries
// (wire::ReserveVoteRequest::hold; node/reservation.h refuses a release numbered below the
// holder's latest reserve as late): greater than every number this site sent since it started
// (`last_sent`) and than the number on its own copy of the record (`own_hold`: its own or its
// peer's last, kept across restarts), and at least `now_ms` (the wall clock in milliseconds:
// the first vote after a restart is later than the ones before it while the clock does not step
// back). Never 0 (0 means "not numbered").
uint64_t NextVoteNumber(uint64_t last_sent, uint64_t own_hold, uint64_t now_ms);

// Whether a mirrored record (the primary's, as it is) replaces this copy's: when it is not
// older (a late retransmit never overwrites a newer record).
bool MirrorReplaces(uint64_t mirrored_epoch, uint64_t epoch_here);
// Whether a mirrored record is far ahead of this copy's (more than wire::kMaxEpochJump): no
// record a node made; refused.
bool MirrorFarAhead(uint64_t mirrored_epoch, uint64_t epoch_here);

}  // namespace pairfs::node
