// Which heartbeats count (wire/heartbeat.h's HeartbeatLinks), as a pure function with no I/O, no
// lock and no clock, so that the links and the cluster simulation
// (tests/sim/cluster_sim_clusterd.cc) take the same decision. A beat carries its sender's
// incarnation (new at each start) and a counter that grows with every round of beats (the same
// on every link). Thread-safe (no state).
#pragma once

#include <cstdint>

namespace pairfs::wire {

// What a receiver last took in: on one link, or the latest of all links.
struct BeatSeen {
  bool any = false;  // nothing yet
  uint64_t incarnation = 0;
  uint64_t counter = 0;
};

// Whether a beat is newer than `seen`: the first, another incarnation (the peer restarted), or a
// larger counter. On a link, a beat that is not (a duplicate, or one overtaken by a later one) is
// stale and dropped; across links, only a newer beat becomes the latest, whose phase clusterd
// reads (the same round arriving on a second link changes nothing).
bool BeatIsNewer(const BeatSeen& seen, uint64_t incarnation, uint64_t counter);

}  // namespace pairfs::wire
