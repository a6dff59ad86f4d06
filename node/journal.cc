// The journal at run time: appends, group commit and the durable pointers. Reading entries back
// is journal_read.cc; opening and recovery are journal_recovery.cc.
#include "node/journal.h"

#include <algorithm>
#include <cstring>
#include <span>
#include <utility>

#include "node/limits.h"
#include "node/names.h"
#include "node/recent_entries.h"

namespace pairfs::node {
namespace {

constexpr uint16_t kBatchFlags = kJournalBatchBegin | kJournalBatchEnd;

}  // namespace

Status CheckJournalWrite(const JournalWrite& write) {
  Status name = CheckVolumeName(write.volume);
  if (!name.ok()) return name;
  if ((write.flags & ~kBatchFlags) != 0) return Status::InvalidArgument("unknown journal flags");
  if (write.kind == wire::WriteKind::kData) {
    if (write.length != write.data.size())
      return Status::InvalidArgument("journal write length differs from its data");
    if (write.data.size() > kMaxJournalEntryDataBytes)
      return Status::InvalidArgument("journal write longer than " +
                                     std::to_string(kMaxJournalEntryDataBytes) + " bytes");
  } else if (write.kind == wire::WriteKind::kPunchHole ||
             write.kind == wire::WriteKind::kZeroRange) {
    if (!write.data.empty()) return Status::InvalidArgument("a journaled discard carries data");
  } else {
    return Status::InvalidArgument("unknown write kind");
  }
  if (write.length > kMaxVolumeBytes || write.offset > kMaxVolumeBytes - write.length)
    return Status::InvalidArgument("journal write beyond any volume");
  return Status::Ok();
}

JournalWrite JournalEntry::AsWrite() const {
  return JournalWrite{volume, kind, offset, length, data, flags};
}

Journal::Journal(std::shared_ptr<BlockFile> file, const JournalHeader& header, uint64_t slot)
    : file_(std::move(file)),
      group_(header.group),
      size_bytes_(header.size_bytes),
      journal_id_(header.journal_id),
      entry_align_(JournalEntryAlign(header.version)),
      header_(header),
      slot_(slot),
      recent_(std::make_unique<RecentEntries>(kJournalRecentBytes, kJournalRecentEntryBytes)) {}

Journal::~Journal() = default;

// ---- appends ----------------------------------------------------------------------------------

Result<uint64_t> Journal::Append(const JournalWrite& write) {
  Result<Placement> placement = ReserveAppend(write);
  if (!placement.ok()) return placement.status();
  Status written = WriteAppended(placement.value(), write);
  if (!written.ok()) return written;
  return placement->sequence;
}

Result<Journal::Placement> Journal::ReserveAppend(const JournalWrite& write) {
  Status valid = CheckJournalWrite(write);
  if (!valid.ok()) return valid;
  const uint64_t checksum = JournalDataChecksum(write.data);
  std::lock_guard<std::mutex> lock(mutex_);
  if (header_.role != JournalRole::kMaster)
    return Status::InvalidArgument("the journal of group " + group_ +
                                   " is a restore journal: its entries come from the master");
  return ReserveLocked(next_sequence_, write, checksum);
}

Result<Journal::Placement> Journal::PlaceLocked(uint64_t ring_bytes) const {
  const uint64_t start = kJournalDataStart;
  const uint64_t end = size_bytes_;
  const uint64_t head = header_.head_offset;
  const uint64_t tail = tail_offset_;
  Placement placement;
  if (ring_bytes > end - start) {
    return Status::NoSpace("an entry of " + std::to_string(ring_bytes) +
                           " bytes is larger than the journal of group " + group_);
  }
  const bool full = !index_.empty() && tail == head;
  if (!full && tail >= head) {  // free: [tail, end) and [start, head)
    if (tail + ring_bytes <= end) {
      placement.offset = tail;
      return placement;
    }
    if (start + ring_bytes <= head) {
      placement.offset = start;
      placement.marker_offset = tail;  // a normalized tail always has room for a marker
      return placement;
    }
  } else if (!full && tail + ring_bytes <= head) {  // free: [tail, head)
    placement.offset = tail;
    return placement;
  }
  return Status::NoSpace("the journal of group " + group_ + " is full (" +
                         std::to_string(UsedBytesLocked()) + " of " + std::to_string(end - start) +
                         " bytes used)");
}

Result<Journal::Placement> Journal::ReserveLocked(uint64_t sequence, const JournalWrite& write,
                                                  uint64_t checksum) {
  if (!failed_.ok()) return failed_;
  if (resetting_) return Status::Busy("the journal of group " + group_ + " is being reset");
  const bool open = !batches_.empty() && batches_.back().end == 0;
  if ((write.flags & kJournalBatchBegin) != 0 && open)
    return Status::InvalidArgument("a batch begins inside the open batch of group " + group_);
  if ((write.flags & kBatchFlags) == kJournalBatchEnd && !open)
    return Status::InvalidArgument("a batch of group " + group_ + " ends that never began");
  const uint64_t data_bytes = write.kind == wire::WriteKind::kData ? write.data.size() : 0;
  const uint64_t ring_bytes = JournalEntryBytes(data_bytes, entry_align_);
  Result<Placement> placed = PlaceLocked(ring_bytes);
  if (!placed.ok()) return placed;
  Placement placement = placed.value();
  placement.sequence = sequence;
  placement.epoch = header_.epoch;
  placement.checksum = checksum;

  if ((write.flags & kJournalBatchBegin) != 0) batches_.push_back(BatchRange{sequence, 0});
  if ((write.flags & kJournalBatchEnd) != 0) batches_.back().end = sequence;
  if (index_.empty()) index_first_ = sequence;
  index_.push_back(IndexEntry{placement.offset, checksum, header_.epoch,
                              static_cast<uint32_t>(data_bytes), write.flags, false});
  next_sequence_ = sequence + 1;
  const uint64_t tail_before = tail_offset_;
  tail_offset_ = placement.offset + ring_bytes;
  if (size_bytes_ - tail_offset_ < kJournalEntryHeaderBytes) tail_offset_ = kJournalDataStart;
  if (tail_offset_ < tail_before) first_lap_done_ = true;  // wrapped (FillAhead)
  ++counters_.appended;
  return placement;
}

JournalEntry Journal::EntryOf(const Placement& placement, const JournalWrite& write) {
  JournalEntry entry;
  entry.sequence = placement.sequence;
  entry.volume = std::string(write.volume);
  entry.kind = write.kind;
  entry.offset = write.offset;
  entry.length = write.length;
  entry.flags = write.flags;
  entry.data_checksum = placement.checksum;
  entry.data = std::string(write.data);
  return entry;
}

JournalEntryHeader Journal::EntryHeader(const Placement& placement,
                                        const JournalWrite& write) const {
  JournalEntryHeader header;
  header.kind = write.kind;
  header.sequence = placement.sequence;
  header.journal_id = journal_id_;
  header.epoch = placement.epoch;
  header.flags = write.flags;
  header.volume_offset = write.offset;
  header.length = write.length;
  header.data_checksum = placement.checksum;
  header.volume = write.volume;
  return header;
}

Status Journal::WriteAppended(const Placement& placement, const JournalWrite& write) {
  const JournalEntryHeader header = EntryHeader(placement, write);
  Status status = WriteMarker(placement, write.kind);
  if (status.ok()) status = WriteRun(placement.offset, {&header, 1}, {&write.data, 1});
  // The copy for recent_ is made here, outside mutex_ (which the other appenders wait for), and
  // only for an entry it holds (a long one would be copied for nothing).
  if (!status.ok() || !recent_->Holds(write.data.size()))
    return RecordWritten({&placement, 1}, status);
  JournalEntry recent = EntryOf(placement, write);
  return RecordWritten({&placement, 1}, status, {&recent, 1});
}

Status Journal::WriteMarker(const Placement& placement, wire::WriteKind kind) {
  if (placement.marker_offset == 0) return Status::Ok();
  JournalEntryHeader marker;
  marker.kind = kind;
  marker.sequence = placement.sequence;
  marker.journal_id = journal_id_;
  marker.epoch = placement.epoch;
  marker.flags = kJournalWrapMarker;
  const std::string_view none;
  return WriteRun(placement.marker_offset, {&marker, 1}, {&none, 1});
}

Status Journal::RecordWritten(std::span<const Placement> placements, const Status& written,
                              std::span<JournalEntry> recent) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!written.ok()) return FailLocked(written);
  // The entries cannot have been freed or reset away: neither passes an unwritten entry.
  for (const Placement& placement : placements)
    index_[placement.sequence - index_first_].written = true;
  for (JournalEntry& entry : recent) recent_->Add(std::move(entry));
  while (written_through_ + 1 < next_sequence_ &&
         index_[written_through_ + 1 - index_first_].written)
    ++written_through_;
  changed_.notify_all();
  return Status::Ok();
}

