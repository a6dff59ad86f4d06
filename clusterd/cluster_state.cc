#include "clusterd/cluster_state.h"

namespace pairfs::clusterd {
namespace {

using A = Action;

Transition Stay(const ClusterState& state) { return {state, {}, ""}; }

Transition To(ClusterState next, std::vector<Action> actions, std::string why) {
  return {next, std::move(actions), std::move(why)};
}

bool PeerRuns(Phase peer) { return peer == Phase::kActive || peer == Phase::kReserving; }

// Lost the race, or the node fenced a copy: fence first, then stop the applications. A peer
// that is alive and runs nothing races when it hears FENCED; if it cannot win either (this
// site still holds the determining volume), this site races again after standby_delay_ms.
Transition Fence(ClusterState next, std::string why) {
  next.phase = Phase::kFenced;
  next.race_pending = false;
  next.started = false;
  next.holds_determining = false;
  next.copies_fenced = true;
  if (!next.peer_alive || PeerRuns(next.peer_phase))
    return To(next, {A::kFenceManaged, A::kRunOnStop}, std::move(why));
  next.race_pending = true;
  return To(next, {A::kFenceManaged, A::kRunOnStop, A::kScheduleRace}, std::move(why));
}

// A race that a FENCED site (copies fenced, applications stopped) lost again: back to FENCED;
// while the peer is alive and nobody runs the applications, it tries again after timeout_ms
// (the holder may be FENCED too, or a copy of the record came back).
Transition StillFenced(ClusterState next, std::string why) {
  next.phase = Phase::kFenced;
  next.race_pending = false;
  if (!next.peer_alive || PeerRuns(next.peer_phase)) return To(next, {}, std::move(why));
  next.race_pending = true;
  return To(next, {A::kScheduleRetry}, why + "; racing again after timeout_ms");
}

Transition Race(ClusterState next, std::string why) {
  next.phase = Phase::kReserving;
  next.race_pending = false;
  return To(next, {A::kReserveDetermining}, std::move(why));
}

Transition ScheduleRace(ClusterState next, std::string why) {
  if (next.race_pending) return To(next, {}, "");
  next.race_pending = true;
  return To(next, {A::kScheduleRace}, std::move(why));
}

Transition Won(ClusterState next, const Input& input) {
  next.phase = Phase::kActive;
  next.holds_determining = true;
  std::vector<Action> actions = {A::kReserveManaged,
                                 input.determining_primary_here ? A::kResyncPairs : A::kSwapPairs};
  // A site that was FENCED lifts its own fence once the pairs moved (the node lifts it into
  // writing alone only where this site holds the record and the peer is outdated).
  if (next.copies_fenced) actions.push_back(A::kUnfenceManaged);
  next.copies_fenced = false;
  if (!next.started) actions.push_back(A::kRunOnStart);
  next.started = true;
  return To(next, actions, "won the determining volume's reservation");
}

// STARTING: the first heartbeat decides between standing by and racing; silence races alone.
Transition DecideStarting(const ClusterState& state, ClusterState next, const Input& input) {
  switch (input.event) {
    case Event::kPeerSeen:
      if (PeerRuns(input.peer_phase)) {
        next.phase = Phase::kStandby;
        return To(next, {}, "the peer is active: standby");
      }
      if (state.resuming)
        return Race(next, "the applications ran here before the restart: racing at once");
      next.phase = Phase::kStandby;
      return ScheduleRace(
          next, "nobody is active: racing for the determining volume after standby_delay_ms");
    case Event::kStartupTimeout:
      return Race(next, "nothing heard from the peer: racing for the determining volume");
    default: return To(next, {}, "");
  }
}

// STANDBY: races when nobody runs the applications, stands aside while the peer does.
Transition DecideStandby(const ClusterState& state, ClusterState next, const Input& input) {
  switch (input.event) {
    case Event::kPeerLost:
      return ScheduleRace(next,
                          "peer lost: racing for the determining volume after standby_delay_ms");
    case Event::kPeerSeen:
      if (input.peer_phase == Phase::kFenced)
        return Race(next, "the peer is fenced and hands over: racing now");
      if (PeerRuns(input.peer_phase)) {
        if (!state.race_pending) return To(next, {}, "");
        next.race_pending = false;
        return To(next, {A::kCancelRace}, "the peer is active again: race cancelled");
      }
      if (input.peer_phase == Phase::kStarting) return To(next, {}, "");  // it decides first
      return ScheduleRace(
          next, "nobody is active: racing for the determining volume after standby_delay_ms");
    case Event::kRaceTimer:
      if (!state.race_pending) return To(next, {}, "");
      return Race(next, "racing for the determining volume");
    case Event::kPairsHealthy:
      // A hold this site's node took by its fence reserve (a write here after a link loss,
      // e.g. of a volume whose primary is here) is released like the active site's: the
      // next race starts from an unreserved determining volume, not from this standby.
      if (!state.holds_determining || !next.peer_alive || next.peer_phase != Phase::kActive) {
        return To(next, {}, "");
      }
      return To(
          next, {A::kReleaseDetermining},
          "both sites healthy, pairs in PAIR: releasing the determining volume this standby holds");
    case Event::kReleased: next.holds_determining = false; return To(next, {}, "");
    default: return To(next, {}, "");
  }
}

// RESERVING: the determining volume's answer makes this site ACTIVE, STANDBY or FENCED.
Transition DecideReserving(const ClusterState& state, ClusterState next, const Input& input) {
  switch (input.event) {
    case Event::kReserveWon: return Won(next, input);
    case Event::kReserveRefused:
      if (next.peer_alive && !state.started && state.copies_fenced) {
        return StillFenced(
            next, "the other site holds the determining volume's reservation: still fenced");
      }
      if (next.peer_alive && !state.started) {
        next.phase = Phase::kStandby;
        if (PeerRuns(next.peer_phase))
          return To(next, {}, "the peer holds the determining volume and is alive: standby");
        // Nobody is active: both sites may have been refused (each copy of the record granted
        // another asker while the third did not answer); the heartbeats do not change, so
        // nothing else makes them race again.
        next.race_pending = true;
        return To(next, {A::kScheduleRetry},
                  "the determining volume's reservation is held elsewhere and nobody is active: "
                  "standby; racing "
                  "again after timeout_ms");
      }
      return Fence(next, "the other site holds the determining volume's reservation");
    case Event::kReserveUnreachable:
      if (!state.started && state.copies_fenced) {
        return StillFenced(next,
                           "the determining volume's reservation cannot be decided: still fenced");
      }
      return Fence(next,
                   "the determining volume's reservation cannot be decided (its primary, or a "
                   "majority of its copies, did not answer); if the other site is really down, "
                   "`pairctl cluster takeover --force` at this site is the operator's way on");
    default: return To(next, {}, "");
  }
}

// ACTIVE: confirms its reservation when the peer is lost, releases it once both are healthy.
Transition DecideActive(const ClusterState& state, ClusterState next, const Input& input) {
  switch (input.event) {
    case Event::kPeerLost:
      return Race(next, "peer lost: confirming the determining volume's reservation");
    case Event::kPeerSeen:
      // Two ACTIVE sites: the one without the determining volume missed the other's race
      // (a one-way cut of the heartbeats after a release). Its I/O is already fenced (EBADE).
      if (input.peer_phase != Phase::kActive || state.holds_determining) return To(next, {}, "");
      return Fence(next,
                   "the peer is ACTIVE and holds the determining volume: it won a race this site "
                   "did not hear");
    case Event::kPairsHealthy:
      if (!next.peer_alive) return To(next, {}, "");
      if (state.copies_fenced) {
        // The winner's unfence was refused (a suspended copy): resynced now, it is lifted.
        next.copies_fenced = false;
        return To(next, {A::kUnfenceManaged}, "pairs back in PAIR: lifting this site's own fence");
      }
      if (!state.holds_determining) return To(next, {}, "");
      return To(next, {A::kReleaseDetermining},
                "both sites healthy, pairs in PAIR: releasing the determining volume");
    case Event::kStillFenced:
      // The node lifts it once the peer answers that its copy is outdated or older.
      if (!state.copies_fenced) return To(next, {}, "");
      next.copies_fenced = false;
      return To(next, {A::kUnfenceManaged},
                "this site's copies are still fenced: lifting the fence again");
    case Event::kReleased:
      next.holds_determining = false;
      // Two ACTIVE sites, and this one held the record only by its own copy's word (its node's
      // fence reserve) while the peer won the race it did not hear: neither holds it now, and
      // nothing would tell them apart. This one steps down; a FENCED pair races again.
      if (next.peer_alive && next.peer_phase == Phase::kActive)
        return Fence(next,
                     "released the determining volume while the peer is ACTIVE too: stepping down");
      return To(next, {}, "");
    case Event::kPairsSuspended:
      if (!next.peer_alive) return To(next, {}, "");
      return To(next, {A::kAutoResync}, "peer back, pairs suspended: auto_resync");
    default: return To(next, {}, "");
  }
}

// FENCED: races again only while the peer is alive and nobody runs the applications.
Transition DecideFenced(const ClusterState& state, ClusterState next, const Input& input) {
  switch (input.event) {
    case Event::kPeerSeen:
      // Nobody is active (the peer is STANDBY after a refused race, or FENCED too): race
      // again, so that the holder of the determining volume, or whoever wins it, carries on.
      if (PeerRuns(input.peer_phase)) {
        if (!state.race_pending) return To(next, {}, "");
        next.race_pending = false;
        return To(next, {A::kCancelRace}, "the peer is racing or active: race cancelled");
      }
      if (input.peer_phase == Phase::kStarting) return To(next, {}, "");  // it decides first
      return ScheduleRace(
          next, "nobody is active: racing again for the determining volume after standby_delay_ms");
    case Event::kPeerLost:
      // Without the peer's heartbeats this site does not race: the operator decides.
      if (!state.race_pending) return To(next, {}, "");
      next.race_pending = false;
      return To(next, {A::kCancelRace}, "peer lost: no race while fenced");
    case Event::kRaceTimer:
      if (!state.race_pending) return To(next, {}, "");
      return Race(next, "racing again for the determining volume");
    case Event::kUnfence:
      next.phase = Phase::kStandby;
      next.copies_fenced = false;
      if (!next.peer_alive || !PeerRuns(next.peer_phase)) {
        next.race_pending = true;
        return To(next, {A::kUnfenceManaged, A::kScheduleRace},
                  "unfenced by the operator; nobody is active: racing after standby_delay_ms");
      }
      return To(next, {A::kUnfenceManaged}, "unfenced by the operator");
    case Event::kTakeover:
      // The operator knows the other site is down; the daemon took the pairs over. The copies
      // stay fenced until this site wins (the winner lifts its own fence).
      if (next.peer_alive) return To(next, {}, "");
      return Race(next,
                  "the operator's cluster takeover --force: racing for the determining volume");
    case Event::kPairsHealthy:
      if (!next.peer_alive || !PeerRuns(next.peer_phase)) return To(next, {}, "");
      next.phase = Phase::kStandby;
      next.copies_fenced = false;
      next.race_pending = false;
      return To(next, {A::kUnfenceManaged},
                "recovered: the peer is active and the pairs are in PAIR");
    default: return To(next, {}, "");
  }
}

}  // namespace

Transition Decide(const ClusterState& state, const Input& input) {
  ClusterState next = state;
  // What every phase learns from the heartbeats.
  if (input.event == Event::kPeerSeen) {
    next.peer_alive = true;
    next.peer_phase = input.peer_phase;
  } else if (input.event == Event::kPeerLost) {
    next.peer_alive = false;
  }
  if (input.event == Event::kCopiesFenced && state.phase != Phase::kFenced) {
    return Fence(next,
                 "the node fenced a managed copy: it lost the determining volume's reserve after a "
                 "link loss");
  }
  switch (state.phase) {
    case Phase::kStarting: return DecideStarting(state, next, input);
    case Phase::kStandby: return DecideStandby(state, next, input);
    case Phase::kReserving: return DecideReserving(state, next, input);
    case Phase::kActive: return DecideActive(state, next, input);
    case Phase::kFenced: return DecideFenced(state, next, input);
  }
  return Stay(state);
}

const char* PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kStarting: return "STARTING";
    case Phase::kStandby: return "STANDBY";
    case Phase::kReserving: return "RESERVING";
    case Phase::kActive: return "ACTIVE";
    case Phase::kFenced: return "FENCED";
  }
  return "?";
}

