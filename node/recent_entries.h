// The entries a journal wrote last, kept in memory (bounded), so that the reader that reads them
// back soon after (a master's transfer, a restore journal's restore) takes them from here instead
// of the disk: a version 2 journal's entries are written past the page cache (O_DIRECT), so each
// read-back was a disk read, about as many bytes as the writes themselves, on the disk the
// application's fsyncs (at the primary) or the restore's writes (at the secondary) wait for.
// Entries are added as they are written, in any order (concurrent appends finish out of order); the
// oldest sequences go first when the bytes run over. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "node/journal.h"  // JournalEntry

namespace pairfs::node {

class RecentEntries {
 public:
  // `max_bytes`: held at most, each entry counted as its data, its volume's name and
  // kRecentEntryOverheadBytes (node/limits.h; so entries without data are bounded too); an entry
  // with more data than `max_entry_bytes` is not held (a long write's read-back from the disk is
  // one large read, cheap against its writes).
  RecentEntries(size_t max_bytes, size_t max_entry_bytes);

  // Holds `entry` (its sequence is new, or replaces what was held under it; an entry
  // too long to hold drops what was held under its sequence).
  void Add(JournalEntry entry);
  // Whether an entry with `data_bytes` of data is one Add holds: the caller copies only those.
  bool Holds(size_t data_bytes) const { return data_bytes <= max_entry_bytes_; }
  // Entries from `from` on, consecutive and ≤ `through`, as many as fit `max_bytes` of data but
  // at least one; empty when `from` is not held (the caller reads the disk).
  std::vector<JournalEntry> Take(uint64_t from, uint64_t through, size_t max_bytes) const;
  // Drops everything (the journal was reset: its sequences start again).
  void Clear();
  size_t bytes() const;  // held, as counted against `max_bytes`

 private:
  const size_t max_bytes_;
  const size_t max_entry_bytes_;
  mutable std::mutex mutex_;  // a leaf
  std::map<uint64_t, JournalEntry> entries_;
  size_t bytes_ = 0;
};

}  // namespace pairfs::node
