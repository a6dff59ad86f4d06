// The mount's writes in a pair (doc/design.md "what a write, discard or fsync does in each
// status"): each write gets its path from the pair's status (WritePathFor, node/write_rules.h),
// then is written here only (tracked in the dirty bitmap), journaled (an async primary:
// node/async_replicator.cc), replicated (the primary writes its copy and sends the
// secondary's at once, then waits for the answer), or forwarded (the secondary asks the primary,
// which orders and grants it; then this side writes its copy and confirms). A replicated write
// may send a flush ahead of the fsync it expects (SendFlushAhead, SyncAhead); the fsync itself
// is flush_path.cc. What the peer does with these messages is in replica_server.cc.
#include <algorithm>
#include <optional>

#include <spdlog/spdlog.h>

#include "node/latency_histogram.h"
#include "node/limits.h"
#include "node/peer_calls.h"
#include "node/replicator.h"
#include "node/replicator_internal.h"
#include "node/write_rules.h"

namespace pairfs::node {

using namespace replicator_internal;
using wire::MessageType;

namespace {

// A grant, ack or flush answer from the peer, decoded and checked; false if it is neither.
bool DecodeWriteReply(std::string_view body, wire::WriteReplyMessage* reply) {
  return wire::DecodeBody(body, reply).ok() && wire::CheckWriteReply(*reply).ok();
}

// Counts a replicated write in flight from its send to its answer (FlushAhead needs to know
// whether it is alone).
class InFlight {
 public:
  explicit InFlight(std::atomic<int>& count) : count_(count) { count_.fetch_add(1); }
  ~InFlight() { count_.fetch_sub(1); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  std::atomic<int>& count_;
};

}  // namespace

// A replicated write from its send to the peer's answer, awaited without a thread (WriteAsync):
// what WriteReplicated holds meanwhile, in the order it takes it (released in reverse), and the
// caller's `done`. FinishReplicated lets go of it before calling `done`, as WriteReplicated's
// return does before its caller replies.
struct Replicator::ReplicatedWrite {
  std::shared_ptr<Pair> pair;
  std::unique_ptr<SharedGate> inside;
  wire::Generation generation;
  uint64_t offset = 0;
  size_t length = 0;
  std::optional<StageTimer> timer;
  RangeLock::Guard exclusive;
  std::optional<Activity> activity;
  std::optional<WindowShare> share;
  std::optional<InFlight> in_flight;
  PeerCalls::Clock::time_point sent_at;
  WriteDone done;
};

Result<size_t> Replicator::Write(Volume& volume, const std::string& origin_site, uint64_t offset,
                                 const char* data, size_t length, bool direct) {
  return DoWrite(volume, origin_site, wire::WriteKind::kData, offset, data, length, direct);
}

void Replicator::WriteAsync(Volume& volume, const std::string& origin_site, uint64_t offset,
                            const char* data, size_t length, bool direct, WriteDone done) {
  Result<size_t> result =
      DoWrite(volume, origin_site, wire::WriteKind::kData, offset, data, length, direct, &done);
  if (done) done(std::move(result));  // else the replicated write took it
}

Status Replicator::Discard(Volume& volume, const std::string& origin_site, wire::WriteKind kind,
                           uint64_t offset, uint64_t length) {
  if (offset >= volume.size_bytes() || length > volume.size_bytes() - offset) {
    return Status::NoSpace("discard past the end of volume " + volume.name());
  }
  if (length == 0) return Status::Ok();
  // A discard is one ordered write; long ones go in pieces no longer than a write.
  while (length > 0) {
    const uint64_t piece = std::min<uint64_t>(length, wire::kMaxDataBytes);
    Result<size_t> done = DoWrite(volume, origin_site, kind, offset, nullptr, piece, false);
    if (!done.ok()) return done.status();
    offset += piece;
    length -= piece;
  }
  return Status::Ok();
}

Result<size_t> Replicator::DoWrite(Volume& volume, const std::string& origin_site,
                                   wire::WriteKind kind, uint64_t offset, const char* data,
                                   size_t length, bool direct, WriteDone* async) {
  std::shared_ptr<Pair> pair = FindPair(volume.name());
  if (!pair) {
    if (kind == wire::WriteKind::kData)
      return volume.Write(origin_site, offset, data, length, direct);
    Status discarded = volume.Discard(origin_site, kind, offset, length);
    if (!discarded.ok()) return discarded;
    return length;
  }
  Result<size_t> clamped = volume.ClampToEnd(offset, length);
  if (!clamped.ok()) return clamped.status();
  length = clamped.value();
  if (length == 0) return size_t{0};
  Status reservation = volume.CheckReservation(origin_site);
  if (!reservation.ok()) return reservation;
  auto inside = std::make_unique<SharedGate>(pair->gate);
  const Pair::View view = pair->Snapshot();
  switch (WritePathFor(view.state, view.context, WriteRuleFor(view.state, view.context))) {
    case WritePath::kLocal:
    case WritePath::kLocalTracked: return WriteTracked(*pair, kind, offset, data, length, direct);
    case WritePath::kReplicate: {
      if (async == nullptr)
        return WriteReplicated(*pair, view, origin_site, kind, offset, data, length, direct);
      AsyncTail tail{pair, std::move(inside), std::move(*async)};
      *async = nullptr;
      Result<size_t> done =
          WriteReplicated(*pair, view, origin_site, kind, offset, data, length, direct, &tail);
      *async = std::move(tail.done);  // empty when the write took it
      return done;
    }
    case WritePath::kForwardToPrimary:
      return WriteForwarded(*pair, view, origin_site, kind, offset, data, length, direct);
    case WritePath::kJournal:  // async: node/async_replicator.cc
      return async_->WriteJournaled(*pair, kind, offset, data, length, direct);
    case WritePath::kRefuseIo:
      return Status::IoError("volume " + volume.name() + ": site " + options_.peer_site +
                                 " is unreachable and the pair's fence level is data",
                             EIO);
    case WritePath::kRefuseReadOnly: break;
  }
  return Status::ReadOnly("volume " + volume.name() + " is not writable here (" +
                          RoleName(view.state.role) + ", " + StatusName(view.state.status) +
                          (view.state.outdated ? ", outdated" : "") +
                          (view.state.fenced ? ", fenced" : "") + ")");
}

Result<size_t> Replicator::WriteTracked(Pair& pair, wire::WriteKind kind, uint64_t offset,
                                        const char* data, size_t length, bool direct) {
  RangeLock::Guard exclusive = pair.volume->exclusive().Acquire(offset, length);
  Result<Activity> activity = Activity::Begin(pair, offset, length, false);
  if (!activity.ok()) return activity.status();
  Status written = pair.volume->WriteRaw(kind, offset, data, length, direct);
  if (!written.ok()) return written;
  return length;
}

// What a write that could not reach the peer returns once the pair has reacted: done (fence
// never: the primary carries on alone, the region marked), EIO (fence data) or EROFS.
Result<size_t> Replicator::AfterLinkLoss(Pair& pair, size_t length) {
  const Pair::View view = pair.Snapshot();
  switch (
      node::AfterLinkLoss(view.state, view.context.fence, WriteRuleFor(view.state, view.context))) {
    case LinkLossOutcome::kWritten: return length;
    case LinkLossOutcome::kFencedIo:
      return Status::IoError(
          "volume " + pair.volume->name() + ": site " + options_.peer_site +
              " did not answer and this site lost the determining volume's reserve: fenced",
          EIO);
    case LinkLossOutcome::kRefuseIo:
      return Status::IoError("volume " + pair.volume->name() + ": site " + options_.peer_site +
                                 " did not answer and the pair's fence level is data",
                             EIO);
    case LinkLossOutcome::kRefuseReadOnly: break;
  }
  return Status::ReadOnly("volume " + pair.volume->name() + ": cannot reach the primary at site " +
                          options_.peer_site);
}

Result<Replicator::OutgoingWrite> Replicator::EncodeWrite(MessageType type,
                                                          const std::string& peer_volume,
                                                          const wire::Generation& generation,
                                                          const std::string& origin_site,
                                                          wire::WriteKind kind, uint64_t offset,
                                                          const char* data, size_t length) {
  wire::WriteMessage message;
  message.volume = peer_volume;
  message.generation = generation;
  message.origin_site = origin_site;
  message.kind = static_cast<uint8_t>(kind);
  message.offset = offset;
  message.length = length;
  const uint64_t id = calls_->Begin();
  message.sequence = id;
  Result<std::string> frame =
      wire::EncodeWriteFrame(type, id, options_.site, message,
                             kind == wire::WriteKind::kData ? std::string_view(data, length) : "");
  if (!frame.ok()) {
    calls_->Cancel(id);
    return frame.status();
  }
  return OutgoingWrite{id, std::make_shared<const std::string>(std::move(frame.value()))};
}

Result<std::vector<Replicator::OutgoingWrite>> Replicator::SendReplicaParts(
    const std::string& peer_volume, const wire::Generation& generation,
    const std::string& origin_site, wire::WriteKind kind, uint64_t offset, const char* data,
    size_t length) {
  // A long write goes as parts, each sent as soon as it is encoded, so that the peer receives (on
  // a CURVE link: this site's ZeroMQ thread encrypts, the peer's decrypts) and writes one part
  // while this site still encodes the next, instead of one after the other. The parts are one
  // write: the caller holds the whole range until every part is answered. A write without data
  // (zeroes, discard) is one message.
  const size_t part_bytes = kind == wire::WriteKind::kData ? kReplicaPartBytes : length;
  std::vector<OutgoingWrite> parts;
  parts.reserve((length + part_bytes - 1) / part_bytes);
  for (size_t done = 0; done < length; done += part_bytes) {
    const size_t part = std::min(part_bytes, length - done);
    Result<OutgoingWrite> outgoing =
        EncodeWrite(MessageType::kReplicaWrite, peer_volume, generation, origin_site, kind,
                    offset + done, data == nullptr ? nullptr : data + done, part);
    if (!outgoing.ok()) {
      for (const OutgoingWrite& sent : parts) calls_->Cancel(sent.id);
      return outgoing.status();
    }
    (void)Transmit(outgoing->frame);
    parts.push_back(std::move(outgoing.value()));
  }
  return parts;
}

std::optional<wire::Frame> Replicator::WaitForParts(const std::vector<OutgoingWrite>& parts,
                                                    PeerCalls::Clock::time_point* answered_at) {
  // The first answer that is not a success (or none) stands for the write; the rest are not
  // waited for, one timeout each.
  std::optional<wire::Frame> verdict;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::shared_ptr<const std::string>& frame_bytes = parts[i].frame;
    std::optional<wire::Frame> answer = calls_->Wait(
        parts[i].id, options_.peer_timeout_ms, options_.retransmit_ms,
        [&] { (void)Transmit(frame_bytes); }, answered_at);
    wire::WriteReplyMessage reply;
    const bool failed = !answer || !DecodeWriteReply(answer->body, &reply) || reply.code != 0;
    if (failed) {
      for (size_t j = i + 1; j < parts.size(); ++j) calls_->Cancel(parts[j].id);
      return answer;
    }
    verdict = std::move(answer);
  }
  return verdict;
}

Result<size_t> Replicator::WriteReplicated(Pair& pair, const PairView& view,
                                           const std::string& origin_site, wire::WriteKind kind,
                                           uint64_t offset, const char* data, size_t length,
                                           bool direct, AsyncTail* tail) {
  const wire::Generation& generation = view.generation;
  auto write = std::make_shared<ReplicatedWrite>();
  write->generation = generation;
  write->offset = offset;
  write->length = length;
  StageTimer& timer = write->timer.emplace(Stage::kWrite);
  write->exclusive = pair.volume->exclusive().Acquire(offset, length);
  Result<Activity> activity = Activity::Begin(pair, offset, length, true);
  if (!activity.ok()) return activity.status();
  write->activity.emplace(std::move(activity.value()));
  timer.Mark(Stage::kWriteLock);
  if (!(pair.Snapshot().generation == generation)) {
    // The pair changed while this write waited for its range: write under the new rule.
    Status written = pair.volume->WriteRaw(kind, offset, data, length, direct);
    if (!written.ok()) return written;
    return AfterLinkLoss(pair, length);
  }
  window_->Acquire(length);
  write->share.emplace(*window_, length);
  const PeerCalls::Clock::time_point sent_at = timer.Mark(Stage::kWriteWindow);
  write->sent_at = sent_at;
  write->in_flight.emplace(pair.writes_in_flight);
  const uint64_t writes_sent = pair.writes_sent.fetch_add(1) + 1;
  Result<std::vector<OutgoingWrite>> parts =
      SendReplicaParts(view.peer_volume, generation, origin_site, kind, offset, data, length);
  if (!parts.ok()) {
    // Parts sent before the failure may be applied at the peer and not here.
    KeepChanged(pair, offset, length);
    SuspendOnDiskFault(pair, generation,
                       "a replica write could not be sent: " + parts.status().message());
    return parts.status();
  }
  const bool ahead =
      parts->size() == 1 && SendFlushAhead(pair, view, parts->front().id, writes_sent);
  timer.Mark(Stage::kWriteSend);
  Status written = pair.volume->WriteRaw(kind, offset, data, length, direct);
  timer.Mark(Stage::kWriteLocal);
  // The fsync that follows would start this site's fdatasync only after the answer: here it runs
  // while the answer travels (and the peer's own fdatasync, asked for by the flush ahead, runs).
  Status synced = ahead && written.ok() ? SyncAhead(pair, view, writes_sent) : Status::Ok();
  if (ahead && written.ok()) timer.Mark(Stage::kWriteSyncAhead);
  const bool awaited = tail != nullptr && parts->size() == 1 && written.ok() && synced.ok() && [&] {
    std::lock_guard<std::mutex> lock(work_mutex_);
    if (stopping_) return false;  // no write timer is left to expire it: waited for here
    ++async_writes_;
    return true;
  }();
  if (awaited) {
    // Nothing is left to do here but wait: the answer finishes the write where it arrives.
    write->pair = tail->pair;
    write->inside = std::move(tail->inside);
    write->done = std::move(tail->done);
    tail->done = nullptr;
    const std::shared_ptr<const std::string> frame_bytes = parts->front().frame;
    calls_->Await(
        parts->front().id, options_.peer_timeout_ms, options_.retransmit_ms,
        [this, frame_bytes] { (void)Transmit(frame_bytes); },
        [this, write = std::move(write)](std::optional<wire::Frame> answer,
                                         PeerCalls::Clock::time_point at) mutable {
          FinishReplicated(std::move(write), std::move(answer), at);
        });
    return size_t{0};  // not the write's result: `done` gets that
  }
  PeerCalls::Clock::time_point answered_at;
  std::optional<wire::Frame> answer = WaitForParts(parts.value(), &answered_at);
  timer.Mark(Stage::kWriteWait);
  if (answer) timer.Span(Stage::kWriteRoundTrip, sent_at, answered_at);
  if (!written.ok()) {
    // The secondary may hold the write and this copy not: the pair suspends with the region
    // pinned (the trim must not forget it) and a resync repairs the copies.
    KeepChanged(pair, offset, length);
    SuspendOnDiskFault(pair, generation, "a write failed here: " + written.message());
    return written;
  }
  if (!synced.ok()) {
    // As a failed fsync (FlushWithPeer): any write since the last flush may be lost here, and the
    // kernel reports a writeback error once, so this write reports it.
    KeepAllChanged(pair);
    SuspendOnDiskFault(pair, generation, "a flush failed here: " + synced.message());
    return synced;
  }
  return ReadReplicatedAnswer(pair, generation, offset, length, answer);
}

void Replicator::FinishReplicated(std::shared_ptr<ReplicatedWrite> write,
                                  std::optional<wire::Frame> answer,
                                  PeerCalls::Clock::time_point answered_at) {
  wire::WriteReplyMessage reply;
  const bool answered = answer && DecodeWriteReply(answer->body, &reply);
  if (!answered || ReadReplicaAnswer(true, static_cast<Code>(reply.code), reply.generation,
                                     write->generation) != ReplicaAnswerStep::kDone) {
    // The pair reacts to a refusal or a silence (a suspend, a vote at the witness): never on the
    // link thread, which must not block, nor on the write timer, which expires calls.
    Defer([this, write = std::move(write), answer = std::move(answer), answered_at]() mutable {
      CompleteReplicated(std::move(write), answer, answered_at);
    });
    return;
  }
  CompleteReplicated(std::move(write), answer, answered_at);
}

void Replicator::CompleteReplicated(std::shared_ptr<ReplicatedWrite> write,
                                    const std::optional<wire::Frame>& answer,
                                    PeerCalls::Clock::time_point answered_at) {
  write->timer->Mark(Stage::kWriteWait);
  if (answer) write->timer->Span(Stage::kWriteRoundTrip, write->sent_at, answered_at);
  Result<size_t> result =
      ReadReplicatedAnswer(*write->pair, write->generation, write->offset, write->length, answer);
  WriteDone done = std::move(write->done);
  write.reset();  // the range, activity, window share and gate let go before the reply
  done(std::move(result));
  {
    std::lock_guard<std::mutex> lock(work_mutex_);
    --async_writes_;
  }
  async_writes_done_.notify_all();
}

Result<size_t> Replicator::ReadReplicatedAnswer(Pair& pair, const wire::Generation& generation,
                                                uint64_t offset, size_t length,
                                                const std::optional<wire::Frame>& answer) {
  wire::WriteReplyMessage reply;
  const bool answered = answer && DecodeWriteReply(answer->body, &reply);
  switch (
      ReadReplicaAnswer(answered, static_cast<Code>(reply.code), reply.generation, generation)) {
    case ReplicaAnswerStep::kDone: pair.CountReplicated(length); return length;
    case ReplicaAnswerStep::kPeerNewer:
      OnPeerNewer(pair, generation, reply.generation);
      return Status::ReadOnly("volume " + pair.volume->name() + " is outdated: site " +
                              options_.peer_site + " has a newer generation");
    case ReplicaAnswerStep::kDiskFault:
      KeepChanged(pair, offset, length);
      SuspendOnDiskFault(pair, generation,
                         std::string("a write failed at site ") + options_.peer_site + " (" +
                             CodeName(static_cast<Code>(reply.code)) + ")");
      return PeerDiskFault(reply.code, pair.volume->name(), options_.peer_site);
    case ReplicaAnswerStep::kLinkLost:
      if (answered) {
        spdlog::warn("pair {}: site {} refused a write ({}); suspending", pair.volume->name(),
                     options_.peer_site, CodeName(static_cast<Code>(reply.code)));
      } else {
        spdlog::warn("pair {}: site {} did not acknowledge a write within {} ms",
                     pair.volume->name(), options_.peer_site, options_.peer_timeout_ms);
      }
  }
  OnLinkLost(pair, generation);
  return AfterLinkLoss(pair, length);
}

Result<size_t> Replicator::WriteForwarded(Pair& pair, const PairView& view,
                                          const std::string& origin_site, wire::WriteKind kind,
                                          uint64_t offset, const char* data, size_t length,
                                          bool direct) {
  const wire::Generation& generation = view.generation;
  // No range is held while the primary orders the write: its own copy of an earlier write to
  // this range may still be on its way here and needs the range (doc/design.md pitfalls).
  Result<Activity> activity = Activity::Begin(pair, offset, length, true);
  if (!activity.ok()) return activity.status();
  Result<OutgoingWrite> outgoing = EncodeWrite(MessageType::kForwardedWrite, view.peer_volume,
                                               generation, origin_site, kind, offset, data, length);
  if (!outgoing.ok()) return outgoing.status();
  const uint64_t id = outgoing->id;
  const std::shared_ptr<const std::string>& frame_bytes = outgoing->frame;
  std::optional<wire::Frame> answer;
  {
    window_->Acquire(length);
    WindowShare share(*window_, length);
    (void)Transmit(frame_bytes);
    answer = calls_->Wait(id, options_.peer_timeout_ms, options_.retransmit_ms,
                          [&] { (void)Transmit(frame_bytes); });
  }
  if (!answer) {
    spdlog::warn("pair {}: the primary at site {} did not order a write within {} ms",
                 pair.volume->name(), options_.peer_site, options_.peer_timeout_ms);
    OnLinkLost(pair, generation);
    return AfterLinkLoss(pair, length);
  }
  wire::WriteReplyMessage grant;
  if (!DecodeWriteReply(answer->body, &grant)) {
    return Status::Corruption("volume " + pair.volume->name() +
                              ": the primary's grant is malformed");
  }
  if (grant.code != 0) {
    if (grant.generation.NewerThan(generation)) OnPeerNewer(pair, generation, grant.generation);
    const Code code = RefusedGrantCode(static_cast<Code>(grant.code));
    if (code == Code::kConflict) {
      return Status::Conflict("volume " + pair.volume->name() +
                              " is reserved by another site (refused at site " +
                              options_.peer_site + ")");
    }
    if (code != Code::kReadOnly)
      return PeerDiskFault(static_cast<uint8_t>(code), pair.volume->name(), options_.peer_site);
    return Status::ReadOnly("volume " + pair.volume->name() + ": the primary at site " +
                            options_.peer_site + " refused the write (" +
                            CodeName(static_cast<Code>(grant.code)) + ")");
  }
  Status written;
  {
    RangeLock::Guard exclusive = pair.volume->exclusive().Acquire(offset, length);
    written = pair.volume->WriteRaw(kind, offset, data, length, direct);
  }
  // A failed write is confirmed with its code: the primary, which wrote its copy, suspends.
  wire::WriteReplyMessage confirm{view.peer_volume, generation, id,
                                  static_cast<uint8_t>(DiskFaultCode(written))};
  if (!written.ok()) KeepChanged(pair, offset, length);
  (void)SendOneWay(MessageType::kWriteConfirm, id, wire::EncodeBody(confirm));
  if (!written.ok()) return written;
  pair.CountReplicated(length);
  return length;
}

}  // namespace pairfs::node
