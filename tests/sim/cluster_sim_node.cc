// The node of a cluster simulation (tests/sim/cluster_sim_world.h): node/'s write paths
// (write_path.cc, replica_server.cc) and state changes, in continuations (copies, statuses and
// pair commands are in cluster_sim_commands.cc). Each function names the one it models; where
// the model is simpler, the comment says how.
#include <algorithm>

#include "tests/sim/cluster_sim_world.h"

namespace pairfs::sim::cluster {

using node::PairEvent;
using node::PairRole;
using node::PairStatus;
using node::WriteRule;
using Kind = Message::Kind;

// ---- life cycle, messages ----------------------------------------------------------------------

Node::Node(World& world, int site)
    : Process(world, SiteName(site) + ".node"), site_(site), calls_(world, *this, SiteName(site)) {}

void Node::Trace(const std::string& line) {
  if (world_.tracing()) world_.Trace(name_ + ": " + line);
}

node::WriteRule Node::RuleOf(const Copy& copy) const {
  return world_.logic().write_rule(copy.state, copy.context);
}

void Node::Crash() {
  MarkDown();
  calls_.Reset();
  determining_mutex_.reset();
  last_vote_number_ = 0;
  memory_.clear();
}

// Replicator::Start: pairs load from their durable state; a primary resumes a copy that was
// running, or copies what its activity log marks (writes the secondary may lack).
void Node::Start() {
  MarkUp();
  determining_mutex_ = std::make_unique<Mutex>(*this);
  calls_.Reset();
  memory_.clear();
  for (const auto& [name, copy] : copies) memory_[name] = std::make_unique<PairMemory>(*this);
  last_heard_ms_ = world_.now();
  heard_since_start_ = false;
  next_status_ms_ = world_.now();
  next_trim_ms_ = world_.now() + kTrimIntervalMs;
  Trace("started: dv " + StateText(copy(kDetermining)) + ", vm1 " + StateText(copy(kManaged)));
  After(kNodeTickMs, [this] { Background(); });
  for (const auto& [name, copy] : copies) {
    if (node::CopyResumesAtStart(copy.state, copy.marked.size())) StartCopy(name);
  }
}

void Node::SendToPeer(const Message& message) { world_.Send(name_, PeerEndpoint(), message); }

void Node::Ask(Message command, int timeout_ms, std::function<void(std::optional<Message>)> then) {
  command.kind = Kind::kCommand;
  calls_.Exchange(std::move(command), PeerEndpoint(), timeout_ms < 0 ? kPeerTimeoutMs : timeout_ms,
                  true, std::move(then));
}

Message Node::Command(const std::string& command, const std::string& volume,
                      const wire::Generation& generation) {
  return Message{.volume = volume, .generation = generation, .command = command};
}

void Node::AskStatus(const std::string& name, int timeout_ms,
                     std::function<void(std::optional<Message>)> then) {
  Ask(Command("status", name), timeout_ms, [then](std::optional<Message> answer) {
    if (answer && answer->code != Code::kOk) answer.reset();
    then(answer);
  });
}

// Replicator::OnFrame and Serve: answers go to their waiters; whether a request is served, or
// answered again, or dropped while it is being served, is the product's node::AnsweredRequests'.
void Node::OnMessage(const Message& message) {
  if (message.kind != Kind::kWitnessAnswer) {
    last_heard_ms_ = world_.now();
    heard_since_start_ = true;
  }
  if (!calls_.Deliver(message)) Serve(message);
}

void Node::Serve(const Message& request) {
  if (request.kind != Kind::kStatus && !calls_.Claim(request, PeerEndpoint())) return;
  switch (request.kind) {
    case Kind::kReplicaWrite: return ServeReplicaWrite(request);
    case Kind::kForwardedWrite: return ServeForwardedWrite(request);
    case Kind::kStatus: return ServeStatus(request);
    case Kind::kCommand:
      return ServeCommand(request, [this, request](Message answer) {
        answer.kind = Kind::kAnswer;
        Answer(request, std::move(answer));
      });
    default: return;
  }
}

// ---- writes -------------------------------------------------------------------------------------

// Replicator::DoWrite.
void Node::MountWrite(int block, uint64_t write_id, std::function<void(Code)> done) {
  done = Guard<Code>(std::move(done));
  if (node::ReservedByOther(copy(kManaged).record.holder, site_name())) {
    return done(Code::kConflict);
  }
  memory(kManaged).gate.EnterShared([this, block, write_id, done] {
    auto leave = [this, done](Code code) {
      memory(kManaged).gate.LeaveShared();
      done(code);
    };
    const Copy view = copy(kManaged);
    switch (RuleOf(view)) {
      case WriteRule::kLocal:
      case WriteRule::kLocalTracked: return WriteTracked(block, write_id, leave);
      case WriteRule::kReplicate: return WriteReplicated(view, block, write_id, leave);
      case WriteRule::kForwardToPrimary: return WriteForwarded(view, block, write_id, leave);
      case WriteRule::kRefuseIo: return leave(Code::kIoError);
      case WriteRule::kRefuseReadOnly: return leave(Code::kReadOnly);
    }
  });
}

void Node::WriteLocally(int block, uint64_t write_id) { copy(kManaged).blocks[block] = write_id; }

// Activity::Begin: the block is marked durably before the write; the mark stays at least until
// the write finished (EndWrite) and both copies hold it (TrimActivityLog).
void Node::BeginWrite(int block) {
  copy(kManaged).marked.insert(block);
  memory(kManaged).written_at_ms[block] = world_.now();
  ++memory(kManaged).in_flight[block];
}

void Node::EndWrite(int block) { --memory(kManaged).in_flight[block]; }

// Replicator::TrimActivityLog, in PAIR: the marks of blocks no write is in flight on (and, to
// keep hot blocks, not written within the last trim interval).
void Node::TrimActivityLog(bool keep_hot) {
  Copy& volume = copy(kManaged);
  if (volume.state.status != PairStatus::kPAIR) return;
  PairMemory& pair = memory(kManaged);
  for (auto block = volume.marked.begin(); block != volume.marked.end();) {
    const bool hot = keep_hot && pair.written_at_ms[*block] >= world_.now() - kTrimIntervalMs;
    block = pair.in_flight[*block] > 0 || hot ? std::next(block) : volume.marked.erase(block);
  }
}

void Node::WriteTracked(int block, uint64_t write_id, std::function<void(Code)> done) {
  memory(kManaged).locks.Acquire(block, [this, block, write_id, done] {
    BeginWrite(block);
    WriteLocally(block, write_id);
    EndWrite(block);
    memory(kManaged).locks.Release(block);
    done(Code::kOk);
  });
}

Message Node::WriteMessage(Message::Kind kind, const wire::Generation& generation, int block,
                           uint64_t write_id) {
  return {.kind = kind,
          .volume = kManaged,
          .generation = generation,
          .block = block,
          .write_id = write_id};
}

// Replicator::AfterLinkLoss: the outcome is node::AfterLinkLoss's.
Code Node::AfterLinkLoss() {
  const Copy& volume = copy(kManaged);
  switch (world_.logic().after_link_loss(volume.state, volume.context.fence, RuleOf(volume))) {
    case node::LinkLossOutcome::kWritten: return Code::kOk;
    case node::LinkLossOutcome::kFencedIo:
    case node::LinkLossOutcome::kRefuseIo: return Code::kIoError;
    case node::LinkLossOutcome::kRefuseReadOnly: break;
  }
  return Code::kReadOnly;
}

// Replicator::WriteReplicated: the block stays exclusive until the secondary answered or the
// link loss was decided (fence reserve: until the determining volume's reserve answered).
void Node::WriteReplicated(const Copy& view, int block, uint64_t write_id,
                           std::function<void(Code)> done) {
  const wire::Generation generation = view.generation;
  memory(kManaged).locks.Acquire(block, [this, generation, block, write_id, done] {
    BeginWrite(block);
    auto finish = [this, block, done](Code code) {
      EndWrite(block);
      memory(kManaged).locks.Release(block);
      done(code);
    };
    if (!(copy(kManaged).generation == generation)) {  // changed while waiting for the block
      WriteLocally(block, write_id);
      return finish(AfterLinkLoss());
    }
    calls_.Exchange(
        WriteMessage(Kind::kReplicaWrite, generation, block, write_id), PeerEndpoint(),
        kPeerTimeoutMs, true, [this, generation, finish](std::optional<Message> answer) {
          switch (node::ReadReplicaAnswer(answer.has_value(), answer ? answer->code : Code::kOk,
                                          answer ? answer->generation : generation, generation)) {
            case node::ReplicaAnswerStep::kDone: return finish(Code::kOk);
            case node::ReplicaAnswerStep::kPeerNewer:
              OnPeerNewer(kManaged, generation, answer->generation);
              return finish(Code::kReadOnly);
            case node::ReplicaAnswerStep::kDiskFault:  // no disk faults in this model
            case node::ReplicaAnswerStep::kLinkLost: break;
          }
          Trace(answer ? "vm1: the peer refused a replica write; suspending"
                       : "vm1: the peer did not acknowledge a write within peer_timeout_ms");
          OnLinkLost(kManaged, generation, [this, finish] { finish(AfterLinkLoss()); });
        });
    WriteLocally(block, write_id);  // while the replica travels
  });
}

// Replicator::WriteForwarded: no block is held while the primary orders the write.
void Node::WriteForwarded(const Copy& view, int block, uint64_t write_id,
                          std::function<void(Code)> done) {
  const wire::Generation generation = view.generation;
  BeginWrite(block);
  done = [this, block, done](Code code) {
    EndWrite(block);
    done(code);
  };
  calls_.Exchange(
      WriteMessage(Kind::kForwardedWrite, generation, block, write_id), PeerEndpoint(),
      kPeerTimeoutMs, true,
      [this, generation, block, write_id, done](std::optional<Message> answer) {
        if (!answer) {
          Trace("vm1: the primary did not order a forwarded write within peer_timeout_ms");
          return OnLinkLost(kManaged, generation, [this, done] { done(AfterLinkLoss()); });
        }
        if (answer->code != Code::kOk) {
          if (answer->generation.NewerThan(generation))
            OnPeerNewer(kManaged, generation, answer->generation);
          return done(node::RefusedGrantCode(answer->code));
        }
        const uint64_t id = answer->id;
        memory(kManaged).locks.Acquire(block, [this, block, write_id, id, generation, done] {
          WriteLocally(block, write_id);
          memory(kManaged).locks.Release(block);
          SendToPeer({.kind = Kind::kWriteConfirm,
                      .id = id,
                      .volume = kManaged,
                      .generation = generation});
          done(Code::kOk);
        });
      });
}

// Replicator::ServeReplicaWrite (a copy's message carries every block).
void Node::ServeReplicaWrite(const Message& request) {
  Copy& volume = copy(request.volume);
  Message ack{.kind = Kind::kWriteAck, .generation = volume.generation};
  if (!node::AcceptsReplicaWrite(volume.state, volume.generation, request.generation)) {
    ack.code = Code::kReadOnly;
    return Answer(request, ack);
  }
  if (request.copy) {
    for (const auto& [block, write_id] : request.blocks) {
      if (write_id == 0)
        volume.blocks.erase(block);
      else
        volume.blocks[block] = write_id;
    }
  } else {
    volume.blocks[request.block] = request.write_id;
  }
  Answer(request, ack);
}

// Replicator::ServeForwardedWrite: granted, the block stays exclusive here until the secondary
// confirms it wrote its copy.
void Node::ServeForwardedWrite(const Message& request) {
  memory(kManaged).gate.EnterShared([this, request] {
    const Copy view = copy(kManaged);
    Message grant{.kind = Kind::kWriteGrant, .generation = view.generation};
    auto refuse = [this, request, grant](Code code) mutable {
      memory(kManaged).gate.LeaveShared();
      grant.code = code;
      Answer(request, grant);
    };
    const Code judged = world_.logic().judge_forwarded_write(
        RuleOf(view), view.generation, request.generation, view.record.holder, request.origin);
    if (judged != Code::kOk) return refuse(judged);
    memory(kManaged).locks.Acquire(request.block, [this, request, grant, refuse, view]() mutable {
      if (!world_.logic().forwarded_write_still_current(copy(kManaged).generation,
                                                        request.generation)) {
        memory(kManaged).locks.Release(request.block);
        return refuse(Code::kReadOnly);
      }
      BeginWrite(request.block);
      WriteLocally(request.block, request.write_id);
      auto finish = [this, block = request.block] {
        EndWrite(block);
        memory(kManaged).locks.Release(block);
        memory(kManaged).gate.LeaveShared();
      };
      const wire::Generation generation = view.generation;
      calls_.ExpectConfirm(request.id, kPeerTimeoutMs,
                           [this, finish, generation](std::optional<Message> confirm) {
                             if (confirm) return finish();
                             Trace("vm1: the peer did not confirm a granted write");
                             OnLinkLost(kManaged, generation, finish);
                           });
      Answer(request, grant);
    });
  });
}

// ---- state changes ------------------------------------------------------------------------------

// Replicator::Commit: the generation actions, then the new state, durably.
Status Node::Commit(const std::string& name, const node::PairTransition& transition,
                    const wire::Generation* generation) {
  Copy& volume = copy(name);
  const wire::Generation next_generation =
      node::GenerationAfter(transition.actions, volume.generation, generation, site_name());
  memory(name).copy_run +=
      std::count(transition.actions.begin(), transition.actions.end(), node::PairAction::kStopCopy);
  const std::string before = StateText(volume);
  volume.state = transition.next;
  volume.generation = next_generation;
  if (StateText(volume) != before) Trace(name + ": " + before + " -> " + StateText(volume));
  return Status::Ok();
}

Status Node::Change(const std::string& name, PairEvent event, const node::PairContext* context,
                    const wire::Generation* generation) {
  Result<node::PairTransition> transition =
      node::Transit(copy(name).state, event, context ? *context : copy(name).context);
  if (!transition.ok()) return transition.status();
  return Commit(name, transition.value(), generation);
}

// Replicator::OnLinkLost: fence reserve asks for the determining volume; the rest suspends.
void Node::OnLinkLost(const std::string& name, const wire::Generation& seen, Done then) {
  const Copy& volume = copy(name);
  if (!node::LinkReactionApplies(volume.state, volume.generation, seen)) return then();
  Result<node::PairTransition> transition =
      node::Transit(volume.state, PairEvent::kLinkLost, volume.context);
  if (!transition.ok()) return then();
  const auto& actions = transition->actions;
  if (std::find(actions.begin(), actions.end(), node::PairAction::kAskReserve) == actions.end()) {
    Trace(name + ": link to the peer lost (fence " + node::FenceName(volume.context.fence) + ")");
    (void)Commit(name, transition.value(), nullptr);
    return then();
  }
  AskReserveAfterLinkLoss(seen, then);
}

void Node::OnPeerNewer(const std::string& name, const wire::Generation& seen,
                       const wire::Generation& peer) {
  const Copy& volume = copy(name);
  if (!node::PeerNewerApplies(volume.state, volume.generation, seen, peer, site_name())) return;
  Trace(name + ": the peer has generation " + std::to_string(peer.counter) + "/" + peer.site +
        ": outdated");
  (void)Change(name, PairEvent::kPeerIsNewer, nullptr, nullptr);
}

// Replicator::FinishSwap: the peer stays at a generation this site made and never committed.
void Node::FinishSwap(const std::string& name, const wire::Generation& seen,
                      const wire::Generation& peer, const node::PairState& peer_state) {
  memory(name).gate.Close([this, name, seen, peer, peer_state] {
    const Copy& volume = copy(name);
    if (!(volume.generation == seen)) return memory(name).gate.Open();
    const node::SwapStep step =
        node::FinishSwapStep(volume.state, peer_state.role, peer_state.status);
    if (step == node::SwapStep::kSuspend) {
      memory(name).gate.Open();  // the peer suspended since: so does this side (resync --swap next)
      return OnLinkLost(name, seen, [] {});
    }
    if (step == node::SwapStep::kNone) {
      if (!memory(name).unfinished_swap_logged)
        Trace(name + ": the peer is at a generation made here: left as it is");
      memory(name).unfinished_swap_logged = true;
      return memory(name).gate.Open();
    }
    if (step == node::SwapStep::kResyncSwap) {
      memory(name).gate.Open();  // Resync closes the gate itself
      Trace(name + ": a swap to this site did not finish (the peer demoted): resync --swap");
      return Resync(name, true, [this, name](Status status) {
        if (!status.ok()) Trace(name + ": cannot finish the swap: " + status.message());
      });
    }
    node::PairContext context = volume.context;
    context.force = false;
    context.peer_reachable = true;
    context.peer_status = PairStatus::kPAIR;
    Trace(name + ": a swap to this site did not finish (the peer demoted): primary here now");
    (void)Change(name, PairEvent::kTakeover, &context, &peer);
    memory(name).gate.Open();
  });
}

}  // namespace pairfs::sim::cluster
