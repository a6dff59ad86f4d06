#include "node/recent_entries.h"

namespace pairfs::node {

RecentEntries::RecentEntries(size_t max_bytes, size_t max_entry_bytes)
    : max_bytes_(max_bytes), max_entry_bytes_(max_entry_bytes) {}

void RecentEntries::Add(const JournalEntry& entry) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto held = entries_.find(entry.sequence);
  if (entry.data.size() > max_entry_bytes_ || entry.data.size() > max_bytes_) {
    // Not held; nor is what was held under its sequence (never read in its place).
    if (held != entries_.end()) {
      bytes_ -= held->second.data.size();
      entries_.erase(held);
    }
    return;
  }
  if (held != entries_.end()) {
    bytes_ -= held->second.data.size();
    held->second = entry;
  } else {
    entries_.emplace(entry.sequence, entry);
  }
  bytes_ += entry.data.size();
  while (bytes_ > max_bytes_) {
    bytes_ -= entries_.begin()->second.data.size();
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