Status Journal::WriteRun(uint64_t offset, std::span<const JournalEntryHeader> headers,
                         std::span<const std::string_view> data) {
  // Headers and data in one buffer, so that one pwrite puts the entries on disk; in a version 2
  // journal each entry padded with zeros up to the next aligned offset, and the buffer aligned
  // for O_DIRECT.
  size_t bytes = 0;
  for (const std::string_view& one : data) bytes += JournalEntryBytes(one.size(), entry_align_);
  thread_local std::string buffer;
  buffer.resize(bytes + kJournalEntryAlignBytes);
  const uint64_t misaligned = reinterpret_cast<uintptr_t>(buffer.data()) % kJournalEntryAlignBytes;
  const size_t at = misaligned == 0 ? 0 : kJournalEntryAlignBytes - misaligned;
  size_t entry_at = at;
  for (size_t i = 0; i < headers.size(); ++i) {
    char* start = buffer.data() + entry_at;
    EncodeJournalEntryHeader(headers[i], buffer, entry_at);
    if (!data[i].empty())
      std::memcpy(start + kJournalEntryHeaderBytes, data[i].data(), data[i].size());
    const size_t used = kJournalEntryHeaderBytes + data[i].size();
    const size_t entry_bytes = JournalEntryBytes(data[i].size(), entry_align_);
    std::memset(start + used, 0, entry_bytes - used);
    entry_at += entry_bytes;
  }
  if (entry_align_ == 1) return file_->WriteAt(offset, buffer.data() + at, bytes, false);
  return file_->WriteSectors(offset, buffer.data() + at, bytes);
}

