#include "wire/heartbeat_rules.h"

namespace pairfs::wire {

bool BeatIsNewer(const BeatSeen& seen, uint64_t incarnation, uint64_t counter) {
  return !seen.any || incarnation != seen.incarnation || counter > seen.counter;
}

}  // namespace pairfs::wire
