// The mount's fsync in a pair (doc/design.md "what a write, discard or fsync does in each
// status"): its path from the pair's status (FlushPathFor, node/write_rules.h): this copy only,
// the async primary's journal (node/async_replicator.cc), or both copies at once (FlushWithPeer:
// the peer's fdatasync asked for first, this site's meanwhile, a peer that does not confirm
// handled as a lost link). And the flush ahead: for an application that fsyncs after each write,
// the replicated write (write_path.cc) sends the flush right behind itself and syncs this copy
// while its answer travels, so that the fsync finds both done (SendFlushAhead, SyncAhead; taken
// by TakeFlushAhead, TakeLocalSyncAhead). What the peer does with a flush is in
// replica_server.cc.
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

// A flush is sent ahead of the fsync once this many flushes in a row each followed at most one
// write: an application that fsyncs after every write (a database's commit, fio --fsync=1). One
// such flush is enough to start; two keep a single write-then-fsync from costing the peer an
// fdatasync it was not asked for.
constexpr int kFlushAheadAfterFlushes = 2;

}  // namespace

Status Replicator::Flush(Volume& volume) {
  std::shared_ptr<Pair> pair = FindPair(volume.name());
  if (!pair) return volume.Flush();
  const Pair::View view = pair->Snapshot();
  switch (FlushPathFor(view.state, view.context, WriteRuleFor(view.state, view.context))) {
    case FlushPath::kLocal: return volume.Flush();
    case FlushPath::kJournal:  // the journal is the write-ahead log (checkpoints: async_group)
      return async_->FlushJournaled(*pair);
    case FlushPath::kWithPeer: break;
  }
  return FlushWithPeer(*pair, view);
}

Result<Replicator::OutgoingWrite> Replicator::SendFlush(const PairView& view,
                                                        uint64_t through_sequence) {
  wire::FlushMessage message{view.peer_volume, view.generation, through_sequence, 0};
  const uint64_t id = calls_->Begin();
  Result<std::string> frame =
      wire::EncodeFrame(MessageType::kFlush, id, options_.site, wire::EncodeBody(message));
  if (!frame.ok()) {
    calls_->Cancel(id);
    return frame.status();
  }
  OutgoingWrite outgoing{id, std::make_shared<const std::string>(std::move(frame.value()))};
  (void)Transmit(outgoing.frame);
  return outgoing;
}

bool Replicator::SendFlushAhead(Pair& pair, const PairView& view, uint64_t write_id,
                                uint64_t writes_sent) {
  if (view.state.status != PairStatus::kPAIR) return false;
  {
    std::lock_guard<std::mutex> lock(pair.flush_ahead_mutex);
    if (pair.flushes_after_lone_writes < kFlushAheadAfterFlushes) return false;
    // Only the first write since the last flush: an application that stopped fsyncing after each
    // write (a bulk load after its commits) costs at most one fdatasync at each site it did not
    // ask for, not one per write until its next fsync.
    if (writes_sent != pair.writes_sent_at_last_flush + 1) return false;
  }
  // Only a write alone in flight: every earlier write is answered, so applied at the peer before
  // this flush arrives there; the peer checks that this one is (through_sequence).
  if (pair.writes_in_flight.load() != 1) return false;
  Result<OutgoingWrite> sent = SendFlush(view, write_id);
  if (!sent.ok()) return false;
  std::lock_guard<std::mutex> lock(pair.flush_ahead_mutex);
  if (pair.flush_ahead) calls_->Cancel(pair.flush_ahead->id);
  pair.flush_ahead =
      Pair::FlushAhead{sent->id, std::move(sent->frame), writes_sent, view.generation};
  return true;
}

Status Replicator::SyncAhead(Pair& pair, const PairView& view, uint64_t writes_sent) {
  // The write is alone in flight (SendFlushAhead checked) and its copy is written here: every
  // write sent before it has finished its local write, so this fdatasync covers them all.
  Status synced = pair.volume->Flush();
  if (!synced.ok()) return synced;
  std::lock_guard<std::mutex> lock(pair.flush_ahead_mutex);
  pair.local_sync_ahead = Pair::LocalSyncAhead{writes_sent, view.generation};
  return synced;
}

