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
  Result<std::vector<ReadRun>> runs = ReadRuns(spans);
  if (!runs.ok()) return runs.status();
  {
    // Space freed (or reset) while we read may hold newer entries by now: what we read of it is
    // not this entry, and not damage either.
    std::lock_guard<std::mutex> lock(mutex_);
    if (resets_ != resets_seen || from_sequence < header_.head_sequence)
      return Status::NotFound("entry " + std::to_string(from_sequence) + " of group " + group_ +
                              " was freed");
  }
  Result<std::vector<JournalEntry>> read = DecodeRuns(spans, runs.value());
  if (!read.ok()) return read.status();
  for (JournalEntry& entry : read.value()) entries.push_back(std::move(entry));
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

Result<std::vector<Journal::ReadRun>> Journal::ReadRuns(const std::vector<ReadSpan>& spans) const {
  // Entries side by side in the ring are read together: one read per run, not per entry.
  std::vector<ReadRun> runs;
  for (size_t first = 0; first < spans.size();) {
    size_t last = first;
    uint64_t run_bytes = spans[first].ring_bytes;
    while (last + 1 < spans.size() &&
           spans[last + 1].offset == spans[last].offset + spans[last].ring_bytes) {
      ++last;
      run_bytes += spans[last].ring_bytes;
    }
    // A version 2 journal's entries are whole sectors, read past the page cache: they were
    // written with O_DIRECT and are read once (transfer, restore), so caching them only cost
    // the host page allocations and readahead of the ring's zeros ahead.
    ReadRun run;
    run.first = spans[first].offset;
    run.size = run_bytes;
    const bool sectors = entry_align_ != 1;
    run.buffer.reset(new char[run_bytes + (sectors ? kSectorBytes : 0)]);
    if (sectors) {
      const uintptr_t address = reinterpret_cast<uintptr_t>(run.buffer.get());
      run.at = (kSectorBytes - address % kSectorBytes) % kSectorBytes;
    }
    char* out = run.buffer.get() + run.at;
    Result<size_t> read = sectors ? file_->ReadSectors(run.first, run_bytes, out)
                                  : file_->ReadAt(run.first, run_bytes, out, false);
    if (!read.ok()) return read.status();
    if (read.value() != run_bytes)
      return Status::Corruption("the journal of group " + group_ + " is cut short");
    runs.push_back(std::move(run));
    first = last + 1;
  }
  return runs;
}

Result<std::vector<JournalEntry>> Journal::DecodeRuns(const std::vector<ReadSpan>& spans,
                                                      const std::vector<ReadRun>& runs) const {
  std::vector<JournalEntry> entries;
  entries.reserve(spans.size());
  size_t run = 0;
  for (const ReadSpan& span : spans) {
    while (span.offset < runs[run].first ||
           span.offset + span.ring_bytes > runs[run].first + runs[run].size)
      ++run;
    const std::string_view bytes =
        runs[run].bytes().substr(span.offset - runs[run].first, span.ring_bytes);
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
    JournalEntry entry;
    entry.sequence = span.sequence;
    entry.volume = std::string(header->volume);
    entry.kind = header->kind;
    entry.offset = header->volume_offset;
    entry.length = header->length;
    entry.flags = header->flags;
    entry.data_checksum = header->data_checksum;
    entry.data = std::string(data);
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace pairfs::node
