// clusterd/choices.h, table-wise: one row per case.
#include "clusterd/choices.h"

#include <catch2/catch.hpp>

using namespace pairfs;
using namespace pairfs::clusterd;

namespace {

ClusterState In(Phase phase, bool peer_alive, Phase peer_phase = Phase::kStandby) {
  ClusterState state;
  state.phase = phase;
  state.peer_alive = peer_alive;
  state.peer_phase = peer_phase;
  return state;
}

wire::VolumeInfo Volume(const std::string& name, const std::string& role, const std::string& status,
                        bool fenced = false, const std::string& reserved_by = "") {
  wire::VolumeInfo info;
  info.name = name;
  info.role = role;
  info.status = status;
  info.fenced = fenced;
  info.reserved_by = reserved_by;
  return info;
}

std::string Names(const std::vector<Event>& events) {
  std::string names;
  for (Event event : events) names += (names.empty() ? "" : " ") + std::string(EventName(event));
  return names;
}

std::string NameOf(const std::optional<Input>& input) {
  if (!input) return "-";
  std::string name = EventName(input->event);
  if (input->event == Event::kPeerSeen) name += std::string(" ") + PhaseName(input->peer_phase);
  return name;
}

}  // namespace

TEST_CASE(
    "heartbeats: seen anew, in another phase or restarted; lost; silent through the start-up "
    "wait") {
  struct Row {
    const char* what;
    ClusterState state;
    HeartbeatView view;
    const char* input;
  };
  const Row rows[] = {
      {"first heartbeat",
       In(Phase::kStarting, false),
       {true, Phase::kStandby, 7, 0, false},
       "peer-seen STANDBY"},
      {"nothing new",
       In(Phase::kStandby, true, Phase::kActive),
       {true, Phase::kActive, 7, 7, false},
       "-"},
      {"another phase",
       In(Phase::kStandby, true, Phase::kActive),
       {true, Phase::kFenced, 7, 7, false},
       "peer-seen FENCED"},
      {"the peer's clusterd restarted",
       In(Phase::kStandby, true, Phase::kActive),
       {true, Phase::kActive, 8, 7, false},
       "peer-seen ACTIVE"},
      {"lost",
       In(Phase::kActive, true, Phase::kStandby),
       {false, Phase::kStarting, 0, 7, false},
       "peer-lost"},
      {"silent while starting, wait not over",
       In(Phase::kStarting, false),
       {false, Phase::kStarting, 0, 0, false},
       "-"},
      {"silent while starting, wait over",
       In(Phase::kStarting, false),
       {false, Phase::kStarting, 0, 0, true},
       "startup-timeout"},
      {"silent and already known lost",
       In(Phase::kStandby, false),
       {false, Phase::kStarting, 0, 0, true},
       "-"},
  };
  for (const Row& row : rows) {
    INFO(row.what);
    CHECK(NameOf(HeartbeatInput(row.state, row.view)) == row.input);
  }
}

