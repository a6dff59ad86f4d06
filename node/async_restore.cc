// The restore thread of an async secondary (AsyncGroup::RunRestore): entries of the restore
// journal applied to the group's volumes strictly in sequence order, through the last applicable
// one (Journal::ApplicableThrough: durable, no open batch before it); then, at most every
// kAsyncRestoreCheckpointMs (a checkpoint), the volumes flushed, the applied sequence made durable
// and the space freed in one header write. A crash between the writes and the checkpoint applies
// those entries again after the restart, in the same order: the same result.
// Also the master's replay after a restart (ApplyEntries), before anything is served.
#include <algorithm>
#include <map>

#include <spdlog/spdlog.h>

#include "node/async_group.h"
#include "node/limits.h"
#include "wire/log_limit.h"

namespace pairfs::node {

void AsyncGroup::RunRestore() {
  restore_written_ = std::max(restore_written_, journal_->applied_sequence());
  restore_markable_ = std::max(restore_markable_, journal_->applied_sequence());
  last_restore_checkpoint_ms_ = NowMs();
  for (;;) {
    const bool applied = ApplyOnce();
    // asyncspeed: the images are synced and the applied sequence made durable (a checkpoint) at
    // most every kAsyncRestoreCheckpointMs while entries keep coming, at once when the journal
    // is over half full, and when nothing more came for the rest of the interval.
    const bool pending = restore_markable_ > journal_->applied_sequence();
    const int64_t elapsed = NowMs() - last_restore_checkpoint_ms_;
    if (pending && (elapsed >= kAsyncRestoreCheckpointMs || journal_->AboveHighWater(50)))
      RestoreCheckpoint();
    if (applied) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!stopping_) continue;
    } else {
      const int wait = pending ? static_cast<int>(std::clamp<int64_t>(
                                     kAsyncRestoreCheckpointMs - elapsed, 1, kAsyncIdleWaitMs))
                               : kAsyncIdleWaitMs;
      if (!WaitForWork(wait)) continue;
    }
    // Stopping: what is written is made durable now (a crash would apply it again anyway).
    if (restore_markable_ > journal_->applied_sequence()) RestoreCheckpoint();
    return;
  }
}

bool AsyncGroup::ApplyOnce() {
  const uint64_t applied = std::max(restore_written_, journal_->applied_sequence());
  const uint64_t through = journal_->ApplicableThrough();
  if (through <= applied) return false;
  // Written, not flushed: RestoreCheckpoint syncs the volumes touched before it marks them
  // applied. A crash before that applies these entries again after the restart, in the same
  // order (they are durable in this journal): the same result. asyncspeed: each entry written
  // from the journal's read (Visit), not from a copy.
  uint64_t written = applied;
  uint64_t markable = restore_markable_;
  bool in_batch = restore_in_batch_;
  uint64_t count = 0;
  Status visited = journal_->Visit(
      applied + 1, kAsyncRestoreReadBytes, [&](JournalEntry&& entry, std::string_view data) {
        if (entry.sequence > through) return Status::Ok();
        Status done = ApplyEntry(entry, data, false, restore_touched_);
        if (!done.ok()) return done;
        written = entry.sequence;
        if ((entry.flags & kJournalBatchBegin) != 0) in_batch = true;
        if ((entry.flags & kJournalBatchEnd) != 0) in_batch = false;
        if (!in_batch) markable = entry.sequence;
        ++count;
        return Status::Ok();
      });
  if (!visited.ok()) {
    // Nothing of the pass counts (as before asyncspeed): the next pass writes it all again.
    PAIRFS_LOG_REFUSAL(wire::RefusalLog(), "async: apply failed",
                       "group {}: cannot apply entries from {}: {}", group_, applied + 1,
                       visited.message());
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    counters_.entries_applied += count;
  }
  restore_written_ = written;
  restore_markable_ = markable;
  restore_in_batch_ = in_batch;
  return written > applied;
}

void AsyncGroup::RestoreCheckpoint() {
  last_restore_checkpoint_ms_ = NowMs();
  Status marked = Status::Ok();
  for (auto& [name, volume] : restore_touched_) {
    marked = volume->Flush();
    if (!marked.ok()) break;
  }
  if (marked.ok()) {
    restore_touched_.clear();
    marked = journal_->MarkApplied(restore_markable_, true);  // and freed: one header write
  }
  if (!marked.ok()) {
    PAIRFS_LOG_REFUSAL(wire::RefusalLog(), "async: mark applied failed",
                       "group {}: cannot record entries through {} as applied: {}", group_,
                       restore_markable_, marked.message());
  }
}

Status AsyncGroup::ApplyEntry(const JournalEntry& entry, std::string_view data,
                              bool skip_missing, VolumesByName& touched) {
  auto it = touched.find(entry.volume);
  if (it == touched.end()) {
    std::shared_ptr<Volume> volume = hooks_.volume_of(entry.volume);
    if (!volume && skip_missing) {
      spdlog::warn("group {}: entry {} names volume {}, which no longer exists: not replayed",
                   group_, entry.sequence, entry.volume);
      return Status::Ok();
    }
    // Never skipped at the secondary: its volumes must stay a prefix of the group's writes.
    if (!volume) {
      return Status::NotFound("entry " + std::to_string(entry.sequence) + " names volume " +
                              entry.volume + ", which is in no pair of group " + group_ + " here");
    }
    it = touched.emplace(entry.volume, std::move(volume)).first;
  }
  Volume& volume = *it->second;
  if (entry.offset >= volume.size_bytes() || entry.length > volume.size_bytes() - entry.offset) {
    return Status::InvalidArgument("entry " + std::to_string(entry.sequence) +
                                   " is beyond the end of volume " + volume.name());
  }
  return volume.WriteRaw(entry.kind, entry.offset,
                         entry.kind == wire::WriteKind::kData ? data.data() : nullptr, entry.length,
                         false);
}

Status AsyncGroup::ApplyEntries(const std::vector<JournalEntry>& entries, uint64_t through,
                                bool skip_missing) {
  VolumesByName touched;
  uint64_t count = 0;
  for (const JournalEntry& entry : entries) {
    if (entry.sequence > through) break;
    Status written = ApplyEntry(entry, entry.data, skip_missing, touched);
    if (!written.ok()) return written;
    ++count;
  }
  for (auto& [name, volume] : touched) {
    Status flushed = volume->Flush();
    if (!flushed.ok()) return flushed;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  counters_.entries_applied += count;
  return Status::Ok();
}

}  // namespace pairfs::node
