// Pair commands in a cluster simulation (tests/sim/cluster_sim_world.h):
// node/operator_commands.cc's Resync, Takeover and Fence, the peer commands they send, the copy
// (copy_engine.cc), the statuses and the background thread, and the control endpoint that
// clusterd and the operator call (node/control_server.cc), in continuations.
#include "tests/sim/cluster_sim_world.h"

namespace pairfs::sim::cluster {

using node::PairEvent;
using node::PairRole;
using node::PairStatus;
using Kind = Message::Kind;

// Replicator::Resync (at the primary; --swap at the side that becomes the primary).
void Node::Resync(const std::string& name, bool swap, ThenStatus then) {
  if (!swap && copy(name).state.role == PairRole::kSecondary) {
    return then(Status::InvalidArgument("the model resyncs at the primary only"));
  }
  AskStatus(name, -1, [this, name, swap, then](std::optional<Message> peer) {
    if (!peer) return then(Status::Unreachable("the peer is unreachable"));
    node::PairContext context = copy(name).context;
    context.peer_status = peer->state.status;
    const PairEvent event = swap ? PairEvent::kResyncSwapHere : PairEvent::kResync;
    Result<node::PairTransition> check = node::Transit(copy(name).state, event, context);
    if (!check.ok()) return then(check.status());
    const wire::Generation mine = copy(name).generation;
    const wire::Generation generation =
        swap ? node::NextGeneration(mine, peer->generation.counter, site_name()) : mine;
    memory(name).gate.Close([this, name, swap, then, context, event, generation] {
      // StopCopyFor (node/copy_engine.h): allowed still, now that the gate is held?
      Result<node::PairTransition> again = node::Transit(copy(name).state, event, context);
      if (!again.ok()) {
        memory(name).gate.Open();
        return then(again.status());
      }
      ++memory(name).copy_run;  // stops a running copy
      Ask(Command(swap ? "swap" : "resync", name, generation), -1,
          [this, name, then, context, event, generation](std::optional<Message> answer) {
            auto open = [this, name, then](Status status) {
              memory(name).gate.Open();
              then(status);
            };
            if (!answer) return open(Status::Unreachable("the peer is unreachable"));
            if (answer->code != Code::kOk) return open(Status(answer->code, answer->message));
            Status changed = Change(name, event, &context, &generation);
            if (!changed.ok()) return open(changed);
            memory(name).gate.Open();
            StartCopy(name);
            then(Status::Ok());
          });
    });
  });
}

// Replicator::Takeover with cluster = true (clusterd, after winning): a swap when the peer
// answers (asked for kFailoverProbeMs, unless clusterd knows it is lost) and the pair is in
// PAIR (the old primary demoted first), else SSWS.
void Node::Takeover(const std::string& name, bool peer_lost, ThenStatus then) {
  auto decide = [this, name, then](std::optional<Message> peer) {
    node::PairContext context = copy(name).context;
    context.force = false;
    context.peer_reachable = peer.has_value();
    if (peer) context.peer_status = peer->state.status;
    const wire::Generation mine = copy(name).generation;
    const wire::Generation generation =
        node::NextGeneration(mine, peer ? peer->generation.counter : 0, site_name());
    Result<node::PairTransition> transition =
        node::Transit(copy(name).state, PairEvent::kTakeover, context);
    if (!transition.ok()) return then(transition.status());
    const bool swap = transition->next.role == PairRole::kPrimary;
    memory(name).gate.Close([this, name, then, context, generation, swap] {
      auto finish = [this, name, then, context, generation] {
        Status changed = Change(name, PairEvent::kTakeover, &context, &generation);
        if (changed.ok() && name == kManaged) world_.OnTakeover();
        memory(name).gate.Open();
        then(changed);
      };
      if (!swap) return finish();
      Ask(Command("demote", name, generation), -1,
          [this, name, then, finish](std::optional<Message> answer) {
            if (answer && answer->code == Code::kOk) return finish();
            memory(name).gate.Open();
            then(answer ? Status(answer->code, answer->message)
                        : Status::Unreachable("the peer stopped answering"));
          });
    });
  };
  if (peer_lost) return decide(std::nullopt);
  AskStatus(name, kFailoverProbeMs, decide);
}

// Replicator::Fence: writes in flight finish first; later ones see the fence. Whether an
// unfence is refused is node/fence_rules.h's (UnfenceWritesAlone, WinnerMayAskPeer,
// WinnerMayLift; the peer asked for kFailoverProbeMs).
void Node::Fence(const std::string& name, bool fenced, bool winner, ThenStatus then) {
  memory(name).gate.Close([this, name, fenced, winner, then] {
    auto change = [this, name, fenced, then] {
      Status changed =
          Change(name, fenced ? PairEvent::kFence : PairEvent::kUnfence, nullptr, nullptr);
      memory(name).gate.Open();
      then(changed);
    };
    auto refuse = [this, name, then](const std::string& why) {
      memory(name).gate.Open();
      Trace(name + ": unfence refused: unfenced in " +
            std::string(node::StatusName(copy(name).state.status)) +
            " it would write without its peer (" + why + ")");
      then(Status::Conflict("copy of " + name +
                            " stays fenced: unfenced it would write without its peer"));
    };
    if (fenced ||
        !node::UnfenceWritesAlone(copy(name).state, copy(name).context, world_.logic().write_rule))
      return change();
    std::string why;
    const bool holds = copy(kDetermining).record.holder == site_name();
    if (!winner || !node::WinnerMayAskPeer(holds, copy(name).state, &why)) return refuse(why);
    AskStatus(name, kFailoverProbeMs, [this, name, change, refuse](std::optional<Message> reached) {
      node::PeerCopy peer;
      peer.answered = reached.has_value();
      if (reached) {
        peer.outdated = reached->state.outdated;
        peer.generation = reached->generation;
      }
      std::string why;
      if (node::WinnerMayLift(peer, copy(name).generation,
                              copy(kDetermining).record.outdated == peer_name(), peer_name(),
                              &why)) {
        return change();
      }
      refuse(why);
    });
  });
}

// Replicator::StartCopy and RunCopy, with every block in one message whose blocks stay
// exclusive until it is answered (the determining volume holds no data: nothing to send).
void Node::StartCopy(const std::string& name) {
  const uint64_t run = ++memory(name).copy_run;
  const Copy view = copy(name);
  Trace(name + ": copy to the peer starts");
  if (name == kDetermining) {
    return After(0, [this, name, run, view] {
      if (memory(name).copy_run != run || view.state.status == PairStatus::kPAIR) return;
      FinishCopy(name, view.generation);
    });
  }
  memory(name).locks.AcquireAll([this, name, run, view] {
    if (memory(name).copy_run != run) return memory(name).locks.ReleaseAll();
    Message message{
        .kind = Kind::kReplicaWrite, .volume = name, .generation = view.generation, .copy = true};
    for (int block = 0; block < kBlocks; ++block) {
      const auto held = copy(name).blocks.find(block);
      message.blocks[block] = held == copy(name).blocks.end() ? 0 : held->second;
    }
    calls_.Exchange(message, PeerEndpoint(), kPeerTimeoutMs, true,
                    [this, name, run, view](std::optional<Message> answer) {
                      memory(name).locks.ReleaseAll();
                      if (memory(name).copy_run != run) return;
                      // The copy engine's reading of a copy write's answer is a replica write's.
                      switch (node::ReadReplicaAnswer(
                          answer.has_value(), answer ? answer->code : Code::kOk,
                          answer ? answer->generation : view.generation, view.generation)) {
                        case node::ReplicaAnswerStep::kDone: break;
                        case node::ReplicaAnswerStep::kPeerNewer:
                          Trace(name + ": the peer refused the copy: it has a newer generation");
                          return OnPeerNewer(name, view.generation, answer->generation);
                        case node::ReplicaAnswerStep::kDiskFault:  // no disk faults in this model
                        case node::ReplicaAnswerStep::kLinkLost:
                          Trace(name + ": copy interrupted");
                          return OnLinkLost(name, view.generation, [] {});
                      }
                      if (view.state.status == PairStatus::kPAIR) return TrimActivityLog(false);
                      FinishCopy(name, view.generation);
                    });
  });
}

void Node::FinishCopy(const std::string& name, const wire::Generation& generation) {
  Ask(Command("copy-done", name, generation), -1,
      [this, name, generation](std::optional<Message> answer) {
        if (!answer || answer->code != Code::kOk) return OnLinkLost(name, generation, [] {});
        if (!(copy(name).generation == generation)) return;
        if (Change(name, PairEvent::kCopyDone, nullptr, nullptr).ok() && name == kManaged)
          TrimActivityLog(false);
      });
}

// Replicator::ServeCommand: what the peer asks of this side.
void Node::ServeCommand(const Message& command, std::function<void(Message)> answer) {
  const std::string& name = command.volume;
  if (command.command == "reserve" || command.command == "vote" ||
      command.command == "reserve-mirror") {
    return ServeReservationCommand(command, answer);
  }
  if (command.command == "status") {
    return answer({.generation = copy(name).generation,
                   .record = copy(name).record,
                   .state = copy(name).state});
  }
  if (command.command == "copy-done") {
    if (!(copy(name).generation == command.generation))
      return answer(Reply(Status::InvalidArgument("copy done for another generation")));
    const Status done = Change(name, PairEvent::kCopyDone, nullptr, nullptr);
    if (done.ok() && name == kManaged) TrimActivityLog(false);  // the primary's "trim"
    return answer(Reply(done));
  }
  if (command.command != "demote" && command.command != "resync" && command.command != "swap")
    return answer(Reply(Status::Unsupported("unknown peer command " + command.command)));
  memory(name).gate.Close([this, command, answer, name] {
    Status status;
    if (command.command == "demote") {
      status = Change(name, PairEvent::kDemotedBySwap, nullptr, &command.generation);
    } else {
      // This side becomes the target of the copy. A side that missed the suspend (it was down)
      // still shows the old status: it is behind.
      const wire::Generation mine = copy(name).generation;
      if (node::ResyncTargetIsBehind(copy(name).state, mine, command.generation)) {
        OnPeerNewer(name, mine, command.generation);
      }
      status = Change(
          name, command.command == "resync" ? PairEvent::kResync : PairEvent::kResyncSwapByPeer,
          nullptr, &command.generation);
    }
    Message reply = Reply(status);
    reply.generation = copy(name).generation;
    reply.state = copy(name).state;
    memory(name).gate.Open();
    answer(reply);
  });
}

// Replicator::ServeStatus: the reading is the product's (node/peer_status_rules.h).
void Node::ServeStatus(const Message& status) {
  const Copy& volume = copy(status.volume);
  node::PeerStatusFacts facts{volume.state,      volume.generation,   status.generation,
                              status.state.role, status.state.status, site_name()};
  switch (node::ReadPeerStatus(facts, world_.now(), kPeerTimeoutMs,
                               &memory(status.volume).status_watch)) {
    case node::StatusVerdict::kNone: return;
    case node::StatusVerdict::kFinishSwap:
      return FinishSwap(status.volume, volume.generation, status.generation, status.state);
    case node::StatusVerdict::kPeerNewer:
      return OnPeerNewer(status.volume, volume.generation, status.generation);
    case node::StatusVerdict::kSecondarySuspended:  // as a link loss: fence reserve asks
    case node::StatusVerdict::kPrimaryApart:
      return OnLinkLost(status.volume, volume.generation, [] {});
  }
}

// Replicator::Background: statuses every status_interval_ms; a link silent for
// peer_timeout_ms (once the peer was heard since the start) is lost; the activity log's trim.
// The thread blocks while a link loss is handled (fence reserve), as the real one does.
void Node::Background() {
  if (world_.now() >= next_status_ms_) {
    next_status_ms_ = world_.now() + kStatusIntervalMs;
    for (const auto& [name, volume] : copies) {
      SendToPeer({.kind = Kind::kStatus,
                  .volume = name,
                  .generation = volume.generation,
                  .state = volume.state});
    }
  }
  std::vector<std::function<void(Done)>> losses;
  if (node::LinkIsSilent(heard_since_start_, last_heard_ms_, world_.now(), kPeerTimeoutMs)) {
    for (const auto& [name, volume] : copies) {
      if (!IsReplicating(volume.state.status)) continue;
      losses.push_back([this, name = name, generation = volume.generation](Done next) {
        Trace(name + ": nothing heard from the peer for peer_timeout_ms");
        OnLinkLost(name, generation, next);
      });
    }
  }
  InOrder(std::move(losses), Guard([this] {
            if (world_.now() >= next_trim_ms_) {
              next_trim_ms_ = world_.now() + kTrimIntervalMs;
              TrimActivityLog(true);
            }
            After(kNodeTickMs, [this] { Background(); });
          }));
}

// A copy as node/control_server.cc's DescribeVolume shows it (the fields clusterd reads).
wire::VolumeInfo Node::Describe(const std::string& name) {
  return {.name = name,
          .role = node::RoleName(copy(name).state.role),
          .status = node::StatusName(copy(name).state.status),
          .reserved_by = copy(name).record.holder,
          .fenced = copy(name).state.fenced};
}

// node/control_server.cc: the requests of clusterd (and of the operator) to this node.
void Node::Control(const clusterd::NodeCall& request, std::function<void(ControlReply)> reply) {
  auto answer = [this, reply](const std::string& name) {  // with the volume, as it is now
    return [this, reply, name](Status status) {
      ControlReply done{status, {}, ""};
      if (status.ok()) done.volumes.push_back(Describe(name));
      reply(done);
    };
  };
  if (const auto* display = std::get_if<wire::DisplayRequest>(&request)) {
    ControlReply shown;
    for (const auto& [name, volume] : copies) {
      if (display->name.empty() || display->name == name) shown.volumes.push_back(Describe(name));
    }
    return reply(shown);
  }
  if (const auto* reserve = std::get_if<wire::ReserveRequest>(&request)) {
    return Reserve(reserve->name, {reserve->holder, false, reserve->preempt}, false,
                   answer(reserve->name));
  }
  if (const auto* release = std::get_if<wire::ReleaseRequest>(&request)) {
    return Reserve(release->name, {release->holder, true}, false, answer(release->name));
  }
  if (const auto* resync = std::get_if<wire::ResyncRequest>(&request)) {
    return Resync(resync->name, resync->swap, answer(resync->name));
  }
  if (const auto* takeover = std::get_if<wire::TakeoverRequest>(&request)) {
    return Takeover(takeover->name, takeover->peer_lost, answer(takeover->name));
  }
  if (const auto* fence = std::get_if<wire::FenceRequest>(&request)) {
    return Fence(fence->name, fence->fenced, fence->winner, answer(fence->name));
  }
}

}  // namespace pairfs::sim::cluster
