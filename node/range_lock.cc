#include "node/range_lock.h"

#include <utility>

#include "wire/check.h"

namespace pairfs::node {

RangeLock::Guard::Guard(Guard&& other) noexcept
    : lock_(std::exchange(other.lock_, nullptr)), offset_(other.offset_) {}

RangeLock::Guard& RangeLock::Guard::operator=(Guard&& other) noexcept {
  if (this != &other) {
    Release();
    lock_ = std::exchange(other.lock_, nullptr);
    offset_ = other.offset_;
  }
  return *this;
}

RangeLock::Guard::~Guard() { Release(); }

void RangeLock::Guard::Release() {
  if (lock_ != nullptr) std::exchange(lock_, nullptr)->Unlock(offset_);
}

bool RangeLock::OverlapsLocked(uint64_t offset, uint64_t end) const {
  // Held ranges are disjoint, so only the last one starting before `end` can reach `offset`.
  auto next = held_.lower_bound(end);
  if (next == held_.begin()) return false;
  return std::prev(next)->second > offset;
}

RangeLock::Guard RangeLock::Acquire(uint64_t offset, uint64_t length) {
  // Callers check lengths and ranges before they lock: a zero-length or wrapping range would make
  // the overlap test meaningless.
  PAIRFS_CHECK(length > 0 && offset + length > offset,
               "a locked range is non-empty and does not wrap");
  const uint64_t end = offset + length;
  std::unique_lock<std::mutex> lock(mutex_);
  released_.wait(lock, [&] { return !OverlapsLocked(offset, end); });
  const bool inserted = held_.emplace(offset, end).second;
  PAIRFS_CHECK(inserted, "held ranges never overlap");
  return Guard(this, offset);
}

RangeLock::Guard RangeLock::TryAcquire(uint64_t offset, uint64_t length) {
  PAIRFS_CHECK(length > 0 && offset + length > offset,
               "a locked range is non-empty and does not wrap");
  const uint64_t end = offset + length;
  std::lock_guard<std::mutex> lock(mutex_);
  if (OverlapsLocked(offset, end)) return Guard();
  const bool inserted = held_.emplace(offset, end).second;
  PAIRFS_CHECK(inserted, "held ranges never overlap");
  return Guard(this, offset);
}

size_t RangeLock::held_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return held_.size();
}

void RangeLock::Unlock(uint64_t offset) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const size_t released = held_.erase(offset);
    PAIRFS_CHECK(released == 1, "a range is released once");
  }
  released_.notify_all();
}

}  // namespace pairfs::node
