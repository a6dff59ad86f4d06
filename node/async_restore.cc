// The restore thread of an async secondary (AsyncGroup::RunRestore): entries of the restore
// journal applied to the group's volumes strictly in sequence order, through the last applicable
// one (Journal::ApplicableThrough: durable, no open batch before it); then the volumes flushed,
// the applied sequence made durable and the space freed. A crash between the writes and
// MarkApplied applies those entries again after the restart, in the same order: the same result.
// Also the master's replay after a restart (ApplyEntries), before anything is served.
#include <algorithm>
#include <map>

#include <spdlog/spdlog.h>

#include "node/async_group.h"
#include "node/limits.h"
#include "wire/log_limit.h"

namespace pairfs::node {

void AsyncGroup::RunRestore() {
  for (;;) {
    const size_t applied = ApplyOnce();
    if (applied == 0) {
      if (WaitForWork(kAsyncIdleWaitMs)) return;
      continue;
    }
    // A small pass (a trickle of small batches) is followed by a pause, so that the next pass
    // takes what arrived meanwhile: each pass costs the volumes' fdatasync and a header write,
    // which on a disk shared with the primary cost its writers their fsyncs' speed.
    std::unique_lock<std::mutex> lock(mutex_);
    if (applied < kAsyncSmallPassBytes && hooks_.pace_ms > 0)
      WaitFor(paused_, lock, hooks_.pace_ms, [&] { return stopping_; });
    if (stopping_) return;
  }
}

size_t AsyncGroup::ApplyOnce() {
  const uint64_t applied = journal_->applied_sequence();
  const uint64_t through = journal_->ApplicableThrough();
  if (through <= applied) return 0;
  Result<std::vector<JournalEntry>> entries = journal_->Read(applied + 1, kAsyncRestoreReadBytes);
  if (!entries.ok() || entries->empty()) {
    if (!entries.ok()) {
      PAIRFS_LOG_REFUSAL(wire::RefusalLog(), "async: restore read failed",
                         "group {}: cannot read entry {} of the restore journal: {}", group_,
                         applied + 1, entries.status().message());
    }
    return 0;
  }
  const uint64_t last = std::min(entries->back().sequence, through);
  Status written = ApplyEntries(entries.value(), last);
  if (!written.ok()) {
    PAIRFS_LOG_REFUSAL(wire::RefusalLog(), "async: apply failed",
                       "group {}: cannot apply entries from {}: {}", group_, applied + 1,
                       written.message());
    return 0;
  }
  Status marked = journal_->MarkApplied(last, /*free=*/true);  // the volumes are synced
  if (!marked.ok()) {
    PAIRFS_LOG_REFUSAL(wire::RefusalLog(), "async: mark applied failed",
                       "group {}: cannot record entries through {} as applied: {}", group_, last,
                       marked.message());
    return 0;
  }
  size_t bytes = 0;
  for (const JournalEntry& entry : entries.value())
    if (entry.sequence <= last) bytes += std::max<size_t>(entry.data.size(), 1);
  return bytes;
}

Status AsyncGroup::ApplyData(Volume& volume, uint64_t offset, std::string_view data) {
  // A large entry (a sequential stream) goes past the page cache: its pages would only be
  // written back by the pass's flush, and allocating them was most of the restore thread's CPU
  // (perf: the copy into new page cache pages). O_DIRECT takes whole 4 KiB blocks, so the
  // block-aligned middle goes direct and the ends buffered (a 1 MiB write from an unaligned
  // buffer reaches the mount as 1 MiB - 16 bytes and 16 bytes: FUSE's 256-page limit).
  const uint64_t end = offset + data.size();
  const uint64_t middle_begin =
      (offset + kVolumeAlignBytes - 1) / kVolumeAlignBytes * kVolumeAlignBytes;
  const uint64_t middle_end = end / kVolumeAlignBytes * kVolumeAlignBytes;
  if (middle_end <= middle_begin || middle_end - middle_begin < kAsyncDirectApplyBytes)
    return volume.WriteRaw(wire::WriteKind::kData, offset, data.data(), data.size(), false);
  struct Piece {
    uint64_t begin, end;
    bool direct;
  };
  for (const Piece& piece :
       {Piece{offset, middle_begin, false}, Piece{middle_begin, middle_end, true},
        Piece{middle_end, end, false}}) {
    if (piece.end == piece.begin) continue;
    Status written =
        volume.WriteRaw(wire::WriteKind::kData, piece.begin, data.data() + (piece.begin - offset),
                        piece.end - piece.begin, piece.direct);
    if (!written.ok()) return written;
  }
  return Status::Ok();
}

Status AsyncGroup::ApplyEntries(const std::vector<JournalEntry>& entries, uint64_t through,
                                bool skip_missing) {
  std::map<std::string, std::shared_ptr<Volume>> touched;
  uint64_t count = 0;
  for (const JournalEntry& entry : entries) {
    if (entry.sequence > through) break;
    auto it = touched.find(entry.volume);
    if (it == touched.end()) {
      std::shared_ptr<Volume> volume = hooks_.volume_of(entry.volume);
      if (!volume && skip_missing) {
        spdlog::warn("group {}: entry {} names volume {}, which no longer exists: not replayed",
                     group_, entry.sequence, entry.volume);
        continue;
      }
      // Never skipped at the secondary: its volumes must stay a prefix of the group's writes.
      if (!volume) {
        return Status::NotFound("entry " + std::to_string(entry.sequence) + " names volume " +
                                entry.volume + ", which is in no pair of group " + group_ +
                                " here");
      }
      it = touched.emplace(entry.volume, std::move(volume)).first;
    }
    Volume& volume = *it->second;
    if (entry.offset >= volume.size_bytes() || entry.length > volume.size_bytes() - entry.offset) {
      return Status::InvalidArgument("entry " + std::to_string(entry.sequence) +
                                     " is beyond the end of volume " + volume.name());
    }
    Status written = entry.kind == wire::WriteKind::kData
                         ? ApplyData(volume, entry.offset, entry.data)
                         : volume.WriteRaw(entry.kind, entry.offset, nullptr, entry.length, false);
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
