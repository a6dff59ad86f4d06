#include "clusterd/cluster_state.h"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace pairfs::clusterd;

namespace {

const Phase kPhases[] = {Phase::kStarting, Phase::kStandby, Phase::kReserving, Phase::kActive,
                         Phase::kFenced};
const Event kEvents[] = {Event::kStartupTimeout,     Event::kPeerSeen,     Event::kPeerLost,
                         Event::kRaceTimer,          Event::kReserveWon,   Event::kReserveRefused,
                         Event::kReserveUnreachable, Event::kCopiesFenced, Event::kPairsHealthy,
                         Event::kPairsSuspended,     Event::kReleased,     Event::kUnfence,
                         Event::kStillFenced,        Event::kTakeover};

bool Has(const Transition& t, Action action) {
  return std::find(t.actions.begin(), t.actions.end(), action) != t.actions.end();
}

ClusterState StateIn(Phase phase, bool peer_alive = true, Phase peer_phase = Phase::kStandby) {
  ClusterState state;
  state.phase = phase;
  state.peer_alive = peer_alive;
  state.peer_phase = peer_phase;
  state.started = phase == Phase::kActive;
  state.holds_determining = phase == Phase::kActive;
  return state;
}

Input Seen(Phase peer) { return {Event::kPeerSeen, peer, true}; }

}  // namespace

TEST_CASE("every phase answers every event, and only a won reserve makes a site ACTIVE") {
  for (Phase phase : kPhases) {
    for (Event event : kEvents) {
      for (bool alive : {false, true}) {
        for (int flags = 0; flags < 16; ++flags) {
          const bool started = flags & 1;
          for (Phase peer : kPhases) {
            ClusterState state = StateIn(phase, alive);
            state.started = started;
            state.copies_fenced = flags & 2;
            state.race_pending = flags & 4;
            state.holds_determining = flags & 8;
            const Transition t = Decide(state, {event, peer, true});
            INFO(PhaseName(phase) << " + " << EventName(event) << " flags " << flags);
            if (t.next.phase == Phase::kActive && phase != Phase::kActive)
              CHECK(event == Event::kReserveWon);
            // on_start only ever runs on a won reserve, and never twice.
            if (Has(t, Action::kRunOnStart)) {
              CHECK(event == Event::kReserveWon);
              CHECK_FALSE(started);
            }
            // Fencing always comes before on_stop, and whoever fences stops its applications.
            if (Has(t, Action::kFenceManaged)) {
              CHECK(t.next.phase == Phase::kFenced);
              CHECK(Has(t, Action::kRunOnStop));
              CHECK(t.actions.front() == Action::kFenceManaged);
              CHECK_FALSE(t.next.started);
            }
            // Entering FENCED fences (a FENCED site's lost race again: they are fenced already).
            if (t.next.phase == Phase::kFenced && phase != Phase::kFenced && !state.copies_fenced) {
              CHECK(Has(t, Action::kFenceManaged));
            }
            if (t.next.phase == Phase::kFenced && phase != Phase::kFenced)
              CHECK(t.next.copies_fenced);
            // Leaving FENCED lifts the fence, or races with it on (the winner lifts it).
            if (phase == Phase::kFenced && t.next.phase != Phase::kFenced) {
              CHECK((Has(t, Action::kUnfenceManaged) || t.next.phase == Phase::kReserving));
            }
            // Whoever becomes ACTIVE with its copies fenced lifts the fence.
            if (t.next.phase == Phase::kActive && phase != Phase::kActive && state.copies_fenced) {
              CHECK(Has(t, Action::kUnfenceManaged));
            }
            // A race is asked exactly when entering RESERVING.
            CHECK(Has(t, Action::kReserveDetermining) ==
                  (t.next.phase == Phase::kReserving && phase != Phase::kReserving));
            if (!t.actions.empty()) CHECK_FALSE(t.why.empty());
          }
        }
      }
    }
  }
}