TEST_CASE("a poll of the node: hand over, fenced by the node, still fenced, healthy, suspended") {
  const std::vector<std::string> pairs = {"dv", "vm1"};
  const auto pair = [](const std::string& name) { return Volume(name, "primary", "PAIR"); };
  ClusterState fenced_active = In(Phase::kActive, true);
  fenced_active.copies_fenced = true;
  struct Row {
    const char* what;
    ClusterState state;
    bool answered;
    int64_t silent_ms;
    std::vector<wire::VolumeInfo> volumes;
    bool auto_resync;
    const char* events;
    bool holds;
  };
  const Row rows[] = {
      {"active, node silent for longer than timeout_ms",
       In(Phase::kActive, true),
       false,
       1001,
       {},
       false,
       "copies-fenced",
       false},
      {"active, node silent for timeout_ms",
       In(Phase::kActive, true),
       false,
       1000,
       {},
       false,
       "",
       false},
      {"standby, node silent", In(Phase::kStandby, true), false, 5000, {}, false, "", false},
      {"all in PAIR, peer alive",
       In(Phase::kStandby, true),
       true,
       0,
       {pair("dv"), pair("vm1")},
       false,
       "pairs-healthy",
       false},
      {"all in PAIR, peer lost",
       In(Phase::kStandby, false),
       true,
       0,
       {pair("dv"), pair("vm1")},
       false,
       "",
       false},
      {"a pair missing", In(Phase::kStandby, true), true, 0, {pair("dv")}, false, "", false},
      {"the node fenced a copy",
       In(Phase::kActive, true),
       true,
       0,
       {pair("dv"), Volume("vm1", "primary", "PAIR", true)},
       false,
       "copies-fenced",
       false},
      {"fenced by clusterd itself",
       fenced_active,
       true,
       0,
       {pair("dv"), Volume("vm1", "primary", "PAIR", true)},
       false,
       "still-fenced pairs-healthy",
       false},
      {"fenced while FENCED",
       In(Phase::kFenced, true),
       true,
       0,
       {pair("dv"), Volume("vm1", "secondary", "PAIR", true)},
       false,
       "pairs-healthy",
       false},
      {"suspended primary, auto_resync",
       In(Phase::kActive, true),
       true,
       0,
       {pair("dv"), Volume("vm1", "primary", "PSUE")},
       true,
       "pairs-suspended",
       false},
      {"SSWS, auto_resync",
       In(Phase::kActive, true),
       true,
       0,
       {pair("dv"), Volume("vm1", "secondary", "SSWS")},
       true,
       "pairs-suspended",
       false},
      {"suspended secondary, auto_resync",
       In(Phase::kActive, true),
       true,
       0,
       {pair("dv"), Volume("vm1", "secondary", "PSUS")},
       true,
       "",
       false},
      {"suspended primary, no auto_resync",
       In(Phase::kActive, true),
       true,
       0,
       {pair("dv"), Volume("vm1", "primary", "PSUS")},
       false,
       "",
       false},
      {"suspended primary, peer lost",
       In(Phase::kActive, false),
       true,
       0,
       {pair("dv"), Volume("vm1", "primary", "PSUS")},
       true,
       "",
       false},
      {"the record says this site holds dv",
       In(Phase::kStandby, true),
       true,
       0,
       {Volume("dv", "secondary", "PAIR", false, "a"), pair("vm1")},
       false,
       "pairs-healthy",
       true},
      {"the record says the peer holds dv",
       In(Phase::kStandby, true),
       true,
       0,
       {Volume("dv", "secondary", "PAIR", false, "b"), pair("vm1")},
       false,
       "pairs-healthy",
       false},
  };
  for (const Row& row : rows) {
    INFO(row.what);
    PollView view;
    view.node_answered = row.answered;
    view.node_silent_ms = row.silent_ms;
    view.timeout_ms = 1000;
    view.volumes = row.volumes;
    view.pairs = pairs;
    view.site = "a";
    view.auto_resync = row.auto_resync;
    const PollVerdict verdict = JudgePoll(row.state, view);
    CHECK(Names(verdict.events) == row.events);
    CHECK(verdict.holds_determining == row.holds);
  }
}

TEST_CASE("per volume: primary here, reserve, takeover, resync") {
  struct Row {
    const char* role;
    const char* status;
    bool primary_here;
    bool reserved_after_peer_lost;
    bool taken_over;
    Resync resync;  // peer alive
  };
  const Row rows[] = {
      {"primary", "PAIR", true, true, false, Resync::kNone},
      {"primary", "PSUS", true, true, false, Resync::kFromHere},
      {"primary", "PSUE", true, true, false, Resync::kFromHere},
      {"primary", "COPY", true, true, false, Resync::kNone},
      {"secondary", "PAIR", false, false, true, Resync::kNone},
      {"secondary", "PSUS", false, false, true, Resync::kNone},
      {"secondary", "SSWS", true, true, true, Resync::kSwap},
      {"simplex", "SMPL", false, true, false, Resync::kNone},
  };
  for (const Row& row : rows) {
    INFO(row.role << " " << row.status);
    const wire::VolumeInfo info = Volume("vm1", row.role, row.status);
    CHECK(DeterminingPrimaryHere(info) == row.primary_here);
    CHECK(ReservesManaged(info, true) == row.reserved_after_peer_lost);
    CHECK(ReservesManaged(info, false));
    CHECK(TakesOver(info) == row.taken_over);
    CHECK(TakeoverFoundPeerLost(info) == (std::string(row.status) == "SSWS"));
    CHECK(ResyncFor(info, true) == row.resync);
    CHECK(ResyncFor(info, false) == Resync::kNone);
  }
  CHECK_FALSE(DeterminingPrimaryHere(std::nullopt));
  CHECK(ReservesManaged(std::nullopt, true));
}

