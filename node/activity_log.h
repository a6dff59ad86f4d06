// The activity log (doc/design.md "activity log"): before a write that may make the copies differ,
// its regions are durably marked in the dirty bitmap (node/region_set.h) and the write is counted
// in flight in the current epoch; the trim (Replicator::TrimActivityLog, activity_log.cc) closes
// an epoch, waits for its writes at both copies, flushes both and clears the regions no later
// write touched. A region marked when the node started (a crash may have left the copies apart)
// is pinned: only a copy clears it.
#pragma once

#include <cstdint>

#include "node/pair_runtime.h"
#include "wire/status.h"

namespace pairfs::node::replicator_internal {

// A region marked when the node started may differ between the copies (a crash between the two
// writes); the activity-log trim never clears it: only a copy does.
constexpr uint32_t kPinnedEpoch = UINT32_MAX;

// A write in the activity log: its regions are durably marked and it is counted in flight until
// the Activity is destroyed. Movable, not copyable; used by the one thread that writes.
class Activity {
 public:
  Activity() = default;
  Activity(Activity&& other) noexcept : pair_(other.pair_), epoch_(other.epoch_) {
    other.pair_ = nullptr;
  }
  Activity& operator=(Activity&&) = delete;
  ~Activity();

  // Marks [offset, offset+length) before a write; `extents` widens the marks to whole activity
  // extents (a replicated write: see kActivityExtentBytes), else only the regions written. Takes
  // pair.al_mutex shared, then pair.epoch_mutex. The write's Activity, or the dirty bitmap's
  // failure (IoError, NoSpace): the write is then refused before anything is written.
  static Result<Activity> Begin(Replicator::Pair& pair, uint64_t offset, uint64_t length,
                                bool extents);

 private:
  Replicator::Pair* pair_ = nullptr;
  uint32_t epoch_ = 0;
};

}  // namespace pairfs::node::replicator_internal
