// The master's transfer threads (AsyncGroup::RunTransfer, kAsyncBatchesInFlight lanes): durable
// journal entries shipped to the peer's restore journal in batches, a window of them in flight
// (at most kAsyncBatchesInFlight batches and kAsyncWindowBytes of data), each lane sending one
// and waiting for its ack. An ack that confirms its batch moves nothing back; any other (a
// refused gap, a full restore journal, a probe, an older batch's ack) moves the next sequence
// to send to what the peer holds durably, so a lost batch, a restart of either side or a refusal
// resumes right there (the peer acknowledges what it holds again), and says what it applied. A
// checkpoint (fdatasync of the images) at most every kAsyncCheckpointIntervalMs lets the journal
// free what the peer applied and the images hold. While the link is down nothing is sent; the
// writers go on into the journal.
#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "node/async_group.h"
#include "node/limits.h"
#include "wire/log_limit.h"

namespace pairfs::node {
namespace {

wire::JournalEntryMessage ToMessage(JournalEntry&& entry) {
  wire::JournalEntryMessage message;
  message.sequence = entry.sequence;
  message.volume = std::move(entry.volume);
  message.kind = static_cast<uint8_t>(entry.kind);
  message.offset = entry.offset;
  message.length = entry.length;
  message.flags = entry.flags;
  message.data_checksum = entry.data_checksum;
  message.data.assign(entry.data.begin(), entry.data.end());
  return message;
}

}  // namespace

void AsyncGroup::RunTransfer(int lane) {
  for (;;) {
    const bool shipped = ShipOnce();
    if (lane == 0) CheckpointIfDue();
    std::unique_lock<std::mutex> lock(mutex_);
    if (stopping_) return;
    if (shipped) continue;
    if (lane == 0) {
      // Lane 0 also asks while the peer lags and probes after a failure.
      const bool known = peer_known_;
      lock.unlock();
      if (WaitForWork(known ? kAsyncIdleWaitMs : kAsyncRetryMs)) return;
      continue;
    }
    // The other lanes only ship, once there is something to ship and room in the window.
    WaitFor(wake_, lock, kAsyncIdleWaitMs, [&] { return stopping_ || SendableLocked(); });
    if (stopping_) return;
  }
}

bool AsyncGroup::SendableLocked() const {
  return peer_known_ && next_send_ <= journal_->last_sequence() &&
         in_flight_batches_ < kAsyncBatchesInFlight && in_flight_bytes_ < kAsyncWindowBytes;
}

void AsyncGroup::CheckpointIfDue() {
  const int64_t now = NowMs();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (now - last_checkpoint_ms_ < kAsyncCheckpointIntervalMs && !journal_->AboveHighWater(50))
      return;
  }
  Status freed = CheckpointAndFree();
  if (!freed.ok()) {
    PAIRFS_LOG_REFUSAL(wire::RefusalLog(), "async: checkpoint failed",
                       "group {}: checkpoint or free failed: {}", group_, freed.message());
  }
}

bool AsyncGroup::ReadBatch(size_t room, wire::JournalBatchMessage* batch, size_t* bytes) {
  Status synced = journal_->Sync();  // only durable entries are read and shipped
  if (!synced.ok()) return false;
  Result<std::vector<JournalEntry>> entries =
      journal_->Read(batch->first_sequence, std::min(room, wire::kMaxJournalBatchDataBytes));
  if (!entries.ok()) {
    PAIRFS_LOG_REFUSAL(wire::RefusalLog(), "async: read failed",
                       "group {}: cannot read entry {} of the master journal: {}", group_,
                       batch->first_sequence, entries.status().message());
    return false;
  }
  if (entries->size() > wire::kMaxJournalBatchEntries)
    entries->resize(wire::kMaxJournalBatchEntries);
  for (JournalEntry& entry : entries.value()) {
    *bytes += entry.data.size();
    batch->entries.push_back(ToMessage(std::move(entry)));
  }
  return true;
}

