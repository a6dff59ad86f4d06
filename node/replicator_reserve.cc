// Reservations across a pair (doc/design.md "Pairs" and "clusterd and the determining volume"):
// reserve and release ordered at the primary and mirrored; clusterd's preempting reserve of a
// managed volume; the determining volume's record (holder, epoch, outdated site), decided at its
// primary or, with a witness, by a majority of three copies; fence reserve after a link loss.
#include <algorithm>
#include <chrono>
#include <optional>

#include <spdlog/spdlog.h>

#include "node/fence_rules.h"
#include "node/limits.h"
#include "node/peer_status_rules.h"
#include "node/replicator.h"
#include "node/replicator_internal.h"
#include "node/reservation.h"
#include "node/reserve_rules.h"

namespace pairfs::node {

using namespace replicator_internal;

namespace {

wire::ReservationRecord RecordOf(const VolumeMetadata& metadata) {
  return {metadata.reserve_epoch, metadata.reserved_by, metadata.reserve_outdated,
          metadata.reserve_hold};
}

wire::ReserveVoteRequest VoteRequestFor(const std::string& volume, const ReserveOptions& options) {
  return {volume, options.holder, options.outdated, options.force, options.release};
}

// A reserve forwarded to the peer that orders it, asked of the peer's copy `peer_volume`,
// carrying every reserve option.
wire::PeerReserveAskCommand ReserveAskFor(const std::string& peer_volume,
                                          const ReserveOptions& options) {
  return {peer_volume,     options.holder, options.release,
          options.preempt, options.force,  options.outdated};
}

}  // namespace

bool Replicator::IsDetermining(const std::string& name) const {
  return !options_.determining_volume.empty() && name == options_.determining_volume;
}

wire::ReservationRecord Replicator::ReservationOf(const std::string& name) {
  std::shared_ptr<Volume> volume = store_.Find(name);
  if (!volume) return {};
  return RecordOf(volume->metadata());
}

wire::ReserveVoteRequest Replicator::NumberedVote(const std::string& name,
                                                  const ReserveOptions& options) {
  wire::ReserveVoteRequest vote = VoteRequestFor(name, options);
  const uint64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  std::lock_guard<std::recursive_mutex> ordered(determining_mutex_);
  vote.hold = NextVoteNumber(last_vote_number_, ReservationOf(name).hold, now_ms);
  last_vote_number_ = vote.hold;
  return vote;
}

Result<wire::ReservationRecord> Replicator::VoteHere(const std::string& name,
                                                     const wire::ReserveVoteRequest& request,
                                                     std::string* refusal) {
  std::shared_ptr<Volume> volume = store_.Find(name);
  if (!volume) return Status::NotFound("no volume named " + name + " at site " + options_.site);
  std::shared_ptr<Pair> pair = FindPair(name);
  std::unique_lock<std::mutex> ordered;
  if (pair) ordered = std::unique_lock<std::mutex>(pair->reserve_mutex);
  const VoteOutcome outcome = Vote(RecordOf(volume->metadata()), request);
  if (!outcome.granted) {
    *refusal = outcome.reason;
    return outcome.record;
  }
  Status saved = volume->UpdateMetadata([&](VolumeMetadata& metadata) {
    metadata.reserved_by = outcome.record.holder;
    metadata.reserve_epoch = outcome.record.epoch;
    metadata.reserve_outdated = outcome.record.outdated;
    metadata.reserve_hold = outcome.record.hold;
  });
  if (!saved.ok()) return saved;
  refusal->clear();
  return outcome.record;
}

Status Replicator::Reserve(const std::string& name, const ReserveOptions& options, bool forwarded) {
  if (IsDetermining(name)) return ReserveDetermining(name, options, forwarded);
  std::shared_ptr<Volume> volume = store_.Find(name);
  if (!volume) return Status::NotFound("no volume named " + name);
  const wire::ReserveVoteRequest ask = VoteRequestFor(name, options);
  const bool preempting = options.preempt && !options.release;
  Status allowed = CheckManagedReserve(
      ask, options.preempt, !options_.determining_volume.empty(),
      preempting ? ReservationOf(options_.determining_volume).holder : std::string());
  if (!allowed.ok()) return allowed;
  // Applies the reserve to this node's copy.
  auto apply = [&]() -> Status {
    if (options.preempt && !options.release) {
      return volume->UpdateMetadata(
          [&](VolumeMetadata& metadata) { metadata.reserved_by = options.holder; });
    }
    return options.release ? volume->Release(options.holder) : volume->Reserve(options.holder);
  };
  std::shared_ptr<Pair> pair = FindPair(name);
  const PairView view = pair ? pair->Snapshot() : PairView{};
  switch (RouteManagedReserve(pair != nullptr, view.state, forwarded)) {
    case ReserveRoute::kApplyHere: return apply();
    case ReserveRoute::kRefuseForwarded:
      return Status::InvalidArgument("volume " + name + " is secondary at both sites");
    case ReserveRoute::kAskPeer: {
      Result<wire::PeerAnswerMessage> answer =
          Ask(ReserveAskFor(view.peer_volume, options), options.preempt ? kFailoverProbeMs : -1);
      if (!answer.ok())
        return Status::Unreachable("the primary at site " + options_.peer_site + " is unreachable");
      return StatusFromCode(answer->code, answer->message);
    }
    case ReserveRoute::kOrderHere:
    case ReserveRoute::kMajority: break;
  }
  // The primary orders every reserve and release, mirrors it, then applies it here.
  std::lock_guard<std::mutex> ordered(pair->reserve_mutex);
  Status ordered_here =
      CheckOrderedReserve(ask, options.preempt, pair->volume->metadata().reserved_by);
  if (!ordered_here.ok()) return ordered_here;
  wire::ReservationRecord mirrored = RecordOf(pair->volume->metadata());
  mirrored.holder = options.release ? std::string() : options.holder;
  if (!MirrorReservation(view, mirrored).ok()) {
    spdlog::warn("pair {}: site {} did not mirror a reservation", name, options_.peer_site);
    OnLinkLost(*pair, view.generation);
  }
  return apply();
}

Status Replicator::MirrorReservation(const PairView& view, const wire::ReservationRecord& record) {
  Result<wire::PeerAnswerMessage> answer =
      Ask(wire::PeerReserveMirrorCommand{view.peer_volume, record}, kReserveVoteTimeoutMs);
  if (!answer.ok()) return answer.status();
  return StatusFromCode(answer->code, answer->message);
}

Status Replicator::ReserveDetermining(const std::string& name, const ReserveOptions& options,
                                      bool forwarded) {
  if (options.preempt)
    return Status::InvalidArgument("the determining volume is never preempted; use --force");
  if (options.release && !options.force) {
    std::lock_guard<std::recursive_mutex> ordered(determining_mutex_);
    // A release lets the other site win the next race: never while a pair here with fence
    // reserve is apart from its peer (it may have written alone on the strength of this hold).
    for (const std::string& managed : options_.managed_volumes) {
      std::shared_ptr<Pair> pair = FindPair(managed);
      if (!pair) continue;
      const Pair::View view = pair->Snapshot();
      if (HoldsDeterminingVolume(view.context.fence, view.state.status)) {
        return Status::Conflict("the determining volume is not released while " + managed + " is " +
                                StatusName(view.state.status) + " (resync it first)");
      }
    }
  }
  std::shared_ptr<Pair> pair = FindPair(name);
  const PairView view = pair ? pair->Snapshot() : PairView{};
  const ReserveRoute route =
      RouteDeterminingReserve(witness_ != nullptr, pair != nullptr, view.state, forwarded);
  if (route == ReserveRoute::kMajority) return ReserveByMajority(name, options);
  std::shared_ptr<Volume> volume = store_.Find(name);
  if (!volume) return Status::NotFound("no volume named " + name);
  const wire::ReserveVoteRequest request = NumberedVote(name, options);
  std::string refusal;
  switch (route) {
    case ReserveRoute::kApplyHere: {  // not (or no longer) in a pair: this copy is the only one
      std::lock_guard<std::recursive_mutex> ordered(determining_mutex_);
      Result<wire::ReservationRecord> voted = VoteHere(name, request, &refusal);
      if (!voted.ok()) return voted.status();
      return refusal.empty() ? Status::Ok() : Status::Conflict(refusal);
    }
    case ReserveRoute::kRefuseForwarded:
      return Status::InvalidArgument("the determining volume " + name +
                                     " is secondary at both sites");
    case ReserveRoute::kAskPeer: {
      Result<wire::PeerAnswerMessage> answer =
          Ask(ReserveAskFor(view.peer_volume, options), kReserveVoteTimeoutMs);
      if (!answer.ok()) {
        return Status::Unreachable("the determining volume's primary at site " +
                                   options_.peer_site +
                                   " is unreachable and no witness is configured");
      }
      return StatusFromCode(answer->code, answer->message);
    }
    case ReserveRoute::kOrderHere:
    case ReserveRoute::kMajority: break;
  }
  // This copy decides: ordered with every other reserve, release and vote here; the mirror
  // does not wait on the peer's lock (a mirror is applied as it is).
  std::lock_guard<std::recursive_mutex> ordered(determining_mutex_);
  Result<wire::ReservationRecord> voted = VoteHere(name, request, &refusal);
  if (!voted.ok()) return voted.status();
  if (!refusal.empty()) return Status::Conflict(refusal);
  if (!MirrorReservation(view, voted.value()).ok()) {
    spdlog::warn("pair {}: site {} did not mirror the determining volume's reservation", name,
                 options_.peer_site);
    if (IsReplicating(view.state.status)) OnLinkLost(*pair, view.generation);
  }
  spdlog::info("determining volume {}: {} for site {} (epoch {}{})", name,
               options.release ? "released" : "reserved", options.holder, voted->epoch,
               voted->outdated.empty() ? "" : ", outdated " + voted->outdated);
  return Status::Ok();
}

Status Replicator::ReserveByMajority(const std::string& name, const ReserveOptions& options) {
  // A release clears only the copies this site holds (its own grants, also one that found no
  // majority): never a hold the other site won meanwhile (found by the cluster simulation).
  const wire::ReserveVoteRequest request = NumberedVote(name, options);
  std::shared_ptr<Pair> pair = FindPair(name);
  const std::string peer_volume = pair ? pair->Snapshot().peer_volume : name;
  // The peer's vote goes out first and is collected last, and only if still needed: with the
  // witness and this copy granting, a dead peer costs nothing (failover time).
  const wire::PeerVoteCommand command{peer_volume,   options.holder,  options.outdated,
                                      options.force, options.release, request.hold};
  const uint64_t id = calls_->Begin();
  Result<std::string> frame =
      wire::EncodeFrame(command.kType, id, options_.site, wire::EncodeBody(command));
  if (frame.ok()) (void)Transmit(frame.value());
  const int64_t asked_ms = NowMs();
  VoteTally tally;
  std::string own_refusal;
  Result<wire::ReservationRecord> own = [&] {
    std::lock_guard<std::recursive_mutex> ordered(determining_mutex_);
    return VoteHere(name, request, &own_refusal);
  }();
  if (own.ok()) CountVote(&tally, own_refusal.empty(), "", own_refusal, true);
  Result<wire::Reply> witness = witness_->Vote(request, kReserveVoteTimeoutMs);
  if (witness.ok()) CountVote(&tally, witness->code == 0, "the witness", witness->message);
  if (!NeedsPeerVote(tally) || !frame.ok()) {
    calls_->Cancel(id);  // the peer applies its vote when it gets it; its answer is not needed
  } else {
    const int left = kReserveVoteTimeoutMs - static_cast<int>(NowMs() - asked_ms);
    std::optional<wire::Frame> answer = calls_->Wait(id, std::max(left, 1), options_.retransmit_ms,
                                                     [&] { (void)Transmit(frame.value()); });
    wire::PeerAnswerMessage peer;
    if (answer && wire::DecodePeerMessage(answer->body, &peer).ok())
      CountVote(&tally, peer.code == 0, "site " + options_.peer_site, peer.message);
  }
  spdlog::info(
      "determining volume {}: {} for site {}: {} of 3 copies granted ({} refused, {} did not "
      "answer)",
      name, options.release ? "release" : "reserve", options.holder, tally.granted, tally.refused,
      kRecordCopies - tally.granted - tally.refused);
  switch (ReadTally(tally)) {
    case TallyVerdict::kWon: {
      // This copy's grant counted: it must still stand (a release here may have run meanwhile).
      std::lock_guard<std::recursive_mutex> ordered(determining_mutex_);
      if (tally.own_granted && !OwnGrantStands(request, ReservationOf(name).holder)) {
        return Status::Conflict(
            "the determining volume's record changed here while the votes were asked");
      }
      return Status::Ok();
    }
    case TallyVerdict::kRefused: return Status::Conflict(tally.refusal);
    case TallyVerdict::kUnreachable: break;
  }
  return Status::Unreachable("no majority: only " + std::to_string(tally.granted) +
                             " of the determining volume's 3 record copies answered");
}

Status Replicator::Fence(const std::string& name, bool fenced, bool winner) {
  Result<std::shared_ptr<Pair>> found = PairFor(name);
  if (!found.ok()) return found.status();
  Pair& pair = *found.value();
  ClosedGate closed(pair.gate);  // writes in flight finish first; later ones see the fence
  if (!fenced) {
    // Never lift a fence into writing alone: a copy the node fenced after losing the determining
    // volume's reserve (a suspended primary) stays fenced until a resync or takeover, whatever
    // clusterd last saw (found by the cluster simulation: an unfence queued behind that very ask).
    // The one exception is the winner's own copy that wrote alone under fence reserve: this site
    // holds the determining volume, whose record says the peer is the outdated one.
    const Pair::View view = pair.Snapshot();
    if (UnfenceWritesAlone(view.state, view.context)) {
      std::string why;
      if (!winner || !WinnerCopyIsNewest(pair, view, &why)) {
        return Status::Conflict("copy of " + name + " stays fenced: unfenced in " +
                                StatusName(view.state.status) + " it would write without its peer" +
                                (why.empty() ? "" : " (" + why + ")") + "; resync it first");
      }
      spdlog::warn("pair {}: the winner lifts its own fence: {}", name, why);
    }
  }
  Status changed = Change(pair, fenced ? PairEvent::kFence : PairEvent::kUnfence, nullptr, nullptr);
  if (changed.ok())
    spdlog::warn("pair {}: copy {} by clusterd", name, fenced ? "fenced" : "unfenced");
  return changed;
}

bool Replicator::WinnerCopyIsNewest(Pair& pair, const PairView& view, std::string* why) {
  const wire::ReservationRecord record = ReservationOf(options_.determining_volume);
  const bool holds = !options_.determining_volume.empty() && record.holder == options_.site;
  if (!WinnerMayAskPeer(holds, view.state, why)) return false;
  // The peer's own word when it answers; unreachable, the record that this site holds.
  Result<wire::PeerAnswerMessage> answer = AskStatus(pair, kFailoverProbeMs);
  PeerCopy peer;
  peer.answered = answer.ok();
  if (answer.ok()) {
    peer.outdated = answer->outdated;
    peer.generation = answer->generation;
  }
  return WinnerMayLift(peer, view.generation, record.outdated == options_.peer_site,
                       options_.peer_site, why);
}

void Replicator::AskReserveAfterLinkLoss(Pair& pair, const wire::Generation& seen) {
  std::lock_guard<std::mutex> asking(pair.reserve_ask_mutex);
  std::lock_guard<std::recursive_mutex> ordered(
      determining_mutex_);  // until the state change below
  {
    std::lock_guard<std::mutex> lock(pair.mutex);
    if (!LinkReactionApplies(pair.state, pair.generation, seen)) return;  // decided meanwhile
  }
  spdlog::warn(
      "pair {}: link to site {} lost (fence reserve): asking for the determining volume {}",
      pair.volume->name(), options_.peer_site, options_.determining_volume);
  ReserveOptions options;
  options.holder = options_.site;
  options.outdated = options_.peer_site;
  Status reserved = options_.determining_volume.empty()
                        ? Status::Conflict("no determining volume is configured")
                        : Reserve(options_.determining_volume, options, false);
  if (reserved.ok()) {
    spdlog::warn(
        "pair {}: the determining volume is reserved for this site; site {} is outdated, writes go "
        "on here",
        pair.volume->name(), options_.peer_site);
  } else {
    spdlog::error(
        "pair {}: the determining volume's reserve failed ({}): this copy is fenced, waiting "
        "writes fail",
        pair.volume->name(), reserved.message());
  }
  std::lock_guard<std::mutex> lock(pair.mutex);
  if (!LinkReactionApplies(pair.state, pair.generation, seen)) return;
  Result<PairTransition> transition =
      Transit(pair.state, reserved.ok() ? PairEvent::kReserveGranted : PairEvent::kReserveLost,
              pair.context);
  if (transition.ok()) (void)Commit(pair, transition.value(), nullptr);
}

}  // namespace pairfs::node
