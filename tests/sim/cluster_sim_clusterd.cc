// clusterd in a cluster simulation (tests/sim/cluster_sim_world.h): clusterd/daemon.cc's loop
// (heartbeats, Observe, PollNode, Feed) and Execute in continuations, over the product's
// decisions: clusterd::Decide and the daemon's choices (clusterd/choices.h). What stays here is
// what a simulation models: timers, heartbeats on the network, node calls that take time. The
// daemon is one thread: while it waits for its node, nothing else runs.
#include "clusterd/choices.h"
#include "tests/sim/cluster_sim_world.h"

namespace pairfs::sim::cluster {

using clusterd::Action;
using clusterd::Event;
using clusterd::Phase;

namespace {}  // namespace

Clusterd::Clusterd(World& world, int site, int links)
    : Process(world, SiteName(site) + ".clusterd"), site_(site), links_(links) {
  MarkDown();  // started by the world
}

void Clusterd::Trace(const std::string& line) {
  if (world_.tracing()) world_.Trace(name_ + ": " + line);
}

void Clusterd::Crash() { MarkDown(); }

void Clusterd::Start() {
  MarkUp();
  state = clusterd::ClusterState{};
  state.resuming = applications_running;  // clusterd.state says on_start ran: race at once
  busy_ = false;
  executor_ =
      std::make_unique<clusterd::Executor>(clusterd::ExecutorConfig{SiteName(site_),
                                                                    SiteName(1 - site_),
                                                                    kDetermining,
                                                                    {kManaged},
                                                                    kStandbyDelayMs,
                                                                    kHeartbeatTimeoutMs,
                                                                    world_.auto_resync()},
                                           static_cast<clusterd::ExecutorEnv&>(*this), state,
                                           applications_running, world_.logic().decide);
  node_silent_ = false;
  race_due_ms_.reset();
  started_at_ms_ = next_poll_ms_ = world_.now();
  beat_incarnation_ = world_.NextId();
  beat_counter_ = 0;
  last_heard_ms_.assign(links_, -1);
  last_beat_.assign(links_, {});
  latest_beat_.reset();
  unfence_asked_ = false;
  Trace(std::string("started") +
        (applications_running ? "; on_start ran before this restart" : ""));
  BeatLoop();
  After(kLoopTickMs, [this] { Tick(); });
}

// ---- heartbeats (wire::HeartbeatLinks: a thread of its own, beating while the loop waits) ------

// One round: the same counter on every link, as HeartbeatLinks sends them.
void Clusterd::SendBeats() {
  ++beat_counter_;
  for (int link = 0; link < links_; ++link) {
    Message beat;
    beat.kind = Message::Kind::kHeartbeat;
    beat.phase = state.phase;
    beat.incarnation = beat_incarnation_;
    beat.counter = beat_counter_;
    const std::string suffix = ".hb" + std::to_string(link);
    world_.Send(SiteName(site_) + suffix, SiteName(1 - site_) + suffix, beat);
  }
}

void Clusterd::BeatLoop() {
  SendBeats();
  After(kHeartbeatIntervalMs, [this] { BeatLoop(); });
}

// HeartbeatLinks::Impl::Admit: a stale beat is dropped; the latest of all links is kept.
void Clusterd::OnHeartbeat(int link, const Message& beat) {
  if (!wire::BeatIsNewer(last_beat_[link], beat.incarnation, beat.counter)) return;
  last_beat_[link] = {true, beat.incarnation, beat.counter};
  last_heard_ms_[link] = world_.now();
  if (!latest_beat_ || wire::BeatIsNewer({true, latest_beat_->incarnation, latest_beat_->counter},
                                         beat.incarnation, beat.counter)) {
    latest_beat_ = beat;
  }
}

// ---- the loop -----------------------------------------------------------------------------------

void Clusterd::OperatorUnfence() { unfence_asked_ = true; }

// Daemon::Run: serve the control endpoint (an operator's unfence), Observe, and poll the node
// every interval_ms.
void Clusterd::Tick() {
  std::vector<std::function<void(Done)>> steps;
  if (unfence_asked_) {
    unfence_asked_ = false;
    if (state.phase == Phase::kFenced)
      steps.push_back([this](Done next) { Feed({Event::kUnfence}, next); });
  }
  steps.push_back([this](Done next) { Observe(next); });
  steps.push_back([this](Done next) {
    if (world_.now() < next_poll_ms_) return next();
    next_poll_ms_ = world_.now() + kHeartbeatIntervalMs;
    PollNode(next);
  });
  InOrder(std::move(steps), Guard([this] { After(world_.LoopTickMs(), [this] { Tick(); }); }));
}

// Daemon::Observe.
void Clusterd::Observe(Done then) {
  clusterd::HeartbeatView view;
  const int64_t loss_ms =
      world_.logic().peer_loss_ms(state, kHeartbeatTimeoutMs, kHeartbeatIntervalMs);
  for (int64_t heard : last_heard_ms_) {
    view.peer_heard =
        view.peer_heard || clusterd::LinkHearsPeer(heard >= 0, world_.now() - heard, loss_ms);
  }
  if (view.peer_heard && latest_beat_) {
    view.peer_phase = latest_beat_->phase;
    view.peer_incarnation = latest_beat_->incarnation;
  }
  view.startup_wait_over = world_.now() - started_at_ms_ >= kStartupWaitMs;
  view.links = links_;
  executor_->Heard(view, [this, then] {
    if (!race_due_ms_ || world_.now() < *race_due_ms_) return then();
    race_due_ms_.reset();
    Feed({Event::kRaceTimer}, then);
  });
}

// Daemon::PollNode: the executor judges the answer.
void Clusterd::PollNode(Done then) {
  CallNode(
      wire::DisplayRequest{},
      [this, then](ControlReply reply) {
        if (!reply.status.ok()) {
          if (!node_silent_) Trace("the node does not answer");
          node_silent_ = true;
          return executor_->Polled(false, {}, then);
        }
        node_silent_ = false;
        executor_->Polled(true, std::move(reply.volumes), then);
      },
      kHeartbeatTimeoutMs);
}

void Clusterd::Feed(const clusterd::Input& input, Done then) { executor_->Feed(input, then); }

// Daemon::Transitioned.
void Clusterd::Transitioned(Phase before, const clusterd::Input& input,
                            const clusterd::Transition& transition) {
  if (!transition.why.empty()) {
    Trace(std::string(clusterd::PhaseName(before)) + " -> " + clusterd::PhaseName(state.phase) +
          " on " + clusterd::EventName(input.event) + ": " + transition.why);
  }
  if (state.phase != before) SendBeats();  // BeatNow
}

// ---- clusterd::ExecutorEnv ------------------------------------------------------------------

void Clusterd::ScheduleRace(int64_t delay_ms) { race_due_ms_ = world_.now() + delay_ms; }

void Clusterd::CancelRace() { race_due_ms_.reset(); }

void Clusterd::Log(clusterd::LogLevel, const std::string& line) { Trace(line); }

int64_t Clusterd::NowMs() { return world_.now(); }

// Daemon::RunHookFor: the hook takes a little time; clusterd.state says whether it started.
void Clusterd::RunHook(bool start, Done then) {
  After(world_.Uniform(1, 50), [this, start, then] {
    applications_running = start;
    Trace(start ? "on_start ran: the applications run here" : "on_stop ran");
    then();
  });
}

// Daemon::CallNode: over the local socket; a node that is down or dies meanwhile costs the
// whole timeout.
void Clusterd::CallNode(const clusterd::NodeCall& request, Then then, int timeout_ms) {
  auto answered = std::make_shared<bool>(false);
  Then reply = Guard<ControlReply>([answered, then](ControlReply answer) {
    if (*answered) return;
    *answered = true;
    then(std::move(answer));
  });
  After(1, [this, request, reply] {
    Node& node = world_.node(site_);
    if (!node.up()) return;
    node.Control(request, [this, reply](ControlReply answer) {
      world_.After(1, [reply, answer] { reply(answer); });
    });
  });
  After(timeout_ms, [this, reply, answered, timeout_ms] {
    if (*answered) return;
    Trace("the node did not answer within " + std::to_string(timeout_ms) + " ms");
    reply(ControlReply{Status::Unreachable("the node did not answer"), {}, ""});
  });
}

}  // namespace pairfs::sim::cluster