TEST_CASE("start-up: a peer already active makes a standby; a silent peer makes a race now") {
  CHECK(Decide(StateIn(Phase::kStarting, false), Seen(Phase::kActive)).next.phase ==
        Phase::kStandby);
  CHECK(Decide(StateIn(Phase::kStarting, false), Seen(Phase::kActive)).actions.empty());
  const Transition idle = Decide(StateIn(Phase::kStarting, false), Seen(Phase::kStandby));
  CHECK(idle.next.phase == Phase::kStandby);
  CHECK(idle.actions == std::vector<Action>{Action::kScheduleRace});
  const Transition silent = Decide(StateIn(Phase::kStarting, false), {Event::kStartupTimeout});
  CHECK(silent.next.phase == Phase::kReserving);
  CHECK(silent.actions == std::vector<Action>{Action::kReserveDetermining});
}

TEST_CASE(
    "a restarted clusterd whose applications ran races at once; a standby leaves a starting peer "
    "alone") {
  ClusterState resuming = StateIn(Phase::kStarting, false);
  resuming.resuming = true;
  const Transition t = Decide(resuming, Seen(Phase::kStandby));
  CHECK(t.next.phase == Phase::kReserving);
  CHECK(t.actions == std::vector<Action>{Action::kReserveDetermining});
  // The other side sees it STARTING and waits; only a STANDBY peer makes it race.
  CHECK(Decide(StateIn(Phase::kStandby, true, Phase::kActive), Seen(Phase::kStarting))
            .actions.empty());
  CHECK(Decide(StateIn(Phase::kStandby, true, Phase::kActive), Seen(Phase::kStandby)).actions ==
        std::vector<Action>{Action::kScheduleRace});
}

TEST_CASE("the standby races standby_delay_ms after the peer is lost; the active site at once") {
  const Transition standby =
      Decide(StateIn(Phase::kStandby, true, Phase::kActive), {Event::kPeerLost});
  CHECK(standby.next.phase == Phase::kStandby);
  CHECK(standby.actions == std::vector<Action>{Action::kScheduleRace});
  CHECK(Decide(standby.next, {Event::kRaceTimer}).next.phase == Phase::kReserving);
  // The peer's heartbeats come back before the delay: no race.
  const Transition back = Decide(standby.next, Seen(Phase::kActive));
  CHECK(back.actions == std::vector<Action>{Action::kCancelRace});
  CHECK(Decide(back.next, {Event::kRaceTimer}).next.phase == Phase::kStandby);

  const Transition active = Decide(StateIn(Phase::kActive), {Event::kPeerLost});
  CHECK(active.next.phase == Phase::kReserving);
  CHECK(active.actions == std::vector<Action>{Action::kReserveDetermining});
}

TEST_CASE(
    "won: reserve the managed volumes first, then resync or swap by the determining volume's role, "
    "then on_start") {
  ClusterState reserving = StateIn(Phase::kReserving, false);
  const Transition primary = Decide(reserving, {Event::kReserveWon, Phase::kStarting, true});
  CHECK(primary.actions ==
        std::vector<Action>{Action::kReserveManaged, Action::kResyncPairs, Action::kRunOnStart});
  const Transition secondary = Decide(reserving, {Event::kReserveWon, Phase::kStarting, false});
  CHECK(secondary.actions ==
        std::vector<Action>{Action::kReserveManaged, Action::kSwapPairs, Action::kRunOnStart});
  CHECK(secondary.next.phase == Phase::kActive);
  CHECK(secondary.next.holds_determining);
  // An active site that confirms its reservation does not run on_start again.
  reserving.started = true;
  CHECK_FALSE(
      Has(Decide(reserving, {Event::kReserveWon, Phase::kStarting, true}), Action::kRunOnStart));
}

