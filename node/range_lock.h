// Exclusive status on byte ranges of one volume (doc/design.md "Pairs"; seed 002's exclusive
// status).
//
// Writes to ranges that do not overlap hold their locks at once; a write to a range that overlaps
// a held one waits until it is released. Thread-safe. Held ranges never overlap (checked).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>

namespace pairfs::node {

class RangeLock {
 public:
  // Releases its range on destruction. Movable, not copyable.
  class Guard {
   public:
    Guard() = default;
    Guard(Guard&& other) noexcept;
    Guard& operator=(Guard&& other) noexcept;
    ~Guard();
    bool held() const { return lock_ != nullptr; }
    void Release();

   private:
    friend class RangeLock;
    Guard(RangeLock* lock, uint64_t offset) : lock_(lock), offset_(offset) {}
    RangeLock* lock_ = nullptr;
    uint64_t offset_ = 0;
  };

  // Waits until [offset, offset+length) overlaps no held range, then holds it. length > 0.
  Guard Acquire(uint64_t offset, uint64_t length);

  // Holds the range if nothing overlapping is held; an empty Guard (held() false) otherwise.
  Guard TryAcquire(uint64_t offset, uint64_t length);

  // The number of ranges held now (for tests and status).
  size_t held_count() const;

 private:
  bool OverlapsLocked(uint64_t offset, uint64_t end) const;
  void Unlock(uint64_t offset);

  mutable std::mutex mutex_;
  std::condition_variable released_;
  std::map<uint64_t, uint64_t> held_;  // start -> end (exclusive); ranges never overlap
};

}  // namespace pairfs::node
