// The pair commands the peer asks of this node (wire/peer_messages.h): one handler per message
// type. ServePairCommand decodes the frame's body as its type's command and checks every field
// before the handler sees it; a command that fails is refused (and counted), never acted on.
#include <algorithm>

#include <spdlog/spdlog.h>

#include "node/async_group.h"
#include "node/command_rules.h"
#include "node/limits.h"
#include "node/names.h"
#include "node/replicator.h"
#include "node/replicator_internal.h"
#include "node/reserve_rules.h"
#include "wire/log_limit.h"

namespace pairfs::node {

using namespace replicator_internal;
using wire::MessageType;

namespace {

wire::PeerAnswerMessage AnswerOf(const Status& status) {
  wire::PeerAnswerMessage answer;
  answer.code = static_cast<uint8_t>(status.code());
  answer.message = status.ok() ? "" : status.message();
  return answer;
}

}  // namespace

void Replicator::CountRefusal(MessageType type, const Status& why) {
  const uint64_t count = peer_refusals_.fetch_add(1) + 1;
  PAIRFS_LOG_REFUSAL(wire::RefusalLog(), std::string("peer: ") + MessageTypeName(type),
                     "peer: refused a {} from site {}: {} ({} refused so far)",
                     MessageTypeName(type), options_.peer_site, why.message(), count);
}

wire::PeerAnswerMessage Replicator::ServePairCommand(const wire::Frame& frame) {
  // Decodes and checks the body as T, then runs `handler` on it.
  auto serve = [&](auto command, auto handler) -> wire::PeerAnswerMessage {
    Status decoded = wire::DecodePeerMessage(frame.body, &command);
    if (!decoded.ok()) {
      CountRefusal(frame.type, decoded);
      return AnswerOf(Status::InvalidArgument(std::string(MessageTypeName(frame.type)) + ": " +
                                              decoded.message()));
    }
    return (this->*handler)(command);
  };
  switch (frame.type) {
    case MessageType::kPeerCreate:
      return serve(wire::PeerCreateCommand{}, &Replicator::ServeCreate);
    case MessageType::kPeerForwardSplit:
      return serve(wire::PeerForwardSplitCommand{}, &Replicator::ServeForwardSplit);
    case MessageType::kPeerForwardResync:
      return serve(wire::PeerForwardResyncCommand{}, &Replicator::ServeForwardResync);
    case MessageType::kPeerReserveAsk:
      return serve(wire::PeerReserveAskCommand{}, &Replicator::ServeReserveAsk);
    case MessageType::kPeerReserveMirror:
      return serve(wire::PeerReserveMirrorCommand{}, &Replicator::ServeReserveMirror);
    case MessageType::kPeerVote: return serve(wire::PeerVoteCommand{}, &Replicator::ServeVote);
    case MessageType::kPeerStatusAsk:
      return serve(wire::PeerStatusAskCommand{}, &Replicator::ServeStatusAsk);
    case MessageType::kPeerVerify:
      return serve(wire::PeerVerifyCommand{}, &Replicator::ServeVerify);
    case MessageType::kPeerSplit: return serve(wire::PeerSplitCommand{}, &Replicator::ServeSplit);
    case MessageType::kPeerResync:
      return serve(wire::PeerResyncCommand{}, &Replicator::ServeResync);
    case MessageType::kPeerDemote:
      return serve(wire::PeerDemoteCommand{}, &Replicator::ServeDemote);
    case MessageType::kPeerCopyDone:
      return serve(wire::PeerCopyDoneCommand{}, &Replicator::ServeCopyDone);
    case MessageType::kPeerTrim: return serve(wire::PeerTrimCommand{}, &Replicator::ServeTrim);
    case MessageType::kPeerDissolve:
      return serve(wire::PeerDissolveCommand{}, &Replicator::ServeDissolve);
    case MessageType::kPeerBitmap:
      return serve(wire::PeerBitmapCommand{}, &Replicator::ServeBitmap);
    default: {
      const Status refused = Status::Unsupported(std::string(MessageTypeName(frame.type)) +
                                                 " is not a pair command of this version");
      CountRefusal(frame.type, refused);
      return AnswerOf(refused);
    }
  }
}

Result<std::shared_ptr<Replicator::Pair>> Replicator::CommandPair(const std::string& name) const {
  if (std::shared_ptr<Pair> pair = FindPair(name)) return pair;
  if (store_.Find(name)) {
    return Status::InvalidArgument("volume " + name + " at site " + options_.site +
                                   " is not in a pair");
  }
  return Status::NotFound("no volume named " + name + " at site " + options_.site);
}

namespace {

// The answer's description of a pair: role, status, generation, reservation, size.
void DescribeInAnswer(Replicator::Pair& pair, wire::PeerAnswerMessage* answer) {
  const Replicator::PairView view = pair.Snapshot();
  answer->generation = view.generation;
  answer->role = RoleName(view.state.role);
  answer->status = StatusName(view.state.status);
  answer->consistent = view.state.consistent;
  answer->outdated = view.state.outdated;
  answer->reserved_by = pair.volume->metadata().reserved_by;
  answer->size_bytes = pair.volume->size_bytes();
}

// A new secondary's metadata: the pair as the primary's create command describes it.
Status SaveAsSecondary(Volume& volume, const PairState& next,
                       const wire::PeerCreateCommand& command, const std::string& peer_site) {
  return volume.UpdateMetadata([&](VolumeMetadata& metadata) {
    metadata.role = RoleName(next.role);
    metadata.status = StatusName(next.status);
    metadata.consistent = next.consistent;
    metadata.outdated = false;
    metadata.fenced = false;
    metadata.pair_mode = command.mode;
    metadata.peer_site = peer_site;
    metadata.peer_volume = command.peer_volume;
    metadata.fence = command.fence;
    metadata.group = command.group;
    metadata.generation = command.generation.counter;
    metadata.generation_site = command.generation.site;
    metadata.region_size_bytes = command.region_size_bytes;
  });
}

}  // namespace

wire::PeerAnswerMessage Replicator::ServeCreate(const wire::PeerCreateCommand& command) {
  std::lock_guard<std::mutex> one_at_a_time(serve_create_mutex_);
  const std::string& name = command.volume;
  PairMode mode = PairMode::kSync;
  FenceLevel fence = FenceLevel::kNever;
  if (!ParseMode(command.mode, &mode) || !ParseFence(command.fence, &fence)) {
    CountRefusal(command.kType, Status::InvalidArgument("unknown mode or fence"));
    return AnswerOf(Status::InvalidArgument("pair create: unknown mode '" + command.mode +
                                            "' or fence '" + command.fence + "'"));
  }
  if (std::shared_ptr<Pair> existing = FindPair(name)) {
    const Pair::View view = existing->Snapshot();
    if (view.generation == command.generation && view.state.role == PairRole::kSecondary)
      return AnswerOf(Status::Ok());
    return AnswerOf(Status::InvalidArgument("volume " + name + " at site " + options_.site +
                                            " is already in a pair (" +
                                            StatusName(view.state.status) + ")"));
  }
  Status unpaired = CheckPeerVolumeUnpaired(command);
  if (!unpaired.ok()) return AnswerOf(unpaired);
  wire::PeerAnswerMessage answer;
  std::shared_ptr<Volume> volume = store_.Find(name);
  if (!volume) {
    Result<std::shared_ptr<Volume>> created = store_.Create(name, command.size_bytes);
    if (!created.ok()) return AnswerOf(created.status());
    volume = created.value();
    answer.created = true;
    spdlog::info("volume {} created for a pair with {}:{}, {} bytes", name, options_.peer_site,
                 command.peer_volume, command.size_bytes);
  }
  Status paired = PairAsSecondary(volume, command, mode);
  if (!paired.ok()) {
    wire::PeerAnswerMessage failed = AnswerOf(paired);
    failed.created = answer.created;
    return failed;
  }
  spdlog::info("pair {}: secondary of {}:{}, initial copy starting", name, options_.peer_site,
               command.peer_volume);
  return answer;
}

Status Replicator::CheckPeerVolumeUnpaired(const wire::PeerCreateCommand& command) {
  // One volume at the peer pairs with one volume here: a second pair with the same peer volume
  // would take the first one's writes and statuses for its own.
  std::vector<std::shared_ptr<Pair>> pairs;
  {
    std::lock_guard<std::mutex> lock(pairs_mutex_);
    for (const auto& entry : pairs_) pairs.push_back(entry.second);
  }
  for (const std::shared_ptr<Pair>& other : pairs) {
    if (other->Snapshot().peer_volume == command.peer_volume) {
      return Status::InvalidArgument("volume " + command.peer_volume + " at site " +
                                     options_.peer_site + " is already paired with volume " +
                                     other->volume->name() + " here");
    }
  }
  return Status::Ok();
}

Status Replicator::PairAsSecondary(const std::shared_ptr<Volume>& volume,
                                   const wire::PeerCreateCommand& command, PairMode mode) {
  const std::string& name = command.volume;
  if (volume->size_bytes() != command.size_bytes) {
    return Status::InvalidArgument("size mismatch: volume " + name + " is " +
                                   FormatSize(volume->size_bytes()) + " at site " + options_.site +
                                   " and " + FormatSize(command.size_bytes) + " at site " +
                                   options_.peer_site);
  }
  if (volume->metadata().status != "SMPL") {
    return Status::InvalidArgument("volume " + name + " at site " + options_.site +
                                   " is already in a pair");
  }
  Result<PairTransition> transition =
      Transit(PairState{}, PairEvent::kCreateAsSecondary, PairContext{});
  if (!transition.ok()) return transition.status();
  wire::PeerCreateCommand resolved = command;
  if (mode == PairMode::kAsync) {
    // Async (issue 13): the group's restore journal exists before the pair is saved.
    if (resolved.group.empty()) resolved.group = command.peer_volume;
    Status named = CheckVolumeName(resolved.group);
    if (!named.ok()) {
      CountRefusal(command.kType, named);
      return Status::InvalidArgument("pair create: group: " + named.message());
    }
    Result<std::shared_ptr<AsyncGroup>> group = async_->OpenGroup(resolved.group, false, true);
    if (!group.ok()) return group.status();
  }
  Status saved = SaveAsSecondary(*volume, transition->next, resolved, options_.peer_site);
  if (!saved.ok()) return saved;
  Result<std::shared_ptr<Pair>> pair = LoadPair(volume, true);
  if (!pair.ok()) return pair.status();
  if (mode == PairMode::kAsync) {
    Status attached = async_->AttachAsync(*pair.value(), true);
    if (!attached.ok()) return attached;
    async_->FindGroup(resolved.group)->Start();
  }
  return Status::Ok();
}

wire::PeerAnswerMessage Replicator::ServeForwardSplit(
    const wire::PeerForwardSplitCommand& command) {
  std::string note;
  std::vector<wire::PairOutcome> outcomes;  // the asker shows its own rows
  Status status = command.group.empty()
                      ? Split(command.volume, command.read_write, true, &note)
                      : RunGroup(command.group, GroupCommand::kSplit,
                                 {command.read_write, false, true}, &outcomes, &note);
  if (!status.ok()) return AnswerOf(status);
  wire::PeerAnswerMessage answer;
  answer.message = note;
  return answer;
}

wire::PeerAnswerMessage Replicator::ServeForwardResync(
    const wire::PeerForwardResyncCommand& command) {
  std::string note;
  Status status = Resync(command.volume, false, true, &note);
  if (!status.ok()) return AnswerOf(status);
  wire::PeerAnswerMessage answer;
  answer.message = note;
  return answer;
}

wire::PeerAnswerMessage Replicator::ServeStatusAsk(const wire::PeerStatusAskCommand& command) {
  Result<std::shared_ptr<Pair>> pair = CommandPair(command.volume);
  if (!pair.ok()) return AnswerOf(pair.status());
  wire::PeerAnswerMessage answer;
  DescribeInAnswer(*pair.value(), &answer);
  return answer;
}

wire::PeerAnswerMessage Replicator::ServeVerify(const wire::PeerVerifyCommand& command) {
  Result<std::shared_ptr<Pair>> pair = CommandPair(command.volume);
  if (!pair.ok()) return AnswerOf(pair.status());
  Result<std::vector<uint64_t>> hashes = HashRegions(*pair.value(), command.first, command.count);
  if (!hashes.ok()) return AnswerOf(hashes.status());
  wire::PeerAnswerMessage answer;
  answer.hashes = std::move(hashes.value());
  return answer;
}

wire::PeerAnswerMessage Replicator::ServeSplit(const wire::PeerSplitCommand& command) {
  Result<std::shared_ptr<Pair>> found = CommandPair(command.volume);
  if (!found.ok()) return AnswerOf(found.status());
  Pair& pair = *found.value();
  bool from_pair = false;
  uint32_t closing = 0;
  Status status;
  Pair::View split;
  {
    ClosedGate closed(pair.gate);  // writes in flight finish in the old status
    from_pair = pair.Snapshot().state.status == PairStatus::kPAIR;
    status = Change(pair, command.read_write ? PairEvent::kSplitReadWrite : PairEvent::kSplit,
                    nullptr, &command.generation);
    split = pair.Snapshot();
    closing = CloseEpoch(pair);
  }
  if (status.ok()) status = pair.volume->Flush();  // the primary forgets its marks once we answer
  if (status.ok() && from_pair)
    ClearActivityThrough(pair, closing, false, split.generation, split.state.status);
  wire::PeerAnswerMessage answer = AnswerOf(status);
  DescribeInAnswer(pair, &answer);
  return answer;
}

wire::PeerAnswerMessage Replicator::ServeResync(const wire::PeerResyncCommand& command) {
  Result<std::shared_ptr<Pair>> found = CommandPair(command.volume);
  if (!found.ok()) return AnswerOf(found.status());
  Pair& pair = *found.value();
  // This side becomes the target of the copy: it sends the regions it changed (kPeerBitmap).
  ClosedGate closed(pair.gate);
  const wire::Generation mine = pair.Snapshot().generation;
  // A side that missed the suspend (it was down) still shows the old status: it is behind.
  if (ResyncTargetIsBehind(pair.Snapshot().state, mine, command.generation)) {
    OnPeerNewer(pair, mine, command.generation);
  }
  // Either event takes the primary's generation (kAdoptPeerGeneration) with the new state.
  const bool async_swap = command.swap && pair.Snapshot().context.mode == PairMode::kAsync;
  if (async_swap) {  // asyncswap: what this side journaled and may not have shipped is marked
    Status marked = async_->BeforeAsyncSwapByPeer(pair);
    if (!marked.ok()) return AnswerOf(marked);
  }
  // (async resync, issue 13 part 4: a journaled resync keeps this target consistent)
  PairContext context = pair.Snapshot().context;
  // asyncrest: a journaled resync --swap keeps it consistent when its marks fit the budget.
  context.journaled_resync =
      command.journaled && (!command.swap || (async_swap && async_->AsyncSwapTargetFits(
                                                                pair, command.swap_budget_bytes)));
  Status status = Change(pair, command.swap ? PairEvent::kResyncSwapByPeer : PairEvent::kResync,
                         &context, &command.generation);
  if (status.ok() && async_swap) status = async_->AfterAsyncSwapByPeer(pair);  // asyncswap
  if (!status.ok()) return AnswerOf(status);
  wire::PeerAnswerMessage answer;
  DescribeInAnswer(pair, &answer);
  return answer;
}

wire::PeerAnswerMessage Replicator::ServeBitmap(const wire::PeerBitmapCommand& command) {
  Result<std::shared_ptr<Pair>> found = CommandPair(command.volume);
  if (!found.ok()) return AnswerOf(found.status());
  Pair& pair = *found.value();
  if (!(pair.Snapshot().generation == command.generation)) {
    return AnswerOf(Status::InvalidArgument(
        "bitmap of generation " + std::to_string(command.generation.counter) +
        ", but this side is at " + std::to_string(pair.Snapshot().generation.counter)));
  }
  const uint64_t regions = pair.regions->region_count();
  if (command.first >= regions)
    return AnswerOf(Status::InvalidArgument("bitmap: regions out of range"));
  wire::PeerAnswerMessage answer;
  answer.bits = PackBitsChunk(pair.regions->MarkedRegions(), command.first,
                              std::min(command.count, regions - command.first));
  return answer;
}

Status Replicator::MergePeerBitmap(Pair& pair, const std::string& peer_volume,
                                   const wire::Generation& generation) {
  const uint64_t regions = pair.regions->region_count();
  for (uint64_t first = 0; first < regions; first += wire::kBitmapChunkRegions) {
    const uint64_t count = std::min<uint64_t>(wire::kBitmapChunkRegions, regions - first);
    Result<wire::PeerAnswerMessage> answer =
        Ask(wire::PeerBitmapCommand{peer_volume, generation, first, count});
    if (!answer.ok())
      return Status::Unreachable("site " + options_.peer_site +
                                 " is unreachable: " + answer.status().message());
    if (answer->code != 0) return StatusFromCode(answer->code, answer->message);
    if (answer->bits.size() != (count + 7) / 8)
      return Status::Corruption("the peer sent a bitmap chunk of the wrong size");
    Status marked = pair.regions->MarkRegions(UnpackBitsChunk(answer->bits, first, count));
    if (!marked.ok()) return marked;
  }
  return Status::Ok();
}

wire::PeerAnswerMessage Replicator::ServeDemote(const wire::PeerDemoteCommand& command) {
  Result<std::shared_ptr<Pair>> found = CommandPair(command.volume);
  if (!found.ok()) return AnswerOf(found.status());
  Pair& pair = *found.value();
  Status status;
  {
    ClosedGate closed(pair.gate);
    status = Change(pair, PairEvent::kDemotedBySwap, nullptr, &command.generation);
    // asyncswap: the last pair of its group demoted ships the rest of the master journal.
    if (status.ok() && pair.Snapshot().context.mode == PairMode::kAsync)
      status = async_->AfterAsyncDemote(pair);
  }
  wire::PeerAnswerMessage answer = AnswerOf(status);
  DescribeInAnswer(pair, &answer);
  return answer;
}

wire::PeerAnswerMessage Replicator::ServeCopyDone(const wire::PeerCopyDoneCommand& command) {
  Result<std::shared_ptr<Pair>> found = CommandPair(command.volume);
  if (!found.ok()) return AnswerOf(found.status());
  Pair& pair = *found.value();
  const Pair::View view = pair.Snapshot();
  if (!(view.generation == command.generation)) {
    return AnswerOf(Status::InvalidArgument(
        "copy done for generation " + std::to_string(command.generation.counter) +
        ", but this side is at " + std::to_string(view.generation.counter)));
  }
  Status status = Change(pair, PairEvent::kCopyDone, nullptr, nullptr);
  if (!status.ok()) return AnswerOf(status);
  wire::PeerAnswerMessage answer;
  DescribeInAnswer(pair, &answer);
  return answer;
}

wire::PeerAnswerMessage Replicator::ServeTrim(const wire::PeerTrimCommand& command) {
  Result<std::shared_ptr<Pair>> found = CommandPair(command.volume);
  if (!found.ok()) return AnswerOf(found.status());
  Pair& pair = *found.value();
  // The primary finished a copy: the regions this side marked are copied over, also those it
  // found marked when it started as a primary (pinned until copied).
  {
    std::lock_guard<std::mutex> lock(pair.epoch_mutex);
    for (uint32_t& touched : pair.last_epoch) {
      if (touched == kPinnedEpoch) touched = 0;
    }
  }
  TrimActivityLog(pair, false);
  return AnswerOf(Status::Ok());
}

wire::PeerAnswerMessage Replicator::ServeDissolve(const wire::PeerDissolveCommand& command) {
  Result<std::shared_ptr<Pair>> found = CommandPair(command.volume);
  if (!found.ok()) return AnswerOf(found.status());
  return AnswerOf(DissolveHere(command.volume));
}

// ---- reservations (the rules are in replicator_reserve.cc) ----

wire::PeerAnswerMessage Replicator::ServeReserveAsk(const wire::PeerReserveAskCommand& command) {
  ReserveOptions options{command.holder, command.release, command.preempt, command.force,
                         command.outdated};
  return AnswerOf(Reserve(command.volume, options, true));
}

wire::PeerAnswerMessage Replicator::ServeVote(const wire::PeerVoteCommand& command) {
  std::lock_guard<std::recursive_mutex> ordered(determining_mutex_);
  std::string refusal;
  Result<wire::ReservationRecord> voted =
      VoteHere(command.volume,
               {command.volume, command.holder, command.outdated, command.force, command.release,
                command.hold},
               &refusal);
  if (!voted.ok()) return AnswerOf(voted.status());
  wire::PeerAnswerMessage answer =
      AnswerOf(refusal.empty() ? Status::Ok() : Status::Conflict(refusal));
  answer.reservation = voted.value();
  return answer;
}

wire::PeerAnswerMessage Replicator::ServeReserveMirror(
    const wire::PeerReserveMirrorCommand& command) {
  // The primary's record, as it is (the primary ordered it); a late retransmit of an older record
  // never overwrites a newer one, and a record far ahead of this copy is no record a node made.
  std::shared_ptr<Volume> volume = store_.Find(command.volume);
  if (!volume)
    return AnswerOf(
        Status::NotFound("no volume named " + command.volume + " at site " + options_.site));
  const uint64_t mine = volume->metadata().reserve_epoch;
  if (MirrorFarAhead(command.record.epoch, mine)) {
    const Status refused =
        Status::InvalidArgument("reservation epoch " + std::to_string(command.record.epoch) +
                                " is far ahead of this copy's " + std::to_string(mine));
    CountRefusal(command.kType, refused);
    return AnswerOf(refused);
  }
  return AnswerOf(volume->UpdateMetadata([&](VolumeMetadata& metadata) {
    if (MirrorReplaces(command.record.epoch, metadata.reserve_epoch)) {
      metadata.reserved_by = command.record.holder;
      metadata.reserve_epoch = command.record.epoch;
      metadata.reserve_outdated = command.record.outdated;
      metadata.reserve_hold = command.record.hold;
    }
  }));
}

}  // namespace pairfs::node
