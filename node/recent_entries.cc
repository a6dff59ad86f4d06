#include "node/recent_entries.h"

#include <utility>

#include "node/limits.h"

namespace pairfs::node {

RecentEntries::RecentEntries(size_t max_bytes, size_t max_entry_bytes)
    : max_bytes_(max_bytes), max_entry_bytes_(max_entry_bytes) {}

namespace {

// What an entry costs the bound: its data, its volume's name and a share for the entry itself
// and its map node (so that entries without data, discards, are bounded too).
size_t CostOf(const JournalEntry& entry) {
  return entry.data.size() + entry.volume.size() + kRecentEntryOverheadBytes;
}

}  // namespace

void RecentEntries::Add(JournalEntry entry) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto held = entries_.find(entry.sequence);
  if (held != entries_.end()) {
    bytes_ -= CostOf(held->second);
    entries_.erase(held);
  }
  // Too long to hold: not held, nor is what was held under its sequence (never read in its place).
  const size_t cost = CostOf(entry);
  if (!Holds(entry.data.size()) || cost > max_bytes_) return;
  const uint64_t sequence = entry.sequence;
  entries_.emplace(sequence, std::move(entry));
  bytes_ += cost;
  while (bytes_ > max_bytes_) {
    bytes_ -= CostOf(entries_.begin()->second);
    entries_.erase(entries_.begin());
  }
}

std::vector<JournalEntry> RecentEntries::Take(uint64_t from, uint64_t through,
                                              size_t max_bytes) const {
  std::vector<JournalEntry> taken;
  std::lock_guard<std::mutex> lock(mutex_);
  size_t bytes = 0;
  for (auto it = entries_.find(from);
       it != entries_.end() && it->first <= through && it->first == from + taken.size(); ++it) {
    if (!taken.empty() && bytes + it->second.data.size() > max_bytes) break;
    bytes += it->second.data.size();
    taken.push_back(it->second);
  }
  return taken;
}

void RecentEntries::Clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.clear();
  bytes_ = 0;
}

size_t RecentEntries::bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytes_;
}

}  // namespace pairfs::node