TEST_CASE("lost: fence first, then on_stop; a start-up race lost to a live peer is a standby") {
  const Transition lost = Decide(StateIn(Phase::kReserving, false), {Event::kReserveRefused});
  CHECK(lost.next.phase == Phase::kFenced);
  CHECK(lost.actions == std::vector<Action>{Action::kFenceManaged, Action::kRunOnStop});
  const Transition unreachable =
      Decide(StateIn(Phase::kReserving, false), {Event::kReserveUnreachable});
  CHECK(unreachable.next.phase == Phase::kFenced);
  CHECK_THAT(unreachable.why, Catch::Contains("takeover --force"));
  const Transition startup =
      Decide(StateIn(Phase::kReserving, true, Phase::kReserving), {Event::kReserveRefused});
  CHECK(startup.next.phase == Phase::kStandby);
  CHECK(startup.actions.empty());
  // Refused while nobody is active (both asked, each copy of the record granted someone else):
  // standby, and race again after timeout_ms; a heartbeat saying the peer won cancels it.
  const Transition idle =
      Decide(StateIn(Phase::kReserving, true, Phase::kStandby), {Event::kReserveRefused});
  CHECK(idle.next.phase == Phase::kStandby);
  CHECK(idle.actions == std::vector<Action>{Action::kScheduleRetry});
  CHECK(idle.next.race_pending);
  CHECK(Decide(idle.next, Seen(Phase::kActive)).actions ==
        std::vector<Action>{Action::kCancelRace});
  CHECK(Decide(idle.next, {Event::kRaceTimer}).next.phase == Phase::kReserving);
  // The node fenced a copy (fence reserve lost after a link loss): hand over. The peer races
  // when it hears FENCED; should it lose too (this site still holds the determining volume),
  // this site races again after standby_delay_ms.
  const Transition node = Decide(StateIn(Phase::kActive), {Event::kCopiesFenced});
  CHECK(node.next.phase == Phase::kFenced);
  CHECK(node.actions ==
        std::vector<Action>{Action::kFenceManaged, Action::kRunOnStop, Action::kScheduleRace});
  CHECK(node.next.race_pending);
  CHECK(Decide(StateIn(Phase::kActive, true, Phase::kActive), {Event::kCopiesFenced}).actions ==
        std::vector<Action>{Action::kFenceManaged, Action::kRunOnStop});
}

TEST_CASE("a fenced peer hands over: the standby races at once") {
  const Transition t = Decide(StateIn(Phase::kStandby, true, Phase::kActive), Seen(Phase::kFenced));
  CHECK(t.next.phase == Phase::kReserving);
}

TEST_CASE("recovery: no failback; the determining volume is released once both are healthy") {
  const Transition healthy = Decide(StateIn(Phase::kActive, true), {Event::kPairsHealthy});
  CHECK(healthy.actions == std::vector<Action>{Action::kReleaseDetermining});
  CHECK(healthy.next.phase == Phase::kActive);
  CHECK_FALSE(Decide(healthy.next, {Event::kReleased}).next.holds_determining);
  CHECK(Decide(StateIn(Phase::kActive, false), {Event::kPairsHealthy}).actions.empty());
  // A hold the standby's node took by its fence reserve is released too once the peer is ACTIVE
  // (else the active site could not confirm the reservation when the standby dies).
  ClusterState standby = StateIn(Phase::kStandby, true, Phase::kActive);
  standby.holds_determining = true;
  const Transition standby_healthy = Decide(standby, {Event::kPairsHealthy});
  CHECK(standby_healthy.actions == std::vector<Action>{Action::kReleaseDetermining});
  CHECK(standby_healthy.next.phase == Phase::kStandby);
  CHECK_FALSE(Decide(standby_healthy.next, {Event::kReleased}).next.holds_determining);
  CHECK(Decide(StateIn(Phase::kStandby, true, Phase::kActive), {Event::kPairsHealthy})
            .actions.empty());
  ClusterState lonely = standby;
  lonely.peer_phase = Phase::kStandby;  // nobody active: its race decides, no release
  CHECK(Decide(lonely, {Event::kPairsHealthy}).actions.empty());
  lonely.peer_alive = false;
  lonely.peer_phase = Phase::kActive;
  CHECK(Decide(lonely, {Event::kPairsHealthy}).actions.empty());
  // auto_resync from the active site once the peer is back.
  CHECK(Decide(StateIn(Phase::kActive, true), {Event::kPairsSuspended}).actions ==
        std::vector<Action>{Action::kAutoResync});
  // A fenced site recovers when the peer is active and the pairs are back in PAIR.
  const Transition fenced =
      Decide(StateIn(Phase::kFenced, true, Phase::kActive), {Event::kPairsHealthy});
  CHECK(fenced.next.phase == Phase::kStandby);
  CHECK(fenced.actions == std::vector<Action>{Action::kUnfenceManaged});
  CHECK(Decide(StateIn(Phase::kFenced, false), {Event::kPairsHealthy}).next.phase ==
        Phase::kFenced);
  // The operator unfences.
  CHECK(Decide(StateIn(Phase::kFenced, true, Phase::kActive), {Event::kUnfence}).next.phase ==
        Phase::kStandby);
}

