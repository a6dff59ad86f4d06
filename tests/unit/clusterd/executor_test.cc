// clusterd/executor.h over a scripted node, table-wise: for each action and what the node
// says, the node calls made, in order, and the events fed back.
#include "clusterd/executor.h"

#include <catch2/catch.hpp>

#include <map>

using namespace pairfs;
using namespace pairfs::clusterd;

namespace {

// A node that answers from a table: each volume's role and status, and the code of each kind
// of call (Ok unless set). Records every call and every event as a word.
class ScriptedNode : public ExecutorEnv {
 public:
  std::map<std::string, std::pair<std::string, std::string>> volumes;  // name -> role, status
  // By "KIND NAME" or by "KIND" (reserve, release, fence, unfence, takeover, resync).
  std::map<std::string, Code> codes;
  std::string takeover_status = "PAIR";  // the status a takeover leaves
  std::vector<std::string> calls;

  void CallNode(const NodeCall& call, std::function<void(NodeAnswer)> answered) override {
    std::string kind, name, detail;
    if (const auto* display = std::get_if<wire::DisplayRequest>(&call)) {
      calls.push_back("display " + display->name);
      return answered(Describe(display->name));
    }
    if (const auto* reserve = std::get_if<wire::ReserveRequest>(&call)) {
      kind = "reserve", name = reserve->name, detail = reserve->preempt ? " preempt" : "";
    } else if (const auto* release = std::get_if<wire::ReleaseRequest>(&call)) {
      kind = "release", name = release->name;
    } else if (const auto* resync = std::get_if<wire::ResyncRequest>(&call)) {
      kind = "resync", name = resync->name, detail = resync->swap ? " swap" : "";
    } else if (const auto* takeover = std::get_if<wire::TakeoverRequest>(&call)) {
      kind = "takeover", name = takeover->name, detail = takeover->peer_lost ? " peer-lost" : "";
      if (CodeOf(kind, name) == Code::kOk) volumes[name] = {"primary", takeover_status};
    } else if (const auto* fence = std::get_if<wire::FenceRequest>(&call)) {
      kind = fence->fenced ? "fence" : "unfence", name = fence->name,
      detail = fence->winner ? " winner" : "";
    }
    calls.push_back(kind + " " + name + detail);
    const Code code = CodeOf(kind, name);
    NodeAnswer answer =
        code == Code::kOk ? Describe(name) : NodeAnswer{Status(code, "refused"), {}, ""};
    answered(answer);
  }
  void ScheduleRace(int64_t delay_ms) override {
    calls.push_back("race in " + std::to_string(delay_ms));
  }
  void CancelRace() override { calls.push_back("cancel race"); }
  void RunHook(bool start, Done done) override {
    calls.push_back(start ? "on_start" : "on_stop");
    done();
  }
  void Transitioned(Phase, const Input& input, const Transition&) override {
    std::string fed = std::string("feed ") + EventName(input.event);
    if (input.event == Event::kReserveWon)
      fed += input.determining_primary_here ? " primary-here" : " secondary-here";
    calls.push_back(fed);
  }
  void Log(LogLevel, const std::string&) override {}
  int64_t NowMs() override { return now_ms; }
  int64_t now_ms = 0;

 private:
  Code CodeOf(const std::string& kind, const std::string& name) {
    if (codes.count(kind + " " + name)) return codes[kind + " " + name];
    return codes.count(kind) ? codes[kind] : Code::kOk;
  }
  NodeAnswer Describe(const std::string& name) {
    const auto found = volumes.find(name);
    if (found == volumes.end()) return {Status::NotFound("no " + name), {}, ""};
    wire::VolumeInfo info;
    info.name = name;
    info.role = found->second.first;
    info.status = found->second.second;
    return {Status::Ok(), {info}, ""};
  }
};

// The state machine's stand-in: every event is taken, with no actions, so that a row shows the
// calls of its own actions only.
Transition Taken(const ClusterState& state, const Input&) { return {state, {}, "taken"}; }

std::string Joined(const std::vector<std::string>& words) {
  std::string joined;
  for (const std::string& word : words) joined += (joined.empty() ? "" : "; ") + word;
  return joined;
}

}  // namespace

