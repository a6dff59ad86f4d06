#include "clusterd/executor.h"

#include <cinttypes>
#include <cstdio>
#include <optional>

#include "clusterd/choices.h"

namespace pairfs::clusterd {

Executor::Executor(ExecutorConfig config, ExecutorEnv& env, ClusterState& state,
                   const bool& applications_running, DecideFunction decide)
    : config_(std::move(config)),
      env_(env),
      state_(state),
      applications_running_(applications_running),
      decide_(decide),
      last_node_answer_ms_(env.NowMs()),
      next_unfence_ms_(last_node_answer_ms_),
      next_auto_resync_ms_(last_node_answer_ms_) {}

void Executor::Heard(HeartbeatView view, Done done) {
  view.known_incarnation = peer_incarnation_;
  const std::optional<Input> input = HeartbeatInput(state_, view);
  if (!input) return done();
  if (input->event == Event::kPeerSeen) {
    if (view.peer_incarnation != peer_incarnation_ && peer_incarnation_ != 0) {
      char incarnation[24];
      std::snprintf(incarnation, sizeof(incarnation), "%016" PRIx64, view.peer_incarnation);
      env_.Log(LogLevel::kInfo, "site " + config_.peer + " restarted its clusterd (incarnation " +
                                    incarnation + ")");
    }
    peer_incarnation_ = view.peer_incarnation;
  } else if (input->event == Event::kPeerLost) {
    env_.Log(LogLevel::kWarn, "no heartbeat from site " + config_.peer + " on any of " +
                                  std::to_string(view.links) + " link(s) for " +
                                  std::to_string(config_.timeout_ms) + " ms");
  }
  Feed(*input, done);
}

void Executor::Polled(bool answered, std::vector<wire::VolumeInfo> volumes, Done done) {
  PollView view;
  view.node_answered = answered;
  view.node_silent_ms = env_.NowMs() - last_node_answer_ms_;
  view.timeout_ms = config_.timeout_ms;
  view.pairs = PairsToMove();
  view.site = config_.site;
  view.auto_resync = config_.auto_resync;
  if (answered) {
    last_node_answer_ms_ = env_.NowMs();
    view.volumes = std::move(volumes);
  }
  const PollVerdict verdict = JudgePoll(state_, view);
  if (verdict.holds_determining) state_.holds_determining = true;
  if (!answered && !verdict.events.empty()) {
    env_.Log(LogLevel::kError, "the node has not answered for " +
                                   std::to_string(view.node_silent_ms) +
                                   " ms: handing over to site " + config_.peer);
  }
  FeedEach(std::make_shared<std::vector<Event>>(verdict.events), 0, done);
}

void Executor::FeedEach(std::shared_ptr<std::vector<Event>> events, size_t next, Done done) {
  if (next == events->size()) return done();
  const Event event = (*events)[next];
  Done on = [this, events, next, done] { FeedEach(events, next + 1, done); };
  // The retries are paced: each when its timer is due (after the events before it ran).
  const int64_t now_ms = env_.NowMs();
  if (event == Event::kStillFenced) {
    if (now_ms < next_unfence_ms_) return on();
    next_unfence_ms_ = now_ms + config_.timeout_ms;
  }
  if (event == Event::kPairsSuspended) {
    if (now_ms < next_auto_resync_ms_) return on();
    next_auto_resync_ms_ = now_ms + config_.timeout_ms;
  }
  Feed({event}, on);
}

void Executor::Feed(const Input& input, Done done) {
  const Transition transition = decide_(state_, input);
  const Phase before = state_.phase;
  state_ = transition.next;
  env_.Transitioned(before, input, transition);
  Execute(transition.actions, [this, done] {
    // A restarted clusterd whose applications still run (on_start before the restart) and that
    // did not win stops them once.
    if (StopsResumedApplications(state_, applications_running_)) return env_.RunHook(false, done);
    done();
  });
}

void Executor::Execute(std::vector<Action> actions, Done done) {
  ExecuteFrom(std::make_shared<std::vector<Action>>(std::move(actions)), 0, std::move(done));
}

void Executor::ExecuteFrom(std::shared_ptr<std::vector<Action>> actions, size_t next, Done done) {
  if (next == actions->size()) return done();
  ExecuteOne((*actions)[next],
             [this, actions, next, done] { ExecuteFrom(actions, next + 1, done); });
}

void Executor::ExecuteOne(Action action, Done done) {
  switch (action) {
    case Action::kScheduleRace: env_.ScheduleRace(config_.standby_delay_ms); return done();
    case Action::kScheduleRetry: env_.ScheduleRace(config_.timeout_ms); return done();
    case Action::kCancelRace: env_.CancelRace(); return done();
    case Action::kReserveDetermining: return ReserveDetermining(done);
    case Action::kReserveManaged: return ReserveManaged(0, done);
    case Action::kResyncPairs:
    case Action::kAutoResync: return ResyncSuspended(0, done);
    case Action::kSwapPairs:
      // Then: where the peer's storage did not answer, the reserve is local now; and a primary
      // here that a lost fence reserve left suspended is resynced.
      return SwapPairs(
          0, [this, done] { ReserveManaged(0, [this, done] { ResyncSuspended(0, done); }); });
    case Action::kRunOnStart:
      if (!RunsOnStart(applications_running_)) {
        env_.Log(LogLevel::kInfo, "on_start ran before this clusterd restarted; not again");
        return done();
      }
      return env_.RunHook(true, done);
    case Action::kRunOnStop: return env_.RunHook(false, done);
    case Action::kFenceManaged:
    case Action::kUnfenceManaged: return FenceManaged(action == Action::kFenceManaged, 0, done);
    case Action::kReleaseDetermining: return ReleaseDetermining(done);
  }
  done();
}

void Executor::ReserveDetermining(Done done) {
  peer_storage_lost_ = false;  // learnt again by this race's actions
  wire::ReserveRequest request{config_.determining_volume, config_.site, false};
  env_.CallNode(request, [this, done](NodeAnswer reserved) {
    if (!reserved.status.ok()) {
      env_.Log(LogLevel::kWarn,
               "the determining volume's reserve failed: " + reserved.status.message());
      return Feed({ReserveFailedEvent(reserved.status.code())}, done);
    }
    VolumeAtNode(
        config_.determining_volume, [this, done](std::optional<wire::VolumeInfo> determining) {
          Feed({Event::kReserveWon, state_.peer_phase, DeterminingPrimaryHere(determining)}, done);
        });
  });
}

void Executor::ReserveManaged(size_t next, Done done) {
  if (next == config_.volumes.size()) return done();
  const std::string name = config_.volumes[next];
  Done on = [this, next, done] { ReserveManaged(next + 1, done); };
  auto reserve = [this, name, on] {
    wire::ReserveRequest request{name, config_.site, true};
    env_.CallNode(request, [this, name, on](NodeAnswer reserved) {
      if (reserved.status.ok()) {
        env_.Log(LogLevel::kInfo, name + " reserved for this site (writes from site " +
                                      config_.peer + " get EBADE)");
      } else {
        if (reserved.status.code() == Code::kUnreachable) peer_storage_lost_ = true;
        env_.Log(LogLevel::kWarn, "cannot reserve " + name + " yet: " + reserved.status.message());
      }
      on();
    });
  };
  if (!peer_storage_lost_) return reserve();
  VolumeAtNode(name, [this, on, reserve](std::optional<wire::VolumeInfo> info) {
    if (!ReservesManaged(info, peer_storage_lost_)) return on();  // a secondary after the takeover
    reserve();
  });
}

void Executor::ResyncSuspended(size_t next, Done done) {
  const std::vector<std::string> pairs = PairsToMove();
  if (next == pairs.size()) return done();
  const std::string name = pairs[next];
  Done on = [this, next, done] { ResyncSuspended(next + 1, done); };
  VolumeAtNode(name, [this, name, on](std::optional<wire::VolumeInfo> info) {
    if (!info) return on();
    const Resync resync = ResyncFor(*info, state_.peer_alive);
    if (resync == Resync::kNone) return on();
    const bool swap = resync == Resync::kSwap;
    env_.CallNode(wire::ResyncRequest{name, swap}, [this, name, swap, on](NodeAnswer resynced) {
      env_.Log(LogLevel::kInfo,
               "resync" + std::string(swap ? " --swap" : "") + " of " + name + ": " +
                   (resynced.status.ok() ? std::string("started") : resynced.status.message()));
      on();
    });
  });
}

// The determining volume first: once its primary is here, so is the next race's decision.
void Executor::SwapPairs(size_t next, Done done) {
  const std::vector<std::string> pairs = PairsToMove();
  if (next == pairs.size()) return done();
  const std::string name = pairs[next];
  Done on = [this, next, done] { SwapPairs(next + 1, done); };
  VolumeAtNode(name, [this, name, on](std::optional<wire::VolumeInfo> info) {
    if (!info || !TakesOver(*info)) return on();
    wire::TakeoverRequest request{name, false, true, peer_storage_lost_};
    env_.CallNode(request, [this, name, on](NodeAnswer taken) {
      if (taken.status.ok() && !taken.volumes.empty() &&
          TakeoverFoundPeerLost(taken.volumes.front())) {
        peer_storage_lost_ = true;  // the next takeovers need not ask it again
      }
      const std::string outcome = taken.status.ok()
                                      ? (taken.message.empty() ? "done" : taken.message)
                                      : taken.status.message();
      env_.Log(taken.status.ok() ? LogLevel::kInfo : LogLevel::kError,
               "takeover of " + name + ": " + outcome);
      on();
    });
  });
}

void Executor::FenceManaged(bool fence, size_t next, Done done) {
  if (next == config_.volumes.size()) return done();
  const std::string name = config_.volumes[next];
  wire::FenceRequest request{name, fence, state_.phase == Phase::kActive};
  env_.CallNode(request, [this, fence, next, name, done](NodeAnswer fenced) {
    if (!fenced.status.ok()) {
      env_.Log(LogLevel::kError, std::string("cannot ") + (fence ? "fence " : "unfence ") + name +
                                     ": " + fenced.status.message());
      // Still fenced: lifted once the pairs are back in PAIR (not taken for the node's own fence).
      if (!fence) state_.copies_fenced = true;
    }
    FenceManaged(fence, next + 1, done);
  });
}

void Executor::ReleaseDetermining(Done done) {
  wire::ReleaseRequest request{config_.determining_volume, config_.site};
  env_.CallNode(request, [this, done](NodeAnswer released) {
    if (released.status.ok()) return Feed({Event::kReleased}, done);
    env_.Log(LogLevel::kWarn,
             "cannot release the determining volume yet: " + released.status.message());
    done();
  });
}

std::vector<std::string> Executor::PairsToMove() const {
  std::vector<std::string> names = {config_.determining_volume};
  names.insert(names.end(), config_.volumes.begin(), config_.volumes.end());
  return names;
}

void Executor::VolumeAtNode(const std::string& name,
                            std::function<void(std::optional<wire::VolumeInfo>)> then) {
  env_.CallNode(wire::DisplayRequest{name}, [then](NodeAnswer answer) {
    if (!answer.status.ok() || answer.volumes.empty()) return then(std::nullopt);
    then(answer.volumes.front());
  });
}

}  // namespace pairfs::clusterd