TEST_CASE("a FENCED site races again while nobody is active; a winner lifts its own fence") {
  ClusterState fenced = StateIn(Phase::kFenced, true, Phase::kStandby);
  fenced.copies_fenced = true;
  for (Phase peer : {Phase::kStandby, Phase::kFenced}) {
    const Transition t = Decide(fenced, Seen(peer));
    CHECK(t.next.phase == Phase::kFenced);
    CHECK(t.next.race_pending);
    CHECK(t.actions == std::vector<Action>{Action::kScheduleRace});
  }
  CHECK(Decide(fenced, Seen(Phase::kStarting)).actions.empty());  // it decides first
  ClusterState pending = Decide(fenced, Seen(Phase::kFenced)).next;
  // The peer races first (or is active): no second race.
  const Transition cancelled = Decide(pending, Seen(Phase::kReserving));
  CHECK(cancelled.actions == std::vector<Action>{Action::kCancelRace});
  CHECK(cancelled.next.phase == Phase::kFenced);
  // Without the peer's heartbeats a FENCED site does not race: the operator decides.
  CHECK(Decide(pending, {Event::kPeerLost}).actions == std::vector<Action>{Action::kCancelRace});
  CHECK(Decide(StateIn(Phase::kFenced, false), Seen(Phase::kFenced)).next.peer_alive);
  const Transition racing = Decide(pending, {Event::kRaceTimer});
  CHECK(racing.next.phase == Phase::kReserving);
  CHECK(racing.actions == std::vector<Action>{Action::kReserveDetermining});
  // Lost again: FENCED without fencing or stopping twice; another try after timeout_ms.
  for (Event lost : {Event::kReserveRefused, Event::kReserveUnreachable}) {
    const Transition again = Decide(racing.next, {lost});
    CHECK(again.next.phase == Phase::kFenced);
    CHECK(again.actions == std::vector<Action>{Action::kScheduleRetry});
  }
  ClusterState racing_alone = racing.next;
  racing_alone.peer_alive = false;
  CHECK(Decide(racing_alone, {Event::kReserveUnreachable}).actions.empty());
  // Won: the fence is lifted after the pairs moved and before on_start.
  const Transition won = Decide(racing.next, {Event::kReserveWon, Phase::kFenced, true});
  CHECK(won.next.phase == Phase::kActive);
  CHECK_FALSE(won.next.copies_fenced);
  CHECK(won.actions == std::vector<Action>{Action::kReserveManaged, Action::kResyncPairs,
                                           Action::kUnfenceManaged, Action::kRunOnStart});
  // A won race from STANDBY has nothing to lift.
  CHECK_FALSE(
      Has(Decide(StateIn(Phase::kReserving), {Event::kReserveWon}), Action::kUnfenceManaged));
  // An unfence the node refused (a suspended copy) is tried again once the pairs are in PAIR.
  ClusterState active = StateIn(Phase::kActive, true, Phase::kStandby);
  active.copies_fenced = true;
  const Transition healthy = Decide(active, {Event::kPairsHealthy});
  CHECK(healthy.actions == std::vector<Action>{Action::kUnfenceManaged});
  CHECK_FALSE(healthy.next.copies_fenced);
  // ... and every timeout_ms meanwhile (the node lifts it once the peer says it is outdated).
  CHECK(Decide(active, {Event::kStillFenced}).actions ==
        std::vector<Action>{Action::kUnfenceManaged});
  CHECK(Decide(StateIn(Phase::kActive), {Event::kStillFenced}).actions.empty());
  CHECK(Decide(StateIn(Phase::kFenced), {Event::kStillFenced}).actions.empty());
}