TEST_CASE("executor: each action's node calls in order, and the events its answers make") {
  struct Row {
    const char* what;
    std::vector<Action> actions;
    std::string dv_role, dv_status, vm1_role, vm1_status;
    std::map<std::string, Code> codes;
    bool peer_alive;
    bool applications_running;
    const char* calls;
  };
  const Row rows[] = {
      {"schedule, retry, cancel",
       {Action::kScheduleRace, Action::kScheduleRetry, Action::kCancelRace},
       "primary",
       "PAIR",
       "primary",
       "PAIR",
       {},
       true,
       false,
       "race in 200; race in 1000; cancel race"},
      {"race won, primary here",
       {Action::kReserveDetermining},
       "primary",
       "PAIR",
       "primary",
       "PAIR",
       {},
       true,
       false,
       "reserve dv; display dv; feed reserve-won primary-here"},
      {"race won, secondary here",
       {Action::kReserveDetermining},
       "secondary",
       "PAIR",
       "primary",
       "PAIR",
       {},
       true,
       false,
       "reserve dv; display dv; feed reserve-won secondary-here"},
      {"race refused",
       {Action::kReserveDetermining},
       "primary",
       "PAIR",
       "primary",
       "PAIR",
       {{"reserve", Code::kConflict}},
       true,
       false,
       "reserve dv; feed reserve-refused"},
      {"race unreachable",
       {Action::kReserveDetermining},
       "primary",
       "PAIR",
       "primary",
       "PAIR",
       {{"reserve", Code::kUnreachable}},
       true,
       false,
       "reserve dv; feed reserve-unreachable"},
      {"reserve managed",
       {Action::kReserveManaged},
       "primary",
       "PAIR",
       "secondary",
       "PAIR",
       {},
       true,
       false,
       "reserve vm1 preempt"},
      {"resync a suspended primary",
       {Action::kResyncPairs},
       "primary",
       "PAIR",
       "primary",
       "PSUE",
       {},
       true,
       false,
       "display dv; display vm1; resync vm1"},
      {"resync an SSWS copy with swap",
       {Action::kAutoResync},
       "secondary",
       "SSWS",
       "secondary",
       "PSUS",
       {},
       true,
       false,
       "display dv; resync dv swap; display vm1"},
      {"no resync while the peer is lost",
       {Action::kResyncPairs},
       "primary",
       "PSUE",
       "primary",
       "PSUE",
       {},
       false,
       false,
       "display dv; display vm1"},
      {"swap: takeovers, then reserve, then resync",
       {Action::kSwapPairs},
       "secondary",
       "PAIR",
       "secondary",
       "PAIR",
       {},
       true,
       false,
       "display dv; takeover dv; display vm1; takeover vm1; reserve vm1 preempt; display dv; "
       "display vm1"},
      {"on_start runs",
       {Action::kRunOnStart},
       "primary",
       "PAIR",
       "primary",
       "PAIR",
       {},
       true,
       false,
       "on_start"},
      {"on_start ran before the restart",
       {Action::kRunOnStart},
       "primary",
       "PAIR",
       "primary",
       "PAIR",
       {},
       true,
       true,
       ""},
      {"fence, then on_stop",
       {Action::kFenceManaged, Action::kRunOnStop},
       "primary",
       "PAIR",
       "primary",
       "PAIR",
       {},
       true,
       true,
       "fence vm1; on_stop"},
      {"unfence",
       {Action::kUnfenceManaged},
       "primary",
       "PAIR",
       "primary",
       "PAIR",
       {},
       true,
       false,
       "unfence vm1"},
      {"release",
       {Action::kReleaseDetermining},
       "primary",
       "PAIR",
       "primary",
       "PAIR",
       {},
       true,
       false,
       "release dv; feed released"},
      {"release refused",
       {Action::kReleaseDetermining},
       "primary",
       "PAIR",
       "primary",
       "PAIR",
       {{"release", Code::kConflict}},
       true,
       false,
       "release dv"},
  };
  for (const Row& row : rows) {
    INFO(row.what);
    ScriptedNode node;
    node.volumes = {{"dv", {row.dv_role, row.dv_status}}, {"vm1", {row.vm1_role, row.vm1_status}}};
    node.codes = row.codes;
    ClusterState state;
    state.peer_alive = row.peer_alive;
    bool applications_running = row.applications_running;
    Executor executor({"a", "b", "dv", {"vm1"}, 200, 1000}, node, state, applications_running,
                      &Taken);
    bool done = false;
    executor.Execute(row.actions, [&] { done = true; });
    CHECK(done);
    CHECK(Joined(node.calls) == row.calls);
  }
}

