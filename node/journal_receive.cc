// The restore journal's appends: the entries the master sent, stored under their own sequences
// (node/journal.h, "restore"). The rest of the journal at run time is in journal.cc.
#include <algorithm>

#include "node/journal.h"
#include "node/limits.h"
#include "node/recent_entries.h"

namespace pairfs::node {

static_assert(kJournalReceiveRunBytes <= JournalEntryBytes(kMaxJournalEntryDataBytes),
              "a run's buffer is no larger than one entry's");

Result<std::optional<Journal::Placement>> Journal::ReceiveLocked(uint64_t sequence,
                                                                 const JournalWrite& write,
                                                                 uint64_t checksum, bool intact) {
  if (header_.role != JournalRole::kRestore)
    return Status::InvalidArgument("the journal of group " + group_ +
                                   " is a master journal: it receives no entries");
  if (!intact) {
    ++counters_.bad_checksums;
    return Status::Corruption("entry " + std::to_string(sequence) + " for group " + group_ +
                              " fails its data checksum");
  }
  if (sequence < next_sequence_) {
    ++counters_.duplicates;
    if (sequence >= index_first_ && index_[sequence - index_first_].data_checksum != checksum) {
      ++counters_.conflicting_duplicates;
      return Status::Corruption("entry " + std::to_string(sequence) + " for group " + group_ +
                                " is held with other data");
    }
    return std::optional<Placement>();
  }
  if (sequence > next_sequence_) {
    ++counters_.refused_gaps;
    return Status::InvalidArgument("entry " + std::to_string(sequence) + " for group " + group_ +
                                   " arrived before " + std::to_string(next_sequence_));
  }
  Result<Placement> placed = ReserveLocked(sequence, write, checksum);
  if (!placed.ok()) return placed.status();
  return std::optional<Placement>(placed.value());
}

Result<Receipt> Journal::AppendReceived(uint64_t sequence, const JournalWrite& write,
                                        uint64_t data_checksum) {
  bool stored = false;
  Status appended = AppendReceivedRun({ReceivedEntry{sequence, write, data_checksum}}, &stored);
  if (!appended.ok()) return appended;
  return stored ? Receipt::kStored : Receipt::kAlreadyHeld;
}

Status Journal::AppendReceivedRun(const std::vector<ReceivedEntry>& entries, bool* stored) {
  *stored = false;
  // Checked and placed one by one, as AppendReceived; the first refusal ends the run.
  Status refused;
  std::vector<Placement> placements;
  std::vector<const ReceivedEntry*> placed_entries;
  placements.reserve(entries.size());
  placed_entries.reserve(entries.size());
  for (const ReceivedEntry& entry : entries) {
    refused = CheckJournalWrite(entry.write);
    if (!refused.ok()) break;
    const bool intact = JournalDataChecksum(entry.write.data) == entry.data_checksum;
    std::lock_guard<std::mutex> lock(mutex_);
    Result<std::optional<Placement>> placed =
        ReceiveLocked(entry.sequence, entry.write, entry.data_checksum, intact);
    if (!placed.ok()) {
      refused = placed.status();
      break;
    }
    if (!placed.value().has_value()) continue;  // already held
    placements.push_back(*placed.value());
    placed_entries.push_back(&entry);
  }
  // Written in runs: entries that follow each other in the ring, up to kJournalReceiveRunBytes
  // (an entry with a wrap marker starts a run at the start of the ring, its marker written
  // first); each run then recorded as written, or the journal failed.
  std::vector<JournalEntryHeader> headers;
  std::vector<std::string_view> data;
  std::vector<JournalEntry> recent;  // copies for recent_, made outside mutex_
  size_t first = 0;
  while (first < placements.size()) {
    headers.clear();
    data.clear();
    recent.clear();
    uint64_t run_end = placements[first].offset;
    size_t end = first;
    while (end < placements.size()) {
      const Placement& placement = placements[end];
      const JournalWrite& write = placed_entries[end]->write;
      const uint64_t bytes = JournalEntryBytes(write.data.size(), entry_align_);
      const bool joins =
          end == first || (placement.marker_offset == 0 && placement.offset == run_end &&
                           run_end - placements[first].offset + bytes <= kJournalReceiveRunBytes);
      if (!joins) break;
      headers.push_back(EntryHeader(placement, write));
      data.push_back(write.data);
      if (recent_->Holds(write.data.size())) recent.push_back(EntryOf(placement, write));
      run_end = placement.offset + bytes;
      ++end;
    }
    Status written = WriteMarker(placements[first], placed_entries[first]->write.kind);
    if (written.ok()) written = WriteRun(placements[first].offset, headers, data);
    written = RecordWritten(std::span(placements).subspan(first, end - first), written, recent);
    if (!written.ok()) return written;
    *stored = true;
    first = end;
  }
  return refused;
}

}  // namespace pairfs::node