bool AsyncGroup::ShipOnce() {
  wire::JournalBatchMessage batch;
  batch.group = group_;
  size_t bytes = 0;
  {
    // One lane at a time picks the next entries, so every batch of the window is new.
    std::lock_guard<std::mutex> dispatch(dispatch_mutex_);
    if (PaceSmallBatch()) return false;
    bool probe = false;
    size_t room = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // Until an ack says what the peer holds, only ask (a probe carries no entries), one at a
      // time, once the window is empty.
      probe = !peer_known_;
      if (in_flight_batches_ >= kAsyncBatchesInFlight || in_flight_bytes_ >= kAsyncWindowBytes ||
          (probe && in_flight_batches_ > 0))
        return false;
      batch.first_sequence = next_send_;
      room = kAsyncWindowBytes - in_flight_bytes_;
    }
    if (!probe && batch.first_sequence <= journal_->last_sequence() &&
        !ReadBatch(room, &batch, &bytes))
      return false;
    std::lock_guard<std::mutex> lock(mutex_);
    if (!probe && batch.entries.empty()) {
      // Nothing new: ask only while the peer still has entries to apply (its applied sequence
      // is what frees space here) and no batch is on its way (its ack will say).
      if (peer_applied_ >= journal_->last_sequence() || in_flight_batches_ > 0) return false;
    }
    if (!probe && batch.first_sequence != next_send_) return true;  // an ack moved it: again
    next_send_ = batch.first_sequence + batch.entries.size();
    if (!batch.entries.empty()) {
      last_ship_ms_ = NowMs();
      last_ship_bytes_ = bytes + batch.entries.size();  // a batch of discards counts too
    }
    ++in_flight_batches_;
    in_flight_bytes_ += bytes;
  }
  Result<wire::JournalAckMessage> ack = hooks_.send(batch);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    --in_flight_batches_;
    in_flight_bytes_ -= bytes;
    ++counters_.batches_sent;
    if (!ack.ok()) {
      if (peer_known_) {
        spdlog::warn("group {}: the journal transfer stopped: {}", group_, ack.status().message());
      }
      // What the peer holds is unknown again: the next probe's ack says where to go on.
      peer_known_ = false;
    }
  }
  if (!ack.ok()) return false;
  if (ack->code != 0) {
    PAIRFS_LOG_REFUSAL(wire::RefusalLog(), "async: batch refused",
                       "group {}: the peer refused entries from {}: {}", group_,
                       batch.first_sequence, ack->message);
  }
  OnAck(ack.value(), batch.first_sequence, batch.entries.size());
  wake_.notify_all();  // room in the window, maybe the peer known again: the other lanes ship
  return !batch.entries.empty() && ack->code == 0;
}

bool AsyncGroup::PaceSmallBatch() {
  // A trickle of small batches (small writes, a short round trip) is sent at most every
  // pace_ms: each batch costs the peer an fdatasync of its restore journal, and on a disk both
  // sites share (this machine's tests and benches, a shared array) one per write halved the
  // writers' fsyncs. A batch of kAsyncSmallPassBytes or more goes at once.
  std::unique_lock<std::mutex> lock(mutex_);
  if (hooks_.pace_ms <= 0 || !peer_known_ || last_ship_bytes_ >= kAsyncSmallPassBytes)
    return stopping_;
  WaitUntilMs(paused_, lock, last_ship_ms_ + hooks_.pace_ms, [&] { return stopping_; });
  return stopping_;
}

void AsyncGroup::OnAck(const wire::JournalAckMessage& ack, uint64_t first, size_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!peer_known_) {
    spdlog::info("group {}: the peer holds entries through {}, applied through {}", group_,
                 ack.durable_sequence, ack.applied_sequence);
  }
  // A batch (or a question) is confirmed when the peer took it and holds durably everything
  // before its end. Otherwise (a probe, a refusal: a gap, a full restore journal; an ack of an
  // older batch delivered again), what the peer holds durably decides what is sent next, also
  // when it is less than what was sent before (it restarted and lost nothing durable, or refused
  // a batch, or a batch of the window was lost): the window is sent again from there; what the
  // peer already holds it acknowledges again.
  const bool confirmed = peer_known_ && ack.code == 0 && ack.durable_sequence + 1 >= first + count;
  const uint64_t resume = std::max<uint64_t>(ack.durable_sequence + 1, journal_->first_sequence());
  next_send_ = confirmed ? std::max(next_send_, resume) : resume;
  peer_known_ = true;
  if (ack.capacity_bytes != 0) peer_capacity_ = ack.capacity_bytes;  // async resync's batches
  peer_durable_ = std::min(ack.durable_sequence, journal_->last_sequence());
  peer_applied_ = std::min(ack.applied_sequence, peer_durable_);
  while (!not_applied_.empty() && not_applied_.front().sequence <= peer_applied_) {
    not_applied_bytes_ -= not_applied_.front().bytes;
    not_applied_.pop_front();
  }
}

Status AsyncGroup::CheckpointAndFree() {
  uint64_t through = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    through =
        in_image_pending_.empty() ? journal_->last_sequence() : *in_image_pending_.begin() - 1;
    last_checkpoint_ms_ = NowMs();
  }
  if (through > checkpoint_sequence_) {
    // Write-ahead: the journal holds every write the flush makes durable in the images, or a
    // power loss could leave an image write that no journal entry carries (never shipped, its
    // sequence reused by the next write: the copies would differ silently).
    Status logged = journal_->WaitDurable(through);
    if (!logged.ok()) return logged;
    for (const std::shared_ptr<Volume>& volume : hooks_.volumes()) {
      Status flushed = volume->Flush();
      if (!flushed.ok()) return flushed;
    }
  }
  uint64_t free_through = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    checkpoint_sequence_ = std::max(checkpoint_sequence_, through);
    ++counters_.checkpoints;
    free_through = std::min({checkpoint_sequence_, peer_applied_, journal_->durable_sequence()});
  }
  if (free_through >= journal_->first_sequence()) return journal_->FreeThrough(free_through);
  return Status::Ok();
}

}  // namespace pairfs::node
