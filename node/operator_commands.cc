// The pair commands an operator (pairctl(8)) or clusterd gives this site: create, split, resync
// (and --swap), takeover and dissolve, each checked by the pair state machine, asked of the peer
// (wire/peer_messages.h; what the peer does is pair_commands.cc) and committed here; and what
// `pairctl status` shows of a pair (Describe). Verify is operator_verify.cc's, reservations
// replicator_reserve.cc's.
#include <algorithm>

#include <spdlog/spdlog.h>

#include "node/async_group.h"
#include "node/command_rules.h"
#include "node/copy_engine.h"
#include "node/fault_point.h"
#include "node/limits.h"
#include "node/names.h"
#include "node/replicator.h"
#include "node/replicator_internal.h"

namespace pairfs::node {

using namespace replicator_internal;
using wire::MessageType;

Result<wire::PeerAnswerMessage> Replicator::AskStatus(Pair& pair, int timeout_ms) {
  Result<wire::PeerAnswerMessage> answer =
      Ask(wire::PeerStatusAskCommand{pair.Snapshot().peer_volume}, timeout_ms);
  if (answer.ok() && answer->code != 0) return StatusFromCode(answer->code, answer->message);
  return answer;
}

template <class T>
Status Replicator::ForwardToPrimary(const T& command, std::string* note) {
  Result<wire::PeerAnswerMessage> answer = Ask(command, wire::kDefaultControlTimeoutMs / 2);
  if (!answer.ok()) {
    return Status::Unreachable("the primary at site " + options_.peer_site +
                               " is unreachable: " + answer.status().message());
  }
  if (note) *note = answer->message;
  return StatusFromCode(answer->code, answer->message);
}

Result<Replicator::CreatePlan> Replicator::PlanCreate(const wire::PairCreateRequest& request) {
  if (transport_ == nullptr || options_.peer_site.empty()) {
    return Status::InvalidArgument("no [peer] in the config: a pair needs a peer site");
  }
  CreatePlan plan;
  plan.volume = store_.Find(request.name);
  if (!plan.volume) return Status::NotFound("no volume named " + request.name);
  if (!ParseMode(request.mode.empty() ? "sync" : request.mode, &plan.mode)) {
    return Status::InvalidArgument("--mode must be sync or async, not '" + request.mode + "'");
  }
  if (plan.mode == PairMode::kAsync) {
    // The group names its journal file (DATA_DIR/journals/G.journal): a name, like a volume's.
    Status group = CheckVolumeName(request.group.empty() ? request.name : request.group);
    if (!group.ok()) {
      return Status::InvalidArgument("--group must be 1 to 64 of [A-Za-z0-9._-]: " +
                                     group.message());
    }
  }
  if (!request.fence.empty() && !ParseFence(request.fence, &plan.fence)) {
    return Status::InvalidArgument("--fence must be data, reserve or never, not '" + request.fence +
                                   "'");
  }
  const auto& managed = options_.managed_volumes;
  if (request.fence.empty() &&
      std::find(managed.begin(), managed.end(), request.name) != managed.end()) {
    plan.fence = FenceLevel::kReserve;  // the default for the volumes clusterd fails over
  }
  if (plan.fence == FenceLevel::kReserve && options_.determining_volume.empty()) {
    return Status::InvalidArgument(
        "fence reserve needs a [cluster] determining_volume in the config; use data or never");
  }
  if (plan.fence == FenceLevel::kReserve && IsDetermining(request.name)) {
    return Status::InvalidArgument(
        "the determining volume itself cannot have fence reserve; use data or never");
  }
  plan.peer_volume = request.peer_volume.empty() ? request.name : request.peer_volume;
  Status named = CheckVolumeName(plan.peer_volume);
  if (!named.ok()) return named;
  const VolumeMetadata metadata = plan.volume->metadata();
  if (FindPair(request.name) || metadata.status != "SMPL") {
    return Status::InvalidArgument("volume " + request.name + " is already in a pair (" +
                                   metadata.status + ")");
  }
  Result<PairTransition> transition =
      Transit(PairState{}, PairEvent::kCreateAsPrimary, PairContext{plan.fence, plan.mode});
  if (!transition.ok()) return transition.status();
  plan.next = transition->next;
  plan.generation = wire::Generation{metadata.generation + 1, options_.site};
  // The create's save is SaveCreatedPrimary's (the region set durable before the metadata), not
  // Commit's: it takes the bump (plan.generation) itself; the rest runs after it.
  for (PairAction action : transition->actions) {
    if (action != PairAction::kBumpGeneration) plan.after.actions.push_back(action);
  }
  plan.after.generation = plan.generation;
  return plan;
}

Status Replicator::CreatePair(const wire::PairCreateRequest& asked, std::string* note) {
  if (Status joins = CheckJoinsGroup(asked); !joins.ok()) return joins;
  Result<CreatePlan> planned = PlanCreate(asked);
  if (!planned.ok()) return planned.status();
  const CreatePlan& plan = planned.value();
  wire::PairCreateRequest request = asked;
  if (plan.mode == PairMode::kAsync && request.group.empty()) request.group = request.name;
  if (plan.mode == PairMode::kAsync) {
    // The master journal exists before the peer is asked: a disk that cannot hold it refuses
    // the create here, with nothing to undo there.
    Result<std::shared_ptr<AsyncGroup>> group = async_->OpenGroup(request.group, true, true);
    if (!group.ok()) {
      return Status(group.status().code(),
                    "the journal of group " + request.group + ": " + group.status().message(),
                    group.status().error_number());
    }
  }
  wire::PeerCreateCommand command;
  command.volume = plan.peer_volume;
  command.generation = plan.generation;
  command.peer_volume = request.name;
  command.size_bytes = plan.volume->size_bytes();
  command.mode = ModeName(plan.mode);
  command.fence = FenceName(plan.fence);
  command.group = request.group;
  command.region_size_bytes = options_.region_size_bytes;
  Result<wire::PeerAnswerMessage> answer = Ask(
      command, plan.mode == PairMode::kAsync ? std::max(options_.peer_timeout_ms, kAsyncCreateAskMs)
                                             : options_.peer_timeout_ms);
  if (!answer.ok())
    return Status::Unreachable("site " + options_.peer_site +
                               " is unreachable: " + answer.status().message());
  if (answer->code != 0) return StatusFromCode(answer->code, answer->message);
  FaultPoint("create-after-peer");
  Status saved = SaveCreatedPrimary(request, plan);
  if (!saved.ok()) return saved;
  FaultPoint("create-after-metadata");
  Result<std::shared_ptr<Pair>> pair = LoadPair(plan.volume, false);
  if (!pair.ok()) return pair.status();
  Status attached = async_->AttachAsync(*pair.value(), true);
  if (!attached.ok()) return attached;
  if (plan.mode == PairMode::kAsync) async_->FindGroup(request.group)->Start();
  if (answer->created) {
    *note = "created volume " + plan.peer_volume + " (" + FormatSize(plan.volume->size_bytes()) +
            ") at site " + options_.peer_site;
  }
  spdlog::info("pair {}: primary, paired with {}:{}, initial copy starting", request.name,
               options_.peer_site, plan.peer_volume);
  RunAfterSave(*pair.value(), plan.after);  // the initial copy (kStartCopy)
  return Status::Ok();
}

Status Replicator::SaveCreatedPrimary(const wire::PairCreateRequest& request,
                                      const CreatePlan& plan) {
  Volume& volume = *plan.volume;
  // Every region marked durably before the metadata says primary/COPY: a crash in between
  // leaves a simplex volume (create again: the peer's side is idempotent), never a copy that
  // copies nothing.
  Status marked = RegionSet::Create(volume.SidecarPath("regions"), volume.size_bytes(),
                                    options_.region_size_bytes, true);
  if (!marked.ok()) {
    return Status(marked.code(),
                  "cannot write the region set of " + request.name + ": " + marked.message(),
                  marked.error_number());
  }
  FaultPoint("create-after-regions");
  const PairState& next = plan.next;
  Status saved = volume.UpdateMetadata([&](VolumeMetadata& updated) {
    updated.role = RoleName(next.role);
    updated.status = StatusName(next.status);
    updated.consistent = true;
    updated.outdated = false;
    updated.fenced = false;
    updated.pair_mode = ModeName(plan.mode);
    updated.peer_site = options_.peer_site;
    updated.peer_volume = plan.peer_volume;
    updated.fence = FenceName(plan.fence);
    updated.group = request.group;
    updated.generation = plan.generation.counter;
    updated.generation_site = plan.generation.site;
    updated.region_size_bytes = options_.region_size_bytes;
  });
  if (!saved.ok())
    return Status(saved.code(),
                  "cannot save the metadata of " + request.name + ": " + saved.message(),
                  saved.error_number());
  return Status::Ok();
}

Status Replicator::Split(const std::string& name, bool read_write, bool forwarded,
                         std::string* note) {
  Result<std::shared_ptr<Pair>> found = PairFor(name);
  if (!found.ok()) return found.status();
  if (read_write && IsDetermining(name)) {
    return Status::InvalidArgument(
        "split --rw of the determining volume " + name +
        " is refused: only clusterd, as the winner of its reserve, makes a copy of it writable");
  }
  Pair& pair = *found.value();
  if (pair.Snapshot().state.role == PairRole::kSecondary && !forwarded) {
    return ForwardToPrimary(wire::PeerForwardSplitCommand{pair.Snapshot().peer_volume, read_write},
                            note);
  }
  Result<SplitPoint> point = [&]() -> Result<SplitPoint> {
    ClosedGate closed(pair.gate);  // writes in flight finish in the old status
    return SplitHere(pair, read_write);
  }();
  if (!point.ok()) return point.status();
  return SplitAtPeer(pair, point.value(), read_write, note);
}

Result<Replicator::SplitPoint> Replicator::SplitHere(Pair& pair, bool read_write) {
  const PairEvent event = read_write ? PairEvent::kSplitReadWrite : PairEvent::kSplit;
  SplitPoint point;
  point.from_pair = pair.Snapshot().state.status == PairStatus::kPAIR;
  Status changed = Change(pair, event, nullptr, nullptr);
  if (!changed.ok()) return changed;
  point.generation = pair.Snapshot().generation;
  point.status = pair.Snapshot().state.status;
  point.closing = CloseEpoch(pair);
  return point;
}

Status Replicator::SplitAtPeer(Pair& pair, const SplitPoint& point, bool read_write,
                               std::string* note) {
  Result<wire::PeerAnswerMessage> answer =
      Ask(wire::PeerSplitCommand{pair.Snapshot().peer_volume, point.generation, read_write});
  if (!answer.ok()) {
    *note =
        "split here; site " + options_.peer_site + " did not answer and will find itself outdated";
    return read_write ? Status::Unreachable("split here, but site " + options_.peer_site +
                                            " did not answer, so its copy is not writable")
                      : Status::Ok();
  }
  // The peer flushed its copy before it answered: the marks of the writes before the split are
  // no changes (ClearActivityThrough).
  if (answer->code == 0 && point.from_pair && pair.volume->Flush().ok()) {
    ClearActivityThrough(pair, point.closing, false, point.generation, point.status);
  }
  return StatusFromCode(answer->code, answer->message);
}

Status Replicator::Resync(const std::string& name, bool swap, bool forwarded, std::string* note) {
  Result<std::shared_ptr<Pair>> found = PairFor(name);
  if (!found.ok()) return found.status();
  std::shared_ptr<Pair> pair = found.value();
  if (!swap && pair->Snapshot().state.role == PairRole::kSecondary && !forwarded) {
    return ForwardToPrimary(wire::PeerForwardResyncCommand{pair->Snapshot().peer_volume}, note);
  }
  // An async pair's resync at its primary (node/async_resync.cc; issue 13 part 4).
  if (!swap && pair->Snapshot().context.mode == PairMode::kAsync &&
      pair->Snapshot().state.role == PairRole::kPrimary) {
    std::vector<wire::PairOutcome> outcomes;
    return async_->ResyncAsync({name}, &outcomes, note);
  }
  if (swap && pair->Snapshot().context.mode == PairMode::kAsync) {  // asyncrest: its group's
    std::vector<wire::PairOutcome> outcomes;  // journal (node/async_resync_swap.cc)
    return async_->ResyncSwapAsync({name}, &outcomes, note);
  }
  Result<wire::PeerAnswerMessage> peer = AskStatus(*pair);
  if (!peer.ok())
    return Status::Unreachable("site " + options_.peer_site +
                               " is unreachable: " + peer.status().message());
  PairContext context = pair->Snapshot().context;
  (void)ParseStatus(peer->status, &context.peer_status);
  const PairEvent event = swap ? PairEvent::kResyncSwapHere : PairEvent::kResync;
  {
    std::lock_guard<std::mutex> lock(pair->mutex);
    Result<PairTransition> check = Transit(pair->state, event, context);
    if (!check.ok()) return check.status();
  }
  const wire::Generation mine = pair->Snapshot().generation;
  const wire::Generation generation =
      swap ? NextGeneration(mine, peer->generation.counter, options_.site) : mine;
  ClosedGate closed(pair->gate);
  Status stopped = StopCopyFor(*pair, *calls_, event, context);  // node/copy_engine.h
  if (!stopped.ok()) return stopped;
  const std::string peer_volume = pair->Snapshot().peer_volume;
  Result<wire::PeerAnswerMessage> answer =
      Ask(wire::PeerResyncCommand{peer_volume, generation, swap});
  if (!answer.ok())
    return Status::Unreachable("site " + options_.peer_site +
                               " is unreachable: " + answer.status().message());
  if (answer->code != 0) return StatusFromCode(answer->code, answer->message);
  FaultPoint(swap ? "swap-after-peer" : "resync-after-peer");
  Status merged = MergePeerBitmap(*pair, peer_volume, generation);
  if (!merged.ok()) return merged;
  AfterSave after;
  Status changed = Change(*pair, event, &context, &generation, &after);
  if (!changed.ok()) return changed;
  if (swap && context.mode == PairMode::kAsync) {  // asyncswap: this side's journal is the master
    Status flipped = async_->AfterAsyncSwapHere(*pair);
    if (!flipped.ok()) return flipped;
  }
  closed.Open();
  *note = "copying " + FormatSize(pair->regions->marked_bytes()) + " of changed regions to site " +
          options_.peer_site;
  RunAfterSave(*pair, after);  // the copy (kStartCopy), once writes go on
  return Status::Ok();
}

Status Replicator::TakeoverPair(const std::string& name, bool force, bool cluster, bool peer_lost,
                                std::string* note) {
  Result<std::shared_ptr<Pair>> found = PairFor(name);
  if (!found.ok()) return found.status();
  if (IsDetermining(name) && !cluster && !force) {
    return Status::InvalidArgument(
        "takeover of the determining volume " + name +
        " is refused: only clusterd, as the winner of its reserve, moves its primary "
        "(--force overrides, if the other site is really gone)");
  }
  Pair& pair = *found.value();
  if (pair.Snapshot().context.mode == PairMode::kAsync)  // asyncswap: the group's four roles
    return async_->TakeoverAsync(pair, force, cluster, peer_lost, note);
  PairContext context = pair.Snapshot().context;
  context.force = force;
  const bool behind = pair.Snapshot().state.outdated || !pair.Snapshot().state.consistent;
  Result<wire::PeerAnswerMessage> peer =
      peer_lost ? Result<wire::PeerAnswerMessage>(
                      Status::Unreachable("site " + options_.peer_site + " is lost"))
                : AskStatus(pair, cluster ? kFailoverProbeMs : -1);
  context.peer_reachable = peer.ok();
  if (peer.ok()) (void)ParseStatus(peer->status, &context.peer_status);
  const wire::Generation mine = pair.Snapshot().generation;
  const wire::Generation generation = NextGeneration(
      mine, std::max(pair.peer_counter_heard.load(), peer.ok() ? peer->generation.counter : 0),
      options_.site);
  Result<PairTransition> transition = [&]() -> Result<PairTransition> {
    std::lock_guard<std::mutex> lock(pair.mutex);
    return Transit(pair.state, PairEvent::kTakeover, context);
  }();
  if (!transition.ok()) return transition.status();
  ClosedGate closed(pair.gate);
  if (transition->next.role == PairRole::kPrimary) {
    // A swap: the old primary is durably secondary before this side takes a write.
    Result<wire::PeerAnswerMessage> answer =
        Ask(wire::PeerDemoteCommand{pair.Snapshot().peer_volume, generation});
    if (!answer.ok())
      return Status::Unreachable("site " + options_.peer_site +
                                 " stopped answering during the swap");
    if (answer->code != 0) return StatusFromCode(answer->code, answer->message);
    FaultPoint("takeover-after-demote");
    Status changed = Change(pair, PairEvent::kTakeover, &context, &generation);
    if (!changed.ok()) return changed;
    *note = "swapped: site " + options_.site + " is the primary, site " + options_.peer_site +
            " the secondary (PAIR)";
    return Status::Ok();
  }
  Status changed = Change(pair, PairEvent::kTakeover, &context, &generation);
  if (!changed.ok()) return changed;
  *note =
      std::string("took over: writable here (SSWS)") +
      (peer.ok() ? ""
                 : "; site " + options_.peer_site +
                       " did not answer: writes it acknowledged after it last reached this site "
                       "are not here") +
      (force && behind
           ? "; this copy was outdated or inconsistent (--force): it may miss acknowledged writes"
           : "") +
      "; run resync --swap here once it is back";
  return Status::Ok();
}

Status Replicator::DissolveHere(const std::string& name) {
  Result<std::shared_ptr<Pair>> found = PairFor(name);
  if (!found.ok()) return found.status();
  Pair& pair = *found.value();
  StopCopy(pair, *calls_);  // its chunks' waits end now (node/copy_engine.h)
  {
    ClosedGate closed(pair.gate);
    Status changed = Change(pair, PairEvent::kDissolve, nullptr, nullptr);
    if (!changed.ok()) return changed;
  }
  DropPair(name);
  return Status::Ok();
}

Status Replicator::Dissolve(const std::string& name, std::string* note) {
  Result<std::shared_ptr<Pair>> found = PairFor(name);
  if (!found.ok()) return found.status();
  if (IsDetermining(name)) {
    return Status::InvalidArgument("dissolve of the determining volume " + name +
                                   " is refused while [cluster] determining_volume names it");
  }
  // An async primary (issue 13 part 4): the secondary first applies what the group's journal
  // holds, or its restore thread would meet entries of a volume it no longer has and stop the
  // group's other pairs there. A peer that does not answer is not waited for.
  std::shared_ptr<AsyncGroup> group = async_->JoinedGroup(*found.value());
  if (group && group->master()) {
    Status drained = group->WaitPeerApplied(group->journal().last_sequence(), kAsyncResyncDrainMs);
    if (!drained.ok() && AskStatus(*found.value()).ok()) {
      return Status::Unreachable("dissolve of " + name + " waits for site " + options_.peer_site +
                                 " to apply the journal of group " + group->name() + ": " +
                                 drained.message() + "; retry once journal_lag_bytes is 0");
    }
  }
  const wire::PeerDissolveCommand command{found.value()->Snapshot().peer_volume};
  Result<wire::PeerAnswerMessage> answer = Ask(command);
  if (answer.ok() && answer->code != 0 &&
      answer->code != static_cast<uint8_t>(Code::kInvalidArgument)) {
    return StatusFromCode(answer->code, answer->message);
  }
  Status here = DissolveHere(name);
  if (!here.ok()) return here;
  if (!answer.ok()) {
    *note = "dissolved here; site " + options_.peer_site + " did not answer: dissolve " +
            command.volume + " there too when it is back";
  }
  return Status::Ok();
}

void Replicator::Describe(Volume& volume, wire::VolumeInfo* info) {
  if (std::shared_ptr<Pair> pair = FindPair(volume.name()))
    DescribePair(*pair, pair->Snapshot(), info);
}

void Replicator::DescribePair(Pair& pair, const PairView& view, wire::VolumeInfo* info) {
  // The pair's live state: the metadata's, or a suspension held in memory (Commit).
  info->role = RoleName(view.state.role);
  info->status = StatusName(view.state.status);
  info->consistent = view.state.consistent;
  info->outdated = view.state.outdated;
  info->fenced = view.state.fenced;
  const uint64_t size = pair.volume->size_bytes();
  const uint64_t dirty = pair.regions->marked_bytes();
  info->dirty_bytes = view.state.status == PairStatus::kPAIR ? 0 : std::min(dirty, size);
  switch (view.state.status) {
    case PairStatus::kSMPL: info->copy_progress = 0; break;
    case PairStatus::kPAIR: info->copy_progress = 100; break;
    case PairStatus::kCOPY:
      if (view.state.role == PairRole::kPrimary) {
        const uint64_t total = pair.copy_total.load();
        info->copy_progress =
            total == 0 ? 0 : static_cast<uint32_t>(pair.copy_done.load() * 100 / total);
      } else {
        info->copy_progress = pair.peer_progress.load();
      }
      break;
    default:  // suspended: the share of the volume still in sync, as arrays show it
      info->copy_progress =
          size == 0 ? 100 : static_cast<uint32_t>((size - info->dirty_bytes) * 100 / size);
  }
  async_->DescribeAsync(pair, view, info);
  // ops (issue 15): clusterd's cluster takeover refuses while the data link still hears the peer.
  info->peer_heard_ms_ago = PeerHeardMsAgo();
}

}  // namespace pairfs::node