TEST_CASE("executor: an unfence the node refuses leaves the copies fenced") {
  ScriptedNode node;
  node.volumes = {{"dv", {"primary", "PAIR"}}, {"vm1", {"primary", "PSUE"}}};
  node.codes = {{"unfence", Code::kInvalidArgument}};
  ClusterState state;
  state.phase = Phase::kActive;
  bool applications_running = true;
  Executor executor({"a", "b", "dv", {"vm1"}, 200, 1000}, node, state, applications_running,
                    &Taken);
  executor.Execute({Action::kUnfenceManaged}, [] {});
  CHECK(Joined(node.calls) == "unfence vm1 winner");
  CHECK(state.copies_fenced);
}

TEST_CASE(
    "executor: a takeover that finds the peer's storage lost leaves the copies still secondary "
    "unreserved") {
  ScriptedNode node;
  node.volumes = {{"dv", {"secondary", "PAIR"}}, {"vm1", {"secondary", "PAIR"}}};
  node.takeover_status = "SSWS";  // the peer's storage did not answer
  node.codes = {{"takeover vm1", Code::kUnreachable}};
  ClusterState state;
  bool applications_running = false;
  Executor executor({"a", "b", "dv", {"vm1"}, 200, 1000}, node, state, applications_running,
                    &Taken);
  executor.Execute({Action::kSwapPairs}, [] {});
  // dv taken over alone (SSWS): vm1's takeover says peer-lost; vm1, still secondary, is not
  // reserved; nothing is resynced while the peer is lost.
  CHECK(Joined(node.calls) ==
        "display dv; takeover dv; display vm1; takeover vm1 peer-lost; display vm1; display dv; "
        "display vm1");
}

TEST_CASE(
    "executor: a fed event runs Decide's actions; a resumed site that settles without winning "
    "stops once") {
  struct Row {
    const char* what;
    Phase phase;
    Input input;
    bool applications_running;
    const char* calls;
  };
  const Row rows[] = {
      {"resumed, the peer is active: standby, on_stop",
       Phase::kStarting,
       {Event::kPeerSeen, Phase::kActive, true},
       true,
       "feed peer-seen; on_stop"},
      {"not resumed, the peer is active: standby",
       Phase::kStarting,
       {Event::kPeerSeen, Phase::kActive, true},
       false,
       "feed peer-seen"},
      {"resumed, nobody active: a race is pending, no on_stop yet",
       Phase::kStarting,
       {Event::kPeerSeen, Phase::kStandby, true},
       true,
       "feed peer-seen; race in 200"},
      {"race timer: reserve, won, then the winner's actions",
       Phase::kStandby,
       {Event::kRaceTimer},
       false,
       "feed race-timer; reserve dv; display dv; feed reserve-won primary-here; reserve vm1 "
       "preempt; display dv; "
       "display vm1; on_start"},
  };
  for (const Row& row : rows) {
    INFO(row.what);
    ScriptedNode node;
    node.volumes = {{"dv", {"primary", "PAIR"}}, {"vm1", {"primary", "PAIR"}}};
    ClusterState state;
    state.phase = row.phase;
    state.race_pending = row.phase == Phase::kStandby;
    bool applications_running = row.applications_running;
    Executor executor({"a", "b", "dv", {"vm1"}, 200, 1000}, node, state, applications_running);
    executor.Feed(row.input, [] {});
    CHECK(Joined(node.calls) == row.calls);
  }
}

