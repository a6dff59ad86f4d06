// Reading a journal's entries back (the master's transfer, the restore): the entries written last
// from memory (node/recent_entries.h), the rest from the file in one read per run of entries side
// by side in the ring, each checked against its header and data checksum. The rest of the journal
// at run time is journal.cc.
#include <algorithm>
#include <string>
#include <utility>

#include "node/journal.h"
#include "node/limits.h"
#include "node/recent_entries.h"
#include "wire/check.h"

namespace pairfs::node {

Result<std::vector<JournalEntry>> Journal::Read(uint64_t from_sequence, size_t max_bytes) const {
  uint64_t resets_seen;
  uint64_t readable_through;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (from_sequence < header_.head_sequence || from_sequence < index_first_)
      return Status::NotFound("entry " + std::to_string(from_sequence) + " of group " + group_ +
                              " was freed");
    resets_seen = resets_;
    readable_through = std::min(durable_sequence_, next_sequence_ - 1);
  }
  // The entries written last are in memory (recent_); the rest is read from the file, from the
  // first entry that is not.
  std::vector<JournalEntry> entries = recent_->Take(from_sequence, readable_through, max_bytes);
  size_t bytes = 0;
  for (const JournalEntry& entry : entries) bytes += entry.data.size();
  const uint64_t next = from_sequence + entries.size();
  std::vector<ReadSpan> spans;
  if (next <= readable_through && (entries.empty() || bytes < max_bytes)) {
    std::lock_guard<std::mutex> lock(mutex_);
    SpansToReadLocked(next, max_bytes - bytes, entries.empty(), &spans);
  }
  // One run at a time, each decoded before the next is read: the raw bytes in memory beside the
  // decoded entries are one run's (at most kJournalReadRunBytes, or one longer entry), not a
  // whole pass's (kAsyncRestoreReadBytes held twice at the secondary's restore).
  for (size_t begin = 0; begin < spans.size();) {
    const size_t end = RunEnd(spans, begin);
    Result<ReadRun> run = ReadRunOf(spans, begin, end);
    if (!run.ok()) return run.status();
    {
      // Space freed (or reset) while we read may hold newer entries by now: what we read of it
      // is not this entry, and not damage either.
      std::lock_guard<std::mutex> lock(mutex_);
      if (resets_ != resets_seen || from_sequence < header_.head_sequence)
        return Status::NotFound("entry " + std::to_string(from_sequence) + " of group " + group_ +
                                " was freed");
    }
    for (size_t i = begin; i < end; ++i) {
      Result<JournalEntry> entry = DecodeSpan(spans[i], run.value());
      if (!entry.ok()) return entry.status();
      entries.push_back(std::move(entry.value()));
    }
    begin = end;
  }
  return entries;
}

void Journal::SpansToReadLocked(uint64_t from_sequence, size_t max_bytes, bool at_least_one,
                                std::vector<ReadSpan>* spans) const {
  uint64_t data_bytes = 0;
  for (uint64_t sequence = from_sequence;
       sequence <= durable_sequence_ && sequence < next_sequence_; ++sequence) {
    const IndexEntry& entry = index_[sequence - index_first_];
    if ((!spans->empty() || !at_least_one) && data_bytes + entry.data_bytes > max_bytes) break;
    spans->push_back(
        ReadSpan{sequence, entry.offset, JournalEntryBytes(entry.data_bytes, entry_align_)});
    data_bytes += entry.data_bytes;
  }
}

size_t Journal::RunEnd(const std::vector<ReadSpan>& spans, size_t begin) {
  // Entries side by side in the ring are read together: one read per run, not per entry.
  size_t end = begin + 1;
  uint64_t run_bytes = spans[begin].ring_bytes;
  while (end < spans.size() &&
         spans[end].offset == spans[end - 1].offset + spans[end - 1].ring_bytes &&
         run_bytes + spans[end].ring_bytes <= kJournalReadRunBytes) {
    run_bytes += spans[end].ring_bytes;
    ++end;
  }
  return end;
}

Result<Journal::ReadRun> Journal::ReadRunOf(const std::vector<ReadSpan>& spans, size_t begin,
                                            size_t end) const {
  ReadRun run;
  run.first = spans[begin].offset;
  run.size = spans[end - 1].offset + spans[end - 1].ring_bytes - run.first;
  // A version 2 journal's entries are whole sectors, read past the page cache: they were written
  // with O_DIRECT and are read once (transfer, restore), so caching them only cost the host page
  // allocations and readahead of the ring's zeros ahead.
  const bool sectors = entry_align_ != 1;
  run.buffer.reset(new char[run.size + (sectors ? kSectorBytes : 0)]);
  if (sectors) {
    const uintptr_t address = reinterpret_cast<uintptr_t>(run.buffer.get());
    run.at = (kSectorBytes - address % kSectorBytes) % kSectorBytes;
  }
  char* out = run.buffer.get() + run.at;
  Result<size_t> read = sectors ? file_->ReadSectors(run.first, run.size, out)
                                : file_->ReadAt(run.first, run.size, out, false);
  if (!read.ok()) return read.status();
  if (read.value() != run.size)
    return Status::Corruption("the journal of group " + group_ + " is cut short");
  return run;
}

Result<JournalEntry> Journal::DecodeSpan(const ReadSpan& span, const ReadRun& run) const {
  PAIRFS_CHECK(span.offset >= run.first && span.offset + span.ring_bytes <= run.first + run.size,
               "a span is decoded from the run that holds it");
  const std::string_view bytes = run.bytes().substr(span.offset - run.first, span.ring_bytes);
  const std::string where = "entry " + std::to_string(span.sequence) + " of group " + group_ +
                            " at offset " + std::to_string(span.offset);
  Result<JournalEntryHeader> header = DecodeJournalEntryHeader(bytes);
  if (!header.ok()) return Status::Corruption(where + ": " + header.status().message());
  if (header->sequence != span.sequence || header->journal_id != journal_id_ ||
      (header->flags & kJournalWrapMarker) != 0 ||
      JournalEntryBytes(header->data_bytes(), entry_align_) != span.ring_bytes)
    return Status::Corruption(where + ": another entry is there");
  const std::string_view data = bytes.substr(kJournalEntryHeaderBytes, header->data_bytes());
  if (JournalDataChecksum(data) != header->data_checksum)
    return Status::Corruption(where + ": data checksum mismatch");
  Placement placement;
  placement.sequence = span.sequence;
  placement.checksum = header->data_checksum;
  return EntryOf(placement, JournalWrite{header->volume, header->kind, header->volume_offset,
                                         header->length, data, header->flags});
}

}  // namespace pairfs::node
