// The journal's durable pointers (node/journal.h): the header slot writes that free entries,
// record what is applied, change the role and reset the journal. node/FORMAT.md, "Journal file",
// says what must be durable before what.
#include <algorithm>

#include "node/journal.h"
#include "node/recent_entries.h"

namespace pairfs::node {

Status Journal::PersistHeader(JournalHeader next, uint64_t written_through) {
  uint64_t slot;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    next.slot_counter = header_.slot_counter + 1;
    slot = (slot_ + 1) % kJournalSlotCount;
  }
  const std::string bytes = EncodeJournalHeader(next);
  Status status = file_->WriteAt(slot * kJournalSlotBytes, bytes.data(), bytes.size(), false);
  if (status.ok()) status = file_->Sync();
  std::lock_guard<std::mutex> lock(mutex_);
  ++counters_.header_writes;
  if (!status.ok()) return FailLocked(status);
  header_ = next;
  slot_ = slot;
  AdvanceDurableLocked(written_through);
  DropFreedLocked();
  changed_.notify_all();
  return Status::Ok();
}

void Journal::DropFreedLocked() {
  while (!index_.empty() && index_first_ < header_.head_sequence) {
    index_.pop_front();
    ++index_first_;
  }
  if (index_.empty()) index_first_ = std::max(index_first_, header_.head_sequence);
}

Status Journal::FreeThrough(uint64_t sequence) {
  std::lock_guard<std::mutex> header_lock(header_mutex_);
  JournalHeader next;
  uint64_t written_through;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!failed_.ok()) return failed_;
    if (sequence < header_.head_sequence) return Status::Ok();
    const uint64_t limit = header_.role == JournalRole::kRestore
                               ? std::min(header_.applied_sequence, durable_sequence_)
                               : durable_sequence_;
    if (sequence > limit)
      return Status::InvalidArgument(
          "cannot free entry " + std::to_string(sequence) + " of group " + group_ + ": only " +
          std::to_string(limit) +
          (header_.role == JournalRole::kRestore ? " is applied" : " is durable"));
    next = header_;
    if (!MoveHeadLocked(sequence, &next)) return Status::Ok();
    next.durable_tail_sequence = durable_sequence_;
    written_through = written_through_;
  }
  return PersistHeader(next, written_through);
}

bool Journal::MoveHeadLocked(uint64_t sequence, JournalHeader* next) const {
  // The head stays at a batch boundary: recovery reads from the head and refuses a batch's
  // end without its begin, so a head inside a batch would lose every entry after that end.
  // A pass that stopped inside a batch (a read's size limit) frees through the batch before.
  sequence = BatchBoundaryAtOrBeforeLocked(sequence);
  if (sequence < header_.head_sequence) return false;
  next->head_sequence = sequence + 1;
  // The new head's epoch, or this one's for an entry still to come: an older entry of the
  // same sequence left there by a crash is then never taken for it.
  const bool held = sequence + 1 < next_sequence_;
  next->head_offset = held ? index_[sequence + 1 - index_first_].offset : tail_offset_;
  next->floor_epoch = held ? index_[sequence + 1 - index_first_].epoch : header_.epoch;
  return true;
}

uint64_t Journal::BatchBoundaryAtOrBeforeLocked(uint64_t sequence) const {
  uint64_t boundary = header_.head_sequence - 1;  // the head is at a boundary
  bool open = false;
  for (uint64_t s = header_.head_sequence; s <= sequence; ++s) {
    const bool indexed = s >= index_first_ && s - index_first_ < index_.size();
    const uint16_t flags = indexed ? index_[s - index_first_].flags : 0;
    if ((flags & kJournalBatchBegin) != 0) open = true;
    if ((flags & kJournalBatchEnd) != 0) open = false;
    if (!open) boundary = s;
  }
  return boundary;
}

uint64_t Journal::ApplicableThroughLocked() const {
  uint64_t through = std::min(durable_sequence_, next_sequence_ - 1);
  if (!batches_.empty() && batches_.front().begin <= through) through = batches_.front().begin - 1;
  return through;
}

uint64_t Journal::ApplicableThrough() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return ApplicableThroughLocked();
}

Status Journal::MarkApplied(uint64_t sequence, bool free) {
  std::lock_guard<std::mutex> header_lock(header_mutex_);
  JournalHeader next;
  uint64_t written_through;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!failed_.ok()) return failed_;
    if (header_.role != JournalRole::kRestore)
      return Status::InvalidArgument("the journal of group " + group_ +
                                     " is a master journal: nothing is applied from it");
    if (sequence <= header_.applied_sequence) return Status::Ok();
    if (sequence > ApplicableThroughLocked())
      return Status::InvalidArgument("entry " + std::to_string(sequence) + " of group " + group_ +
                                     " is not applicable yet (through " +
                                     std::to_string(ApplicableThroughLocked()) + ")");
    next = header_;
    next.applied_sequence = sequence;
    if (free) (void)MoveHeadLocked(sequence, &next);  // one header write for both
    next.durable_tail_sequence = durable_sequence_;
    written_through = written_through_;
  }
  return PersistHeader(next, written_through);
}

Status Journal::SetRole(JournalRole role) {
  Status synced = Sync();
  if (!synced.ok()) return synced;
  std::lock_guard<std::mutex> header_lock(header_mutex_);
  JournalHeader next;
  uint64_t written_through;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!failed_.ok()) return failed_;
    next = header_;
    next.role = role;
    next.durable_tail_sequence = durable_sequence_;
    written_through = written_through_;
  }
  return PersistHeader(next, written_through);
}

Status Journal::Reset(uint64_t next_sequence) { return ResetAs(next_sequence, role()); }

Status Journal::ResetAs(uint64_t next_sequence, JournalRole role) {
  if (next_sequence == 0 || next_sequence == UINT64_MAX)
    return Status::InvalidArgument("a journal's sequences start at 1");
  std::lock_guard<std::mutex> header_lock(header_mutex_);
  JournalHeader next;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!failed_.ok()) return failed_;
    if (written_through_ + 1 != next_sequence_)
      return Status::Busy("entries of group " + group_ + " are being appended");
    resetting_ = true;
    next = header_;
    next.epoch = header_.epoch + 1;
    next.floor_epoch = next.epoch;
    next.head_sequence = next_sequence;
    next.head_offset = tail_offset_;
    next.applied_sequence = next_sequence - 1;
    next.durable_tail_sequence = next_sequence - 1;
    next.role = role;
  }
  Status persisted = PersistHeader(next, 0);
  std::lock_guard<std::mutex> lock(mutex_);
  resetting_ = false;
  if (!persisted.ok()) return persisted;
  index_.clear();
  batches_.clear();
  index_first_ = next_sequence_ = next_sequence;
  written_through_ = durable_sequence_ = sync_target_ = next_sequence - 1;
  ++resets_;
  recent_->Clear();
  return Status::Ok();
}

}  // namespace pairfs::node