TEST_CASE(
    "executor: a poll's retries are paced by timeout_ms; a silent node hands over once timeout_ms "
    "passed") {
  ScriptedNode node;
  ClusterState state;
  state.phase = Phase::kActive;
  state.peer_alive = true;
  state.copies_fenced = true;
  bool applications_running = true;
  ExecutorConfig config{"a", "b", "dv", {"vm1"}, 200, 1000, true};
  Executor executor(config, node, state, applications_running, &Taken);
  auto volume = [](const std::string& name, const std::string& role, const std::string& status) {
    wire::VolumeInfo info;
    info.name = name, info.role = role, info.status = status;
    return info;
  };
  const std::vector<wire::VolumeInfo> fenced_in_pair = {volume("dv", "primary", "PAIR"),
                                                        volume("vm1", "primary", "PAIR")};
  const std::vector<wire::VolumeInfo> suspended = {volume("dv", "primary", "PAIR"),
                                                   volume("vm1", "primary", "PSUE")};
  struct Row {
    int64_t now_ms;
    bool answered;
    std::vector<wire::VolumeInfo> volumes;
    const char* calls;
  };
  const Row rows[] = {
      {0, true, fenced_in_pair, "feed still-fenced; feed pairs-healthy"},
      {999, true, fenced_in_pair, "feed pairs-healthy"},
      {1000, true, fenced_in_pair, "feed still-fenced; feed pairs-healthy"},
      {1000, true, suspended, "feed pairs-suspended"},
      {1500, true, suspended, ""},
      {2000, true, suspended, "feed still-fenced; feed pairs-suspended"},
      {2500, false, {}, ""},
      {3000, false, {}, ""},
      {3001, false, {}, "feed copies-fenced"},
  };
  for (const Row& row : rows) {
    INFO("at " << row.now_ms << " ms");
    node.calls.clear();
    node.now_ms = row.now_ms;
    executor.Polled(row.answered, row.volumes, [] {});
    CHECK(Joined(node.calls) == row.calls);
  }
}

TEST_CASE("executor: heartbeats feed the peer seen once per phase or incarnation, then lost") {
  ScriptedNode node;
  ClusterState state;
  state.phase = Phase::kActive;
  state.started = state.holds_determining = true;
  bool applications_running = true;
  Executor executor({"a", "b", "dv", {"vm1"}, 200, 1000}, node, state, applications_running);
  struct Row {
    bool heard;
    Phase peer;
    uint64_t incarnation;
    const char* calls;
  };
  const Row rows[] = {
      {true, Phase::kStandby, 5, "feed peer-seen"},
      {true, Phase::kStandby, 5, ""},
      {true, Phase::kStandby, 6, "feed peer-seen"},
      {false, Phase::kStarting, 0,
       "feed peer-lost; reserve dv; display dv; feed reserve-won primary-here; "
       "reserve vm1 preempt; display dv; display vm1"},
  };
  node.volumes = {{"dv", {"primary", "PAIR"}}, {"vm1", {"primary", "PAIR"}}};
  for (const Row& row : rows) {
    INFO(row.heard << " " << PhaseName(row.peer) << " " << row.incarnation);
    node.calls.clear();
    HeartbeatView view;
    view.peer_heard = row.heard;
    view.peer_phase = row.peer;
    view.peer_incarnation = row.incarnation;
    executor.Heard(view, [] {});
    CHECK(Joined(node.calls) == row.calls);
    if (row.heard) CHECK(executor.peer_incarnation() == row.incarnation);
  }
}
