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

namespace {

// A volume as the node's display shows it to clusterd.
wire::VolumeInfo Displayed(const VolumeInfo& info) {
  wire::VolumeInfo shown;
  shown.name = info.name;
  shown.role = node::RoleName(info.state.role);
  shown.status = node::StatusName(info.state.status);
  shown.fenced = info.state.fenced;
  shown.reserved_by = info.record.holder;
  return shown;
}

std::optional<wire::VolumeInfo> FirstOf(const ControlReply& reply) {
  if (!reply.status.ok() || reply.volumes.empty()) return std::nullopt;
  return Displayed(reply.volumes[0]);
}

const std::vector<std::string>& PairsToMove() {
  static const std::vector<std::string> names = {kDetermining, kManaged};
  return names;
}

}  // namespace

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
  peer_storage_lost_ = false;
  node_silent_ = false;
  last_node_answer_ms_ = world_.now();
  race_due_ms_.reset();
  started_at_ms_ = next_poll_ms_ = next_auto_resync_ms_ = next_unfence_ms_ = world_.now();
  beat_incarnation_ = world_.NextId();
  beat_counter_ = 0;
  peer_incarnation_ = 0;
  last_heard_ms_.assign(links_, -1);
  last_beat_.assign(links_, {0, 0});
  latest_beat_.reset();
  unfence_asked_ = false;
  Trace(std::string("started") + (applications_running ? "; on_start ran before this restart" : ""));
  BeatLoop();
  After(kLoopTickMs, [this] { Tick(); });
}

// ---- heartbeats (wire::HeartbeatLinks: a thread of its own, beating while the loop waits) ------

void Clusterd::SendBeats() {
  for (int link = 0; link < links_; ++link) {
    Message beat;
    beat.kind = Message::Kind::kHeartbeat;
    beat.phase = state.phase;
    beat.incarnation = beat_incarnation_;
    beat.counter = ++beat_counter_;
    const std::string suffix = ".hb" + std::to_string(link);
    world_.Send(SiteName(site_) + suffix, SiteName(1 - site_) + suffix, beat);
  }
}

void Clusterd::BeatLoop() {
  SendBeats();
  After(kHeartbeatIntervalMs, [this] { BeatLoop(); });
}

void Clusterd::OnHeartbeat(int link, const Message& beat) {
  auto& [incarnation, counter] = last_beat_[link];
  if (beat.incarnation == incarnation && beat.counter <= counter) return;  // not newer: dropped
  incarnation = beat.incarnation;
  counter = beat.counter;
  last_heard_ms_[link] = world_.now();
  latest_beat_ = beat;
}

// ---- the loop -----------------------------------------------------------------------------------

void Clusterd::OperatorUnfence() { unfence_asked_ = true; }

// Daemon::Run: serve the control endpoint (an operator's unfence), Observe, and poll the node
// every interval_ms.
void Clusterd::Tick() {
  std::vector<std::function<void(Done)>> steps;
  if (unfence_asked_) {
    unfence_asked_ = false;
    if (state.phase == Phase::kFenced) steps.push_back([this](Done next) { Feed({Event::kUnfence}, next); });
  }
  steps.push_back([this](Done next) { Observe(next); });
  steps.push_back([this](Done next) {
    if (world_.now() < next_poll_ms_) return next();
    next_poll_ms_ = world_.now() + kHeartbeatIntervalMs;
    PollNode(next);
  });
  InOrder(std::move(steps), Guard([this] { After(kLoopTickMs, [this] { Tick(); }); }));
}

// Daemon::Observe.
void Clusterd::Observe(Done then) {
  clusterd::HeartbeatView view;
  for (int64_t heard : last_heard_ms_) {
    view.peer_heard = view.peer_heard || (heard >= 0 && world_.now() - heard < kHeartbeatTimeoutMs);
  }
  if (view.peer_heard && latest_beat_) {
    view.peer_phase = latest_beat_->phase;
    view.peer_incarnation = latest_beat_->incarnation;
  }
  view.known_incarnation = peer_incarnation_;
  view.startup_wait_over = world_.now() - started_at_ms_ >= kStartupWaitMs;
  std::vector<std::function<void(Done)>> steps;
  if (const std::optional<clusterd::Input> input = clusterd::HeartbeatInput(state, view)) {
    if (input->event == Event::kPeerSeen) peer_incarnation_ = view.peer_incarnation;
    steps.push_back([this, input = *input](Done next) { Feed(input, next); });
  }
  steps.push_back([this](Done next) {
    if (!race_due_ms_ || world_.now() < *race_due_ms_) return next();
    race_due_ms_.reset();
    Feed({Event::kRaceTimer}, next);
  });
  InOrder(std::move(steps), then);
}

