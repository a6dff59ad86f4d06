// Reservations in a cluster simulation (tests/sim/cluster_sim_world.h): node/replicator_reserve.cc
// in continuations (the reserve of a managed volume, ordered at its primary and mirrored;
// the determining volume's record decided at its primary or by a majority of three copies;
// fence reserve after a link loss).
#include "tests/sim/cluster_sim_world.h"

namespace pairfs::sim::cluster {

using node::PairRole;
using node::PairStatus;
using Kind = Message::Kind;

namespace {

Status StatusOf(const Message& answer) {
  if (answer.code == Code::kOk) return Status::Ok();
  return Status(answer.code, answer.message.empty() ? CodeName(answer.code) : answer.message);
}

}  // namespace

// Replicator::VoteHere: the vote rule applied to this node's copy of the record, durably.
std::string Node::VoteHere(const wire::ReserveVoteRequest& request) {
  Copy& determining = copy(kDetermining);
  const node::VoteOutcome outcome = world_.logic().vote(determining.record, request);
  if (outcome.late) world_.OnLateVote();
  if (!outcome.granted) return outcome.reason.empty() ? std::string("refused") : outcome.reason;
  if (!SameRecord(outcome.record, determining.record)) {
    Trace("dv record " + RecordText(determining.record) + " -> " + RecordText(outcome.record));
  }
  determining.record = outcome.record;
  return "";
}

// Replicator::Reserve.
void Node::Reserve(const std::string& name, const ReserveOptions& options, bool forwarded,
                   ThenStatus then, bool determining_held) {
  if (name == kDetermining) {
    if (forwarded) return ReserveDetermining(options, true, determining_held, then);
    if (options.release) world_.OnDeterminingReleaseAsked(site_);
    return ReserveDetermining(options, false, determining_held,
                              [this, options, then](Status status) {
                                world_.OnDeterminingReserved(site_, options.release, status);
                                then(status);
                              });
  }
  const wire::ReserveVoteRequest ask{name, options.holder, options.outdated, options.force,
                                     options.release};
  Status allowed =
      node::CheckManagedReserve(ask, options.preempt, true, copy(kDetermining).record.holder);
  if (!allowed.ok()) return then(allowed);
  // Volume::Reserve and Release (a preempt takes the volume from any holder).
  auto apply = [this, name, ask, options]() -> Status {
    wire::ReservationRecord& record = copy(name).record;
    Status allowed =
        node::CheckOrderedReserve(ask, options.preempt && !options.release, record.holder);
    if (!allowed.ok()) return allowed;
    record.holder = options.release ? std::string() : options.holder;
    Trace(name + " reserved by '" + record.holder + "'");
    return Status::Ok();
  };
  const Copy view = copy(name);
  switch (node::RouteManagedReserve(true, view.state, forwarded)) {
    case node::ReserveRoute::kApplyHere: return then(apply());
    case node::ReserveRoute::kRefuseForwarded:
      return then(Status::InvalidArgument("volume " + name + " is secondary at both sites"));
    case node::ReserveRoute::kAskPeer:
      return AskPeerToReserve(name, options, options.preempt ? kFailoverProbeMs : -1, then);
    case node::ReserveRoute::kOrderHere:
    case node::ReserveRoute::kMajority: break;
  }
  // The primary orders every reserve and release, mirrors it, then applies it here.
  memory(name).reserve_mutex.Lock(
      [this, name, ask, options, apply, then, generation = view.generation] {
        auto done = [this, name, then](Status status) {
          memory(name).reserve_mutex.Unlock();
          then(status);
        };
        Status ordered = node::CheckOrderedReserve(ask, options.preempt, copy(name).record.holder);
        if (!ordered.ok()) return done(ordered);
        wire::ReservationRecord mirrored = copy(name).record;
        mirrored.holder = options.release ? std::string() : options.holder;
        MirrorReservation(name, mirrored, [this, name, apply, done, generation](Status status) {
          if (status.ok()) return done(apply());
          Trace(name + ": the peer did not mirror a reservation");
          OnLinkLost(name, generation, [apply, done] { done(apply()); });
        });
      });
}

wire::ReserveVoteRequest Node::NumberedVote(const ReserveOptions& options) {
  wire::ReserveVoteRequest vote{kDetermining, options.holder, options.outdated, options.force,
                                options.release};
  vote.hold = node::NextVoteNumber(last_vote_number_, copy(kDetermining).record.hold,
                                   static_cast<uint64_t>(world_.now()));
  last_vote_number_ = vote.hold;
  return vote;
}

// The peer's copy decides: the reserve is forwarded to it with every option.
void Node::AskPeerToReserve(const std::string& name, const ReserveOptions& options, int timeout_ms,
                            ThenStatus then) {
  Message command = Command("reserve", name);
  command.vote = {name, options.holder, options.outdated, options.force, options.release};
  command.preempt = options.preempt;
  Ask(command, timeout_ms, [then](std::optional<Message> answer) {
    if (!answer) return then(Status::Unreachable("the peer that decides is unreachable"));
    then(StatusOf(*answer));
  });
}

void Node::MirrorReservation(const std::string& name, const wire::ReservationRecord& record,
                             ThenStatus then) {
  Message mirror = Command("reserve-mirror", name);
  mirror.record = record;
  Ask(mirror, kVoteTimeoutMs, [then](std::optional<Message> answer) {
    if (!answer) return then(Status::Unreachable("the peer did not answer"));
    then(StatusOf(*answer));
  });
}

// Runs `body` holding determining_mutex_ (at once when the caller holds it: the real one is
// recursive); `body` calls the Done it gets when it lets go.
void Node::WithDeterminingMutex(bool held, std::function<void(Done)> body) {
  if (held) return body([] {});
  determining_mutex_->Lock([this, body] { body([this] { determining_mutex_->Unlock(); }); });
}

// Replicator::ReserveDetermining: a release is refused while a fence-reserve pair here is apart
// from its peer; with a witness, a majority; without, the record of the primary (or of a
// secondary that took over), if not outdated, decides under determining_mutex_ (held until its
// mirror is answered), and any other copy asks it.
void Node::ReserveDetermining(const ReserveOptions& options, bool forwarded, bool determining_held,
                              ThenStatus then) {
  if (options.preempt)
    return then(Status::InvalidArgument("the determining volume is never preempted"));
  auto reserve = [this, options, forwarded, determining_held, then] {
    switch (world_.logic().route_determining_reserve(world_.has_witness(), true,
                                                     copy(kDetermining).state, forwarded)) {
      case node::ReserveRoute::kMajority: return ReserveByMajority(options, determining_held, then);
      case node::ReserveRoute::kRefuseForwarded:
        return then(Status::InvalidArgument("the determining volume is secondary at both sites"));
      case node::ReserveRoute::kAskPeer:
        return AskPeerToReserve(kDetermining, options, kVoteTimeoutMs, then);
      case node::ReserveRoute::kApplyHere:
      case node::ReserveRoute::kOrderHere: break;
    }
    const wire::ReserveVoteRequest request = NumberedVote(options);
    WithDeterminingMutex(determining_held, [this, request, then](Done unlock) {
      auto done = [unlock, then](Status status) {
        unlock();
        then(status);
      };
      const Copy view = copy(kDetermining);
      const std::string refusal = VoteHere(request);
      if (!refusal.empty()) return done(Status::Conflict(refusal));
      MirrorReservation(
          kDetermining, copy(kDetermining).record, [this, view, done](Status mirrored) {
            if (!mirrored.ok() && IsReplicating(view.state.status)) {
              Trace("dv: the peer did not mirror the determining volume's reservation");
              return OnLinkLost(kDetermining, view.generation, [done] { done(Status::Ok()); });
            }
            done(Status::Ok());
          });
    });
  };
  if (!options.release || options.force) return reserve();
  WithDeterminingMutex(determining_held, [this, then, reserve](Done unlock) {
    const Copy& managed = copy(kManaged);
    const bool apart = node::HoldsDeterminingVolume(managed.context.fence, managed.state.status);
    unlock();
    if (!apart) return reserve();
    then(Status::Conflict("the determining volume is not released while vm1 is " +
                          std::string(node::StatusName(copy(kManaged).state.status))));
  });
}

// Replicator::ReserveByMajority: the peer's vote goes out first; this copy votes (under
// determining_mutex_); the witness votes (up to kVoteTimeoutMs); only if those two do not make
// a majority is the peer's answer awaited, for what is left of kVoteTimeoutMs (resent every
// retransmit_ms). A majority that counted this copy's grant re-checks that it still stands. A
// release clears only the copies this site holds (it is not forced).
void Node::ReserveByMajority(const ReserveOptions& options, bool determining_held,
                             ThenStatus then) {
  const wire::ReserveVoteRequest request = NumberedVote(options);
  auto tally = std::make_shared<Tally>();
  tally->then = then;
  tally->request = request;
  tally->determining_held = determining_held;
  Message peer_vote = Command("vote", kDetermining);
  peer_vote.vote = request;
  peer_vote.id = world_.NextId();
  peer_vote.origin = site_name();
  tally->peer_id = peer_vote.id;
  calls_.Expect(peer_vote.id, [this, tally](std::optional<Message> answer) {
    if (!answer || tally->done) return;
    tally->peer = answer;
    if (!tally->waiting_for_peer) return;
    Count(*tally, *answer, PeerWho());
    FinishMajority(tally);
  });
  SendToPeer(peer_vote);
  const int64_t asked = world_.now();
  WithDeterminingMutex(determining_held, [this, tally, peer_vote, asked](Done unlock) {
    const std::string own = VoteHere(tally->request);
    unlock();
    node::CountVote(&tally->votes, own.empty(), "", own, true);
    calls_.Exchange({.kind = Kind::kWitnessVote, .vote = tally->request}, "w", kVoteTimeoutMs,
                    false, [this, tally, peer_vote, asked](std::optional<Message> witness) {
                      if (witness) Count(*tally, *witness, "the witness");
                      if (!node::NeedsPeerVote(tally->votes)) {
                        // The peer applies its vote when it gets it; no need to wait.
                        calls_.Cancel(tally->peer_id);
                        return FinishMajority(tally);
                      }
                      if (tally->peer) {
                        Count(*tally, *tally->peer, PeerWho());
                        return FinishMajority(tally);
                      }
                      tally->waiting_for_peer = true;
                      const int64_t left =
                          std::max<int64_t>(kVoteTimeoutMs - (world_.now() - asked), 1);
                      if (calls_.Waiting(tally->peer_id)) {
                        After(kRetransmitMs, [this, peer_vote, deadline = world_.now() + left] {
                          calls_.Resend(peer_vote, PeerEndpoint(), deadline);
                        });
                      }
                      After(left, [this, tally] {
                        calls_.Cancel(tally->peer_id);
                        FinishMajority(tally);
                      });
                    });
  });
}

void Node::Count(Tally& tally, const Message& answer, const std::string& who) {
  node::CountVote(&tally.votes, answer.code == Code::kOk, who, answer.message);
}

void Node::FinishMajority(const std::shared_ptr<Tally>& tally) {
  if (tally->done) return;
  tally->done = true;
  const node::VoteTally& votes = tally->votes;
  Trace("dv: " + std::to_string(votes.granted) + " of 3 copies granted (" +
        std::to_string(votes.refused) + " refused)");
  switch (world_.logic().read_tally(votes)) {
    case node::TallyVerdict::kWon: break;
    case node::TallyVerdict::kRefused: return tally->then(Status::Conflict(votes.refusal));
    case node::TallyVerdict::kUnreachable:
      return tally->then(Status::Unreachable("no majority of the record's copies answered"));
  }
  if (!votes.own_granted) return tally->then(Status::Ok());
  WithDeterminingMutex(tally->determining_held, [this, tally](Done unlock) {
    const std::string holder_now = copy(kDetermining).record.holder;
    unlock();
    if (!node::OwnGrantStands(tally->request, holder_now)) {
      return tally->then(Status::Conflict(
          "the determining volume's record changed here while the votes were asked"));
    }
    tally->then(Status::Ok());
  });
}

// Replicator::AskReserveAfterLinkLoss: one ask at a time; writers that lost the link wait here.
void Node::AskReserveAfterLinkLoss(const wire::Generation& seen, Done then) {
  memory(kManaged).reserve_ask_mutex.Lock([this, seen, then] {
    determining_mutex_->Lock([this, seen, then] { AskReserveHolding(seen, then); });
  });
}

// The rest of AskReserveAfterLinkLoss, holding reserve_ask_mutex and determining_mutex_ until
// the state change (so that no release slips between a granted reserve and the suspend).
void Node::AskReserveHolding(const wire::Generation& seen, Done then) {
  auto done = [this, then] {
    determining_mutex_->Unlock();
    memory(kManaged).reserve_ask_mutex.Unlock();
    then();
  };
  auto still_asking = [this, seen] {
    const Copy& volume = copy(kManaged);
    return node::LinkReactionApplies(volume.state, volume.generation, seen);
  };
  if (!still_asking()) return done();
  Trace("vm1: link lost (fence reserve): asking for the determining volume, peer outdated");
  ReserveOptions options;
  options.holder = site_name();
  options.outdated = peer_name();
  Reserve(
      kDetermining, options, false,
      [this, done, still_asking](Status reserved) {
        if (!still_asking()) return done();
        const Copy& volume = copy(kManaged);
        Result<node::PairTransition> transition = node::Transit(
            volume.state,
            reserved.ok() ? node::PairEvent::kReserveGranted : node::PairEvent::kReserveLost,
            volume.context);
        if (transition.ok()) (void)Commit(kManaged, transition.value(), nullptr);
        done();
      },
      true);
}

// Replicator::ServeReservationCommand.
void Node::ServeReservationCommand(const Message& command, std::function<void(Message)> answer) {
  if (command.command == "reserve") {
    ReserveOptions options{command.vote.holder, command.vote.release, command.preempt,
                           command.vote.force, command.vote.outdated};
    return Reserve(command.volume, options, true,
                   [answer](Status status) { answer(Reply(status)); });
  }
  if (command.command == "vote") {
    return determining_mutex_->Lock([this, command, answer] {
      const std::string refusal = VoteHere(command.vote);
      determining_mutex_->Unlock();
      answer({.code = refusal.empty() ? Code::kOk : Code::kConflict,
              .message = refusal,
              .record = copy(kDetermining).record});
    });
  }
  // reserve-mirror: the primary's record, as it is, unless older than this copy's (a late
  // retransmit never overwrites a newer record) or far ahead of it.
  const uint64_t mine = copy(command.volume).record.epoch;
  if (node::MirrorFarAhead(command.record.epoch, mine))
    return answer({.code = Code::kInvalidArgument});
  if (node::MirrorReplaces(command.record.epoch, mine)) {
    copy(command.volume).record = command.record;
    if (command.volume == kDetermining) Trace("dv record mirrored: " + RecordText(command.record));
  } else if (command.volume == kDetermining) {
    Trace("dv record mirror ignored (older): " + RecordText(command.record));
  }
  answer({});
}

}  // namespace pairfs::sim::cluster
