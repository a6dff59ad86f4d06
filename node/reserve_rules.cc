#include "node/reserve_rules.h"

#include <algorithm>

#include "wire/limits.h"

namespace pairfs::node {

Status CheckManagedReserve(const wire::ReserveVoteRequest& ask, bool preempt,
                           bool determining_configured, const std::string& determining_holder) {
  if (ask.force || !ask.outdated.empty()) {
    return Status::InvalidArgument(
        "--force and an outdated site apply to the determining volume only");
  }
  if (preempt && !ask.release && (!determining_configured || determining_holder != ask.holder)) {
    return Status::Conflict(
        "site " + ask.holder + " may preempt " + ask.volume +
        " only while it holds the determining volume's reservation (held by " +
        (determining_holder.empty() ? std::string("nobody") : determining_holder) + ")");
  }
  return Status::Ok();
}

Status CheckOrderedReserve(const wire::ReserveVoteRequest& ask, bool preempt,
                           const std::string& current) {
  if (preempt || !ReservedByOther(current, ask.holder)) return Status::Ok();
  return Status::Conflict("volume " + ask.volume + " is reserved by site " + current +
                          (ask.release ? ", not " + ask.holder : std::string()));
}

bool ReservedByOther(const std::string& holder, const std::string& site) {
  return !holder.empty() && holder != site;
}

bool RecordDecidesHere(const PairState& here) {
  return (here.role == PairRole::kPrimary || here.status == PairStatus::kSSWS) && !here.outdated;
}

namespace {

ReserveRoute AskedElsewhere(bool forwarded) {
  return forwarded ? ReserveRoute::kRefuseForwarded : ReserveRoute::kAskPeer;
}

}  // namespace

ReserveRoute RouteManagedReserve(bool paired, const PairState& here, bool forwarded) {
  if (!paired || !IsReplicating(here.status)) return ReserveRoute::kApplyHere;
  if (here.role == PairRole::kSecondary) return AskedElsewhere(forwarded);
  return ReserveRoute::kOrderHere;
}

ReserveRoute RouteDeterminingReserve(bool witness, bool paired, const PairState& here,
                                     bool forwarded) {
  if (witness) return ReserveRoute::kMajority;
  if (!paired) return ReserveRoute::kApplyHere;
  if (!RecordDecidesHere(here)) return AskedElsewhere(forwarded);
  return ReserveRoute::kOrderHere;
}

bool HoldsDeterminingVolume(FenceLevel fence, PairStatus status) {
  return fence == FenceLevel::kReserve && status != PairStatus::kPAIR;
}

void CountVote(VoteTally* tally, bool granted, const std::string& who, const std::string& why,
               bool own) {
  if (own) tally->own_granted = granted;
  if (granted) {
    ++tally->granted;
    return;
  }
  ++tally->refused;
  if (tally->refusal.empty()) tally->refusal = own ? why : who + ": " + why;
}

bool NeedsPeerVote(const VoteTally& tally) { return tally.granted < kMajority; }

TallyVerdict ReadTally(const VoteTally& tally) {
  if (tally.granted >= kMajority) return TallyVerdict::kWon;
  if (tally.refused > 0) return TallyVerdict::kRefused;
  return TallyVerdict::kUnreachable;
}

bool OwnGrantStands(const wire::ReserveVoteRequest& request, const std::string& holder_now) {
  return holder_now == (request.release ? std::string() : request.holder);
}

uint64_t NextVoteNumber(uint64_t last_sent, uint64_t own_hold, uint64_t now_ms) {
  return std::max({last_sent + 1, own_hold + 1, now_ms});
}

bool MirrorReplaces(uint64_t mirrored_epoch, uint64_t epoch_here) {
  return mirrored_epoch >= epoch_here;
}

bool MirrorFarAhead(uint64_t mirrored_epoch, uint64_t epoch_here) {
  return mirrored_epoch > epoch_here && mirrored_epoch - epoch_here > wire::kMaxEpochJump;
}

}  // namespace pairfs::node
