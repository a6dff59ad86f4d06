// clusterd in a cluster simulation (tests/sim/cluster_sim_world.h): clusterd/daemon.cc's loop
// (heartbeats, Observe, PollNode, Feed) and Execute over the real clusterd::Decide, in
// continuations. The daemon is one thread: while it waits for its node, nothing else runs.
#include "tests/sim/cluster_sim_world.h"

namespace pairfs::sim::cluster {

using clusterd::Action;
using clusterd::Event;
using clusterd::Phase;

namespace {

bool Suspended(const VolumeInfo& info) {
  return info.state.status == node::PairStatus::kPSUS || info.state.status == node::PairStatus::kPSUE;
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
  bool alive = false;
  for (int64_t heard : last_heard_ms_) alive = alive || (heard >= 0 && world_.now() - heard < kHeartbeatTimeoutMs);
  std::vector<std::function<void(Done)>> steps;
  if (alive) {
    const Phase peer = latest_beat_ ? latest_beat_->phase : Phase::kStarting;
    const uint64_t incarnation = latest_beat_ ? latest_beat_->incarnation : 0;
    if (!state.peer_alive || peer != state.peer_phase || incarnation != peer_incarnation_) {
      peer_incarnation_ = incarnation;
      steps.push_back([this, peer](Done next) { Feed({Event::kPeerSeen, peer, true}, next); });
    }
  } else if (state.peer_alive) {
    steps.push_back([this](Done next) { Feed({Event::kPeerLost}, next); });
  } else if (state.phase == Phase::kStarting && world_.now() - started_at_ms_ >= kStartupWaitMs) {
    steps.push_back([this](Done next) { Feed({Event::kStartupTimeout}, next); });
  }
  steps.push_back([this](Done next) {
    if (!race_due_ms_ || world_.now() < *race_due_ms_) return next();
    race_due_ms_.reset();
    Feed({Event::kRaceTimer}, next);
  });
  InOrder(std::move(steps), then);
}

// Daemon::PollNode: a node silent for longer than timeout_ms at the active site hands over;
// this site's holding of dv is learnt from the node's copy of the record.
void Clusterd::PollNode(Done then) {
  ControlRequest display{ControlRequest::Type::kDisplay};
  CallNode(display, [this, then](ControlReply reply) {
    if (!reply.status.ok()) {
      if (!node_silent_) Trace("the node does not answer");
      node_silent_ = true;
      if (state.phase == Phase::kActive && world_.now() - last_node_answer_ms_ > kHeartbeatTimeoutMs) {
        Trace("the node has not answered for more than timeout_ms: handing over");
        return Feed({Event::kCopiesFenced}, then);
      }
      return then();
    }
    node_silent_ = false;
    last_node_answer_ms_ = world_.now();
    for (const VolumeInfo& info : reply.volumes) {
      if (info.name == kDetermining && info.record.holder == SiteName(site_)) state.holds_determining = true;
    }
    bool all_in_pair = true, fenced_by_node = false, suspended_here = false;
    for (const VolumeInfo& info : reply.volumes) {
      if (info.state.status != node::PairStatus::kPAIR) all_in_pair = false;
      if (info.state.fenced && state.phase != Phase::kFenced && !state.copies_fenced) fenced_by_node = true;
      if ((info.state.role == node::PairRole::kPrimary && Suspended(info)) ||
          info.state.status == node::PairStatus::kSSWS) {
        suspended_here = true;
      }
    }
    if (fenced_by_node) return Feed({Event::kCopiesFenced}, then);
    auto auto_resync = [this, suspended_here, then] {
      if (!world_.auto_resync() || !state.peer_alive || !suspended_here || world_.now() < next_auto_resync_ms_) {
        return then();
      }
      next_auto_resync_ms_ = world_.now() + kHeartbeatTimeoutMs;
      Feed({Event::kPairsSuspended}, then);
    };
    auto healthy = [this, all_in_pair, auto_resync] {
      if (state.peer_alive && all_in_pair) return Feed({Event::kPairsHealthy}, auto_resync);
      auto_resync();
    };
    if (state.phase == Phase::kActive && state.copies_fenced && world_.now() >= next_unfence_ms_) {
      next_unfence_ms_ = world_.now() + kHeartbeatTimeoutMs;
      return Feed({Event::kStillFenced}, healthy);
    }
    healthy();
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
    if (applications_running && !state.started &&
        (state.phase == Phase::kStandby || state.phase == Phase::kFenced) && !state.race_pending) {
      return RunHook(false, then);
    }
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
      if (applications_running) return then();
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
      return Feed({reply.status.code() == Code::kConflict ? Event::kReserveRefused : Event::kReserveUnreachable}, then);
    }
    CallNode({ControlRequest::Type::kDisplay, kDetermining}, [this, then](ControlReply info) {
      const bool primary_here = info.status.ok() && !info.volumes.empty() &&
                                (info.volumes[0].state.role == node::PairRole::kPrimary ||
                                 info.volumes[0].state.status == node::PairStatus::kSSWS);
      Feed({Event::kReserveWon, state.peer_phase, primary_here}, then);
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
  CallNode({ControlRequest::Type::kDisplay, kManaged}, [then, reserve](ControlReply info) {
    if (info.status.ok() && !info.volumes.empty() && info.volumes[0].state.role == node::PairRole::kSecondary &&
        info.volumes[0].state.status != node::PairStatus::kSSWS) {
      return then();
    }
    reserve();
  });
}

// For each pair to move from `next` on: asks the node how it is and, where `wanted`, runs `act`.
void Clusterd::ForEachPair(size_t next, std::function<bool(const VolumeInfo&)> wanted,
                           std::function<void(const std::string&, Done)> act, Done then) {
  if (next == PairsToMove().size()) return then();
  const std::string name = PairsToMove()[next];
  Done on = [this, next, wanted, act, then] { ForEachPair(next + 1, wanted, act, then); };
  CallNode({ControlRequest::Type::kDisplay, name}, [name, wanted, act, on](ControlReply info) {
    if (!info.status.ok() || info.volumes.empty() || !wanted(info.volumes[0])) return on();
    act(name, on);
  });
}

// Daemon::ResyncSuspended: suspended primaries from here; copies taken over here with --swap.
void Clusterd::ResyncSuspended(Done then) {
  auto suspended = std::make_shared<std::map<std::string, bool>>();  // name -> swap
  auto wanted = [this, suspended](const VolumeInfo& info) {
    const bool swap = info.state.status == node::PairStatus::kSSWS;
    (*suspended)[info.name] = swap;
    return state.peer_alive && (swap || (info.state.role == node::PairRole::kPrimary && Suspended(info)));
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
  auto secondary = [](const VolumeInfo& info) { return info.state.role == node::PairRole::kSecondary; };
  auto takeover = [this](const std::string& name, Done on) {
    ControlRequest request{ControlRequest::Type::kTakeover, name};
    request.peer_lost = peer_storage_lost_;
    CallNode(request, [this, name, on](ControlReply reply) {
      if (reply.status.ok() && !reply.volumes.empty() && reply.volumes[0].state.status == node::PairStatus::kSSWS) {
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