// Daemon::PollNode: the product's JudgePoll decides; the paced retries run when their timers
// are due.
void Clusterd::PollNode(Done then) {
  ControlRequest display{ControlRequest::Type::kDisplay};
  CallNode(display, [this, then](ControlReply reply) {
    clusterd::PollView view;
    view.node_answered = reply.status.ok();
    view.node_silent_ms = world_.now() - last_node_answer_ms_;
    view.timeout_ms = kHeartbeatTimeoutMs;
    view.pairs = PairsToMove();
    view.site = SiteName(site_);
    view.auto_resync = world_.auto_resync();
    if (!view.node_answered) {
      if (!node_silent_) Trace("the node does not answer");
      node_silent_ = true;
    } else {
      node_silent_ = false;
      last_node_answer_ms_ = world_.now();
      for (const VolumeInfo& info : reply.volumes) view.volumes.push_back(Displayed(info));
    }
    const clusterd::PollVerdict verdict = clusterd::JudgePoll(state, view);
    if (verdict.holds_determining) state.holds_determining = true;
    std::vector<std::function<void(Done)>> steps;
    for (Event event : verdict.events) {
      steps.push_back([this, event, answered = view.node_answered](Done next) {
        if (event == Event::kCopiesFenced && !answered) {
          Trace("the node has not answered for more than timeout_ms: handing over");
        }
        if (event == Event::kStillFenced) {
          if (world_.now() < next_unfence_ms_) return next();
          next_unfence_ms_ = world_.now() + kHeartbeatTimeoutMs;
        }
        if (event == Event::kPairsSuspended) {
          if (world_.now() < next_auto_resync_ms_) return next();
          next_auto_resync_ms_ = world_.now() + kHeartbeatTimeoutMs;
        }
        Feed({event}, next);
      });
    }
    InOrder(std::move(steps), then);
  }, kHeartbeatTimeoutMs);
}

// Daemon::Feed: the state machine decides; the actions run in order; a restarted clusterd
// whose applications still run and that did not win stops them once.
void Clusterd::Feed(const clusterd::Input& input, Done then) {
  const clusterd::Transition transition = world_.logic().decide(state, input);
  const Phase before = state.phase;
  state = transition.next;
  if (!transition.why.empty()) {
    reason_ = transition.why;
    Trace(std::string(clusterd::PhaseName(before)) + " -> " + clusterd::PhaseName(state.phase) + " on " +
          clusterd::EventName(input.event) + ": " + transition.why);
  }
  if (state.phase != before) SendBeats();  // BeatNow
  Execute(transition.actions, 0, [this, then] {
    if (clusterd::StopsResumedApplications(state, applications_running)) return RunHook(false, then);
    then();
  });
}

void Clusterd::Execute(const std::vector<Action>& actions, size_t next, Done then) {
  if (next == actions.size()) return then();
  ExecuteOne(actions[next], [this, actions, next, then] { Execute(actions, next + 1, then); });
}

// Daemon::Execute.
void Clusterd::ExecuteOne(Action action, Done then) {
  const std::string site = SiteName(site_);
  switch (action) {
    case Action::kScheduleRace:
      race_due_ms_ = world_.now() + kStandbyDelayMs;
      return then();
    case Action::kScheduleRetry:
      race_due_ms_ = world_.now() + kHeartbeatTimeoutMs;
      return then();
    case Action::kCancelRace:
      race_due_ms_.reset();
      return then();
    case Action::kReserveDetermining:
      return Race(then);
    case Action::kReserveManaged:
      return ReserveManaged(then);
    case Action::kResyncPairs:
    case Action::kAutoResync:
      return ResyncSuspended(then);
    case Action::kSwapPairs:
      return SwapPairs([this, then] { ReserveManaged([this, then] { ResyncSuspended(then); }); });
    case Action::kRunOnStart:
      if (!clusterd::RunsOnStart(applications_running)) return then();
      return RunHook(true, then);
    case Action::kRunOnStop:
      return RunHook(false, then);
    case Action::kFenceManaged:
    case Action::kUnfenceManaged: {
      ControlRequest request{ControlRequest::Type::kFence, kManaged};
      request.fenced = action == Action::kFenceManaged;
      request.winner = state.phase == Phase::kActive;
      return CallNode(request, [this, then, request](ControlReply reply) {
        if (!request.fenced && !reply.status.ok()) state.copies_fenced = true;  // lifted once back in PAIR
        then();
      });
    }
    case Action::kReleaseDetermining: {
      ControlRequest request{ControlRequest::Type::kRelease, kDetermining, site};
      return CallNode(request, [this, then](ControlReply reply) {
        if (reply.status.ok()) return Feed({Event::kReleased}, then);
        then();
      });
    }
  }
  then();
}