// ---- durability -------------------------------------------------------------------------------

Status Journal::WaitDurable(uint64_t sequence) {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (durable_sequence_ >= sequence) return Status::Ok();
    if (!failed_.ok()) return failed_;
    if (sequence >= next_sequence_)
      return Status::InvalidArgument("sequence " + std::to_string(sequence) + " of group " +
                                     group_ + " was never appended");
    // Group commit: a caller whose entry a running sync covers waits for it; one whose entry
    // none covers starts a sync for every entry written so far, even while others run (the
    // kernel and the disk merge overlapping flushes: waiting for the running one first would
    // double the latency), up to kJournalSyncsInFlight.
    if (written_through_ < sequence || sync_target_ >= sequence ||
        syncs_in_flight_ >= kJournalSyncsInFlight) {
      changed_.wait(lock);
      continue;
    }
    ++syncs_in_flight_;
    const uint64_t target = written_through_;
    sync_target_ = target;
    const uint64_t resets = resets_;
    lock.unlock();
    Status synced = file_->Sync();
    lock.lock();
    --syncs_in_flight_;
    ++counters_.syncs;
    if (synced.ok()) {
      if (resets == resets_) AdvanceDurableLocked(target);
      changed_.notify_all();
    } else {
      (void)FailLocked(synced);
    }
  }
}

Status Journal::Sync() {
  uint64_t last;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    last = next_sequence_ - 1;
  }
  return WaitDurable(last);
}

void Journal::AdvanceDurableLocked(uint64_t sequence) {
  durable_sequence_ = std::max(durable_sequence_, sequence);
  while (!batches_.empty() && batches_.front().end != 0 &&
         batches_.front().end <= durable_sequence_)
    batches_.pop_front();
}

