// The master's transfer thread (AsyncGroup::RunTransfer): durable journal entries shipped to the
// peer's restore journal in batches, one batch in flight; the ack moves the next sequence to send
// to what the peer holds durably (so a lost batch, a restart of either side or a refusal resumes
// right there), and says what it applied. A checkpoint (fdatasync of the images) at most every
// kAsyncCheckpointIntervalMs lets the journal free what the peer applied and the images hold.
// While the link is down nothing is sent; the writers go on into the journal.
#include <algorithm>

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

void AsyncGroup::RunTransfer() {
  for (;;) {
    const bool shipped = ShipOnce();
    const int64_t now = NowMs();
    bool checkpoint_due = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      checkpoint_due =
          now - last_checkpoint_ms_ >= kAsyncCheckpointIntervalMs || journal_->AboveHighWater(50);
    }
    if (checkpoint_due) {
      Status freed = CheckpointAndFree();
      if (!freed.ok()) {
        PAIRFS_LOG_REFUSAL(wire::RefusalLog(), "async: checkpoint failed",
                           "group {}: checkpoint or free failed: {}", group_, freed.message());
      }
    }
    if (shipped) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      continue;
    }
    bool known = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      known = peer_known_;
    }
    if (WaitForWork(known ? kAsyncIdleWaitMs : kAsyncRetryMs)) return;
  }
}

bool AsyncGroup::ShipOnce() {
  wire::JournalBatchMessage batch;
  batch.group = group_;
  bool probe = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    batch.first_sequence = next_send_;
    // Until an ack says what the peer holds, and while it has not applied what it holds, only
    // ask (a probe carries no entries).
    probe = !peer_known_;
  }
  if (!probe) {
    if (batch.first_sequence <= journal_->last_sequence()) {
      Status synced = journal_->Sync();  // only durable entries are read and shipped
      if (!synced.ok()) return false;
      Result<std::vector<JournalEntry>> entries =
          journal_->Read(batch.first_sequence, wire::kMaxJournalBatchDataBytes);
      if (!entries.ok()) {
        PAIRFS_LOG_REFUSAL(wire::RefusalLog(), "async: read failed",
                           "group {}: cannot read entry {} of the master journal: {}", group_,
                           batch.first_sequence, entries.status().message());
        return false;
      }
      if (entries->size() > wire::kMaxJournalBatchEntries)
        entries->resize(wire::kMaxJournalBatchEntries);
      for (JournalEntry& entry : entries.value())
        batch.entries.push_back(ToMessage(std::move(entry)));
    }
    if (batch.entries.empty()) {
      std::lock_guard<std::mutex> lock(mutex_);
      // Nothing new: ask only while the peer still has entries to apply (its applied sequence
      // is what frees space here).
      if (peer_applied_ >= journal_->last_sequence()) return false;
    }
  }
  Result<wire::JournalAckMessage> ack = hooks_.send(batch);
  if (!ack.ok()) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (peer_known_) {
      spdlog::warn("group {}: the journal transfer stopped: {}", group_, ack.status().message());
    }
    peer_known_ = false;
    return false;
  }
  if (ack->code != 0) {
    PAIRFS_LOG_REFUSAL(wire::RefusalLog(), "async: batch refused",
                       "group {}: the peer refused entries from {}: {}", group_,
                       batch.first_sequence, ack->message);
  }
  OnAck(ack.value());
  std::lock_guard<std::mutex> lock(mutex_);
  ++counters_.batches_sent;
  return !batch.entries.empty() && ack->code == 0;
}

void AsyncGroup::OnAck(const wire::JournalAckMessage& ack) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!peer_known_) {
    spdlog::info("group {}: the peer holds entries through {}, applied through {}", group_,
                 ack.durable_sequence, ack.applied_sequence);
  }
  peer_known_ = true;
  if (ack.capacity_bytes != 0) peer_capacity_ = ack.capacity_bytes;  // async resync's batches
  // What the peer holds durably decides what is sent next, also when it is less than what was
  // sent before (it restarted and lost nothing durable, or refused a batch).
  next_send_ = std::max<uint64_t>(ack.durable_sequence + 1, journal_->first_sequence());
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