TEST_CASE("a failed reserve: refused by a holder, else unreachable") {
  CHECK(ReserveFailedEvent(Code::kConflict) == Event::kReserveRefused);
  CHECK(ReserveFailedEvent(Code::kUnreachable) == Event::kReserveUnreachable);
  CHECK(ReserveFailedEvent(Code::kTimeout) == Event::kReserveUnreachable);
}

TEST_CASE(
    "hooks: on_start once; a resumed site that did not win stops its applications once settled") {
  struct Row {
    Phase phase;
    bool started, race_pending, applications_running, stops;
  };
  const Row rows[] = {
      {Phase::kStandby, false, false, true, true},   {Phase::kFenced, false, false, true, true},
      {Phase::kStandby, false, true, true, false},   {Phase::kReserving, false, false, true, false},
      {Phase::kActive, true, false, true, false},    {Phase::kStandby, false, false, false, false},
      {Phase::kStarting, false, false, true, false},
  };
  for (const Row& row : rows) {
    ClusterState state = In(row.phase, true);
    state.started = row.started;
    state.race_pending = row.race_pending;
    INFO(PhaseName(row.phase) << " started " << row.started << " race " << row.race_pending);
    CHECK(StopsResumedApplications(state, row.applications_running) == row.stops);
  }
  CHECK(RunsOnStart(false));
  CHECK_FALSE(RunsOnStart(true));
}

TEST_CASE("a link hears the peer when it took in a beat less than timeout_ms ago") {
  CHECK(LinkHearsPeer(true, 0, 1000));
  CHECK(LinkHearsPeer(true, 999, 1000));
  CHECK_FALSE(LinkHearsPeer(true, 1000, 1000));
  CHECK_FALSE(LinkHearsPeer(true, -1, 1000));  // the age is unknown
  CHECK_FALSE(LinkHearsPeer(false, 0, 1000));  // never heard
}

TEST_CASE("the site that runs the applications loses the peer interval_ms sooner") {
  ClusterState active;
  active.phase = Phase::kActive;
  active.started = true;
  CHECK(PeerLossMs(active, 1000, 200) == 800);
  ClusterState confirming = active;  // ACTIVE -> RESERVING on peer-lost: the same threshold
  confirming.phase = Phase::kReserving;
  CHECK(PeerLossMs(confirming, 1000, 200) == 800);
  for (Phase phase : {Phase::kStarting, Phase::kStandby, Phase::kReserving, Phase::kFenced}) {
    ClusterState other;
    other.phase = phase;
    INFO(PhaseName(phase));
    CHECK(PeerLossMs(other, 1000, 200) == 1000);
  }
  ClusterState standby;
  standby.phase = Phase::kStandby;
  // A cut of the heartbeat network at t=0, whatever the phase of the beats: each site heard the
  // other's last beat less than interval_ms before the cut. The active site loses the peer before
  // the standby does, so it confirms its hold standby_delay_ms before the standby asks.
  for (int64_t active_heard = -190; active_heard <= 0; active_heard += 10) {
    for (int64_t standby_heard = -190; standby_heard <= 0; standby_heard += 10) {
      INFO("active heard at " << active_heard << ", standby at " << standby_heard);
      CHECK(active_heard + PeerLossMs(active, 1000, 200) <
            standby_heard + PeerLossMs(standby, 1000, 200));
    }
  }
}