Status Journal::FailLocked(const Status& status) {
  if (failed_.ok()) failed_ = status;
  changed_.notify_all();
  return status;
}

// ---- accessors --------------------------------------------------------------------------------

uint64_t Journal::UsedBytesLocked() const {
  if (index_.empty()) return 0;
  const uint64_t head = header_.head_offset;
  if (tail_offset_ > head) return tail_offset_ - head;
  return (size_bytes_ - head) + (tail_offset_ - kJournalDataStart);
}

JournalRole Journal::role() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return header_.role;
}
uint64_t Journal::capacity_bytes() const { return size_bytes_ - kJournalDataStart; }
uint64_t Journal::used_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return UsedBytesLocked();
}
bool Journal::AboveHighWater(int percent) const {
  return used_bytes() * 100 > capacity_bytes() * static_cast<uint64_t>(std::max(percent, 0));
}
uint64_t Journal::first_sequence() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return header_.head_sequence;
}
uint64_t Journal::next_sequence() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return next_sequence_;
}
uint64_t Journal::durable_sequence() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return durable_sequence_;
}
uint64_t Journal::applied_sequence() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return header_.applied_sequence;
}
JournalCounters Journal::counters() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counters_;
}
Status Journal::health() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failed_;
}

// ---- the first lap's fill (asyncfix) -----------------------------------------------------------

uint64_t Journal::FillRemainingLocked() {
  // Wrapped before this open (entries at the end and the start), or full: no first lap left.
  if (tail_offset_ < header_.head_offset ||
      (!index_.empty() && tail_offset_ == header_.head_offset))
    first_lap_done_ = true;
  if (first_lap_done_) return 0;
  // [tail, end) is free here (head <= tail); CreateFile wrote the first kJournalPrefillBytes.
  // From the page after the tail's: the tail's page may hold the last entry, whose O_DIRECT write
  // may still be in flight (a buffered write into that page would read it back stale first).
  const uint64_t after_tail =
      (tail_offset_ + kJournalFillPageBytes - 1) / kJournalFillPageBytes * kJournalFillPageBytes;
  fill_offset_ = std::min(
      size_bytes_,
      std::max({fill_offset_, after_tail, std::min<uint64_t>(kJournalPrefillBytes, size_bytes_)}));
  return size_bytes_ - fill_offset_;
}

Result<uint64_t> Journal::FillAhead(uint64_t max_bytes, uint64_t lead_while_appending) {
  // Buffered under mutex_ (a copy into the page cache: an O_DIRECT write into unwritten extents
  // converts them on completion and may wait for the file system's journal commit, which held
  // appends back: async lag p99 33 -> 104 ms in make bench); in a version 2 journal the synced
  // pages are then dropped from the page cache, so that the zeros of a whole ring (1 GiB by
  // default) do not push the host's cached data out. Entries there are written with O_DIRECT
  // and have no cached pages to lose.
  uint64_t filled = 0;
  uint64_t first = 0;  // the range this call filled: [first, end)
  uint64_t end = 0;
  uint64_t remaining = 0;
  for (;;) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (resetting_ || !failed_.ok()) return uint64_t{0};
    remaining = FillRemainingLocked();
    if (remaining == 0 || filled >= max_bytes) break;
    if (filled == 0 && lead_while_appending > 0) {
      const bool appending = tail_offset_ != fill_seen_tail_;
      fill_seen_tail_ = tail_offset_;
      if (appending && fill_offset_ - tail_offset_ >= lead_while_appending) break;
    }
    const size_t length =
        static_cast<size_t>(std::min<uint64_t>(kJournalFillAheadChunkBytes, remaining));
    Status written = file_->WriteAt(fill_offset_, JournalZeros(), length, false);
    if (!written.ok()) return written;
    if (filled == 0) first = fill_offset_;
    end = fill_offset_ + length;
    fill_offset_ += length;
    filled += length;
  }
  if (filled > 0) {
    Status synced = file_->Sync();  // the extents converted now, not by an append's fdatasync
    if (!synced.ok()) return synced;
    if (entry_align_ != 1) file_->DropCached(first, end - first);
  }
  return remaining;
}

}  // namespace pairfs::node