TEST_CASE("two ACTIVE sites: the one without the determining volume fences itself") {
  ClusterState released = StateIn(Phase::kActive, true, Phase::kStandby);
  released.holds_determining = false;  // released once both were healthy
  const Transition t = Decide(released, Seen(Phase::kActive));
  CHECK(t.next.phase == Phase::kFenced);
  CHECK(t.actions == std::vector<Action>{Action::kFenceManaged, Action::kRunOnStop});
  // The holder stays: the other one yields.
  CHECK(Decide(StateIn(Phase::kActive), Seen(Phase::kActive)).next.phase == Phase::kActive);
  CHECK(Decide(released, Seen(Phase::kReserving)).next.phase == Phase::kActive);
}

TEST_CASE(
    "two ACTIVE sites that both held the record by their own word: the one that releases while "
    "the other is ACTIVE steps down") {
  ClusterState both = StateIn(Phase::kActive, true, Phase::kActive);
  both.holds_determining = true;  // its node's copy said so; the peer won a race it did not hear
  const Transition t = Decide(both, {Event::kReleased});
  CHECK(t.next.phase == Phase::kFenced);
  CHECK_FALSE(t.next.holds_determining);
  CHECK(t.actions == std::vector<Action>{Action::kFenceManaged, Action::kRunOnStop});
  // Its release with the peer STANDBY, FENCED or lost is the usual one: it stays ACTIVE.
  for (const Phase peer : {Phase::kStandby, Phase::kFenced}) {
    ClusterState one = StateIn(Phase::kActive, true, peer);
    one.holds_determining = true;
    CHECK(Decide(one, {Event::kReleased}).next.phase == Phase::kActive);
  }
  ClusterState lost = StateIn(Phase::kActive, false, Phase::kActive);
  CHECK(Decide(lost, {Event::kReleased}).next.phase == Phase::kActive);
}

TEST_CASE("phase names parse back") {
  for (Phase phase : kPhases) {
    Phase parsed = Phase::kStarting;
    REQUIRE(ParsePhase(PhaseName(phase), &parsed));
    CHECK(parsed == phase);
  }
  Phase unused;
  CHECK_FALSE(ParsePhase("active", &unused));
}

TEST_CASE("the operator's cluster takeover races at once, only from FENCED without the peer") {
  ClusterState fenced = In(Phase::kFenced, false);
  fenced.copies_fenced = true;
  const Transition race = Decide(fenced, {Event::kTakeover});
  CHECK(race.next.phase == Phase::kReserving);
  CHECK(race.actions == std::vector<Action>{Action::kReserveDetermining});
  CHECK_THAT(race.why, Catch::Contains("cluster takeover --force"));
  // The copies stay fenced until the race is won; the winner lifts its own fence and starts.
  CHECK(race.next.copies_fenced);
  const Transition won = Decide(race.next, {Event::kReserveWon, Phase::kStarting, true});
  CHECK(won.next.phase == Phase::kActive);
  CHECK(Has(won, Action::kUnfenceManaged));
  CHECK(Has(won, Action::kRunOnStart));
  // Heard again meanwhile: nothing (the daemon refuses the command before it feeds it).
  CHECK(Decide(In(Phase::kFenced, true), {Event::kTakeover}).actions.empty());
  for (Phase phase : {Phase::kStarting, Phase::kStandby, Phase::kReserving, Phase::kActive}) {
    INFO(PhaseName(phase));
    const Transition ignored = Decide(In(phase, false), {Event::kTakeover});
    CHECK(ignored.actions.empty());
    CHECK(ignored.next.phase == phase);
  }
}