void Clusterd::Race(Done then) {
  peer_storage_lost_ = false;  // learnt again by this race's actions
  ControlRequest request{ControlRequest::Type::kReserve, kDetermining, SiteName(site_)};
  CallNode(request, [this, then](ControlReply reply) {
    if (!reply.status.ok()) {
      Trace("the determining volume's reserve failed: " + reply.status.message());
      return Feed({clusterd::ReserveFailedEvent(reply.status.code())}, then);
    }
    CallNode({ControlRequest::Type::kDisplay, kDetermining}, [this, then](ControlReply info) {
      Feed({Event::kReserveWon, state.peer_phase, clusterd::DeterminingPrimaryHere(FirstOf(info))}, then);
    });
  });
}

// Daemon::ReserveManaged: once the peer's node was found unreachable, a copy still secondary
// (not taken over) is left alone.
void Clusterd::ReserveManaged(Done then) {
  auto reserve = [this, then] {
    ControlRequest request{ControlRequest::Type::kReserve, kManaged, SiteName(site_)};
    request.preempt = true;
    CallNode(request, [this, then](ControlReply reply) {
      if (reply.status.code() == Code::kUnreachable) peer_storage_lost_ = true;
      Trace("reserve of vm1 for this site: " + (reply.status.ok() ? std::string("OK") : reply.status.message()));
      then();
    });
  };
  if (!peer_storage_lost_) return reserve();
  CallNode({ControlRequest::Type::kDisplay, kManaged}, [this, then, reserve](ControlReply info) {
    if (!clusterd::ReservesManaged(FirstOf(info), peer_storage_lost_)) return then();
    reserve();
  });
}

// For each pair to move from `next` on: asks the node how it is and, where `wanted`, runs `act`.
void Clusterd::ForEachPair(size_t next, std::function<bool(const wire::VolumeInfo&)> wanted,
                           std::function<void(const std::string&, Done)> act, Done then) {
  if (next == PairsToMove().size()) return then();
  const std::string name = PairsToMove()[next];
  Done on = [this, next, wanted, act, then] { ForEachPair(next + 1, wanted, act, then); };
  CallNode({ControlRequest::Type::kDisplay, name}, [name, wanted, act, on](ControlReply info) {
    const std::optional<wire::VolumeInfo> shown = FirstOf(info);
    if (!shown || !wanted(*shown)) return on();
    act(name, on);
  });
}

// Daemon::ResyncSuspended: suspended primaries from here; copies taken over here with --swap.
void Clusterd::ResyncSuspended(Done then) {
  auto suspended = std::make_shared<std::map<std::string, bool>>();  // name -> swap
  auto wanted = [this, suspended](const wire::VolumeInfo& info) {
    const clusterd::Resync resync = clusterd::ResyncFor(info, state.peer_alive);
    (*suspended)[info.name] = resync == clusterd::Resync::kSwap;
    return resync != clusterd::Resync::kNone;
  };
  auto resync = [this, suspended](const std::string& name, Done on) {
    ControlRequest request{ControlRequest::Type::kResync, name};
    request.swap = (*suspended)[name];
    CallNode(request, [this, name, on, request](ControlReply reply) {
      Trace("resync" + std::string(request.swap ? " --swap" : "") + " of " + name + ": " +
            (reply.status.ok() ? std::string("started") : reply.status.message()));
      on();
    });
  };
  ForEachPair(0, wanted, resync, then);
}

// The determining volume first: once its primary is here, so is the next race's decision.
void Clusterd::SwapPairs(Done then) {
  auto secondary = [](const wire::VolumeInfo& info) { return clusterd::TakesOver(info); };
  auto takeover = [this](const std::string& name, Done on) {
    ControlRequest request{ControlRequest::Type::kTakeover, name};
    request.peer_lost = peer_storage_lost_;
    CallNode(request, [this, name, on](ControlReply reply) {
      if (reply.status.ok() && !reply.volumes.empty() && clusterd::TakeoverFoundPeerLost(Displayed(reply.volumes[0]))) {
        peer_storage_lost_ = true;  // the next takeovers need not ask it again
      }
      Trace("takeover of " + name + ": " + (reply.status.ok() ? std::string("done") : reply.status.message()));
      on();
    });
  };
  ForEachPair(0, secondary, takeover, then);
}

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
void Clusterd::CallNode(const ControlRequest& request, Then then, int timeout_ms) {
  auto answered = std::make_shared<bool>(false);
  Then reply = Guard<ControlReply>([answered, then](ControlReply answer) {
    if (*answered) return;
    *answered = true;
    then(std::move(answer));
  });
  After(1, [this, request, reply] {
    Node& node = world_.node(site_);
    if (!node.up()) return;
    node.Control(request, [this, reply](ControlReply answer) { world_.After(1, [reply, answer] { reply(answer); }); });
  });
  After(timeout_ms, [this, reply, answered, timeout_ms] {
    if (*answered) return;
    Trace("the node did not answer within " + std::to_string(timeout_ms) + " ms");
    reply(ControlReply{Status::Unreachable("the node did not answer")});
  });
}

}  // namespace pairfs::sim::cluster