bool ParsePhase(const std::string& name, Phase* phase) {
  for (Phase candidate :
       {Phase::kStarting, Phase::kStandby, Phase::kReserving, Phase::kActive, Phase::kFenced}) {
    if (name == PhaseName(candidate)) {
      *phase = candidate;
      return true;
    }
  }
  return false;
}

const char* EventName(Event event) {
  switch (event) {
    case Event::kStartupTimeout: return "startup-timeout";
    case Event::kPeerSeen: return "peer-seen";
    case Event::kPeerLost: return "peer-lost";
    case Event::kRaceTimer: return "race-timer";
    case Event::kReserveWon: return "reserve-won";
    case Event::kReserveRefused: return "reserve-refused";
    case Event::kReserveUnreachable: return "reserve-unreachable";
    case Event::kCopiesFenced: return "copies-fenced";
    case Event::kPairsHealthy: return "pairs-healthy";
    case Event::kPairsSuspended: return "pairs-suspended";
    case Event::kReleased: return "released";
    case Event::kUnfence: return "unfence";
    case Event::kStillFenced: return "still-fenced";
    case Event::kTakeover: return "takeover";
  }
  return "?";
}

const char* ActionName(Action action) {
  switch (action) {
    case Action::kScheduleRace: return "schedule-race";
    case Action::kScheduleRetry: return "schedule-retry";
    case Action::kCancelRace: return "cancel-race";
    case Action::kReserveDetermining: return "reserve-determining";
    case Action::kReserveManaged: return "reserve-managed";
    case Action::kResyncPairs: return "resync-pairs";
    case Action::kSwapPairs: return "swap-pairs";
    case Action::kRunOnStart: return "run-on-start";
    case Action::kFenceManaged: return "fence-managed";
    case Action::kRunOnStop: return "run-on-stop";
    case Action::kUnfenceManaged: return "unfence-managed";
    case Action::kReleaseDetermining: return "release-determining";
    case Action::kAutoResync: return "auto-resync";
  }
  return "?";
}

}  // namespace pairfs::clusterd