bool Replicator::TakeLocalSyncAhead(Pair& pair, const PairView& view) {
  const uint64_t writes_sent = pair.writes_sent.load();
  std::lock_guard<std::mutex> lock(pair.flush_ahead_mutex);
  std::optional<Pair::LocalSyncAhead> ahead = pair.local_sync_ahead;
  pair.local_sync_ahead.reset();
  // It covers this flush if no write was sent after its own, in the same generation (a write
  // counted is finished here once it is answered, and the fsync comes after its write's answer).
  return ahead && ahead->covers_writes_sent >= writes_sent && ahead->generation == view.generation;
}

std::optional<Replicator::OutgoingWrite> Replicator::TakeFlushAhead(Pair& pair,
                                                                    const PairView& view) {
  const uint64_t writes_sent = pair.writes_sent.load();
  std::lock_guard<std::mutex> lock(pair.flush_ahead_mutex);
  const bool after_lone_write = writes_sent - pair.writes_sent_at_last_flush <= 1;
  pair.flushes_after_lone_writes = after_lone_write ? pair.flushes_after_lone_writes + 1 : 0;
  pair.writes_sent_at_last_flush = writes_sent;
  std::optional<Pair::FlushAhead> ahead = std::move(pair.flush_ahead);
  pair.flush_ahead.reset();
  if (!ahead) return std::nullopt;
  // It covers this flush if no write was sent after its own, in the same generation.
  if (ahead->covers_writes_sent >= writes_sent && ahead->generation == view.generation) {
    return OutgoingWrite{ahead->id, std::move(ahead->frame)};
  }
  calls_->Cancel(ahead->id);
  return std::nullopt;
}

Status Replicator::FlushWithPeer(Pair& pair, const PairView& view) {
  Volume& volume = *pair.volume;
  StageTimer timer(Stage::kFlush);
  // Both fdatasyncs run at once: the peer's is asked for first (or was, ahead of the fsync), and
  // this site's may have run ahead too, behind the write (SyncAhead).
  const bool local_done = TakeLocalSyncAhead(pair, view);
  std::optional<OutgoingWrite> request = TakeFlushAhead(pair, view);
  bool ahead = request.has_value();
  const PeerCalls::Clock::time_point sent_at = timer.now();
  if (!request) {
    Result<OutgoingWrite> sent = SendFlush(view, 0);
    if (!sent.ok()) return sent.status();
    request = std::move(sent.value());
  }
  timer.Mark(Stage::kFlushSend);
  Status local = local_done ? Status::Ok() : volume.Flush();
  if (!local_done) timer.Mark(Stage::kFlushLocal);
  std::optional<uint8_t> code;  // the peer's answer, if one came and passed its checks
  for (;;) {
    PeerCalls::Clock::time_point answered_at;
    const std::shared_ptr<const std::string>& frame_bytes = request->frame;
    std::optional<wire::Frame> answer = calls_->Wait(
        request->id, options_.peer_timeout_ms, options_.retransmit_ms,
        [&] { (void)Transmit(frame_bytes); }, &answered_at);
    wire::FlushMessage reply;
    if (!answer || !wire::DecodeBody(answer->body, &reply).ok() || !wire::CheckFlush(reply).ok())
      break;
    code = reply.code;
    if (!ahead) timer.Span(Stage::kFlushRoundTrip, sent_at, answered_at);
    // A flush ahead that the peer could not apply to its write: a plain flush now (never
    // answered kBusy, so this loops at most once more).
    if (!ahead || reply.code != static_cast<uint8_t>(Code::kBusy)) break;
    Result<OutgoingWrite> sent = SendFlush(view, 0);
    if (!sent.ok()) return sent.status();
    request = std::move(sent.value());
    ahead = false;
    code.reset();
  }
  timer.Mark(Stage::kFlushWait);
  if (!local.ok()) {
    // Any write since the last flush may be lost here (the kernel reports a writeback error once).
    KeepAllChanged(pair);
    SuspendOnDiskFault(pair, view.generation, "a flush failed here: " + local.message());
    return local;
  }
  if (code == 0) return Status::Ok();
  if (code && IsDiskFault(*code)) {
    KeepAllChanged(pair);
    SuspendOnDiskFault(pair, view.generation, "a flush failed at site " + options_.peer_site);
    return PeerDiskFault(*code, volume.name(), options_.peer_site);
  }
  spdlog::warn("pair {}: site {} did not confirm a flush", volume.name(), options_.peer_site);
  OnLinkLost(pair, view.generation);
  Result<size_t> after = AfterLinkLoss(pair, 0);
  if (after.ok()) return Status::Ok();
  return Status::IoError(
      "fsync of " + volume.name() + ": site " + options_.peer_site + " did not confirm", EIO);
}

}  // namespace pairfs::node
