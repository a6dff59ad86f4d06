// wire/heartbeat_rules.h: which heartbeats are newer than what a link (or the latest of all
// links) last took in.
#include "wire/heartbeat_rules.h"

#include <catch2/catch.hpp>

namespace pairfs::wire {

TEST_CASE("a beat is newer when it is the first, of another incarnation, or counted later",
          "[heartbeat_rules]") {
  CHECK(BeatIsNewer({}, 7, 1));
  CHECK(BeatIsNewer({}, 0, 0));
  const BeatSeen seen{true, 7, 10};
  CHECK(BeatIsNewer(seen, 7, 11));
  CHECK_FALSE(BeatIsNewer(seen, 7, 10));  // a duplicate, or the same round on another link
  CHECK_FALSE(BeatIsNewer(seen, 7, 9));   // overtaken by a later one
  CHECK(BeatIsNewer(seen, 8, 1));         // the peer restarted: its counter starts again
  CHECK(BeatIsNewer(seen, 6, 1));         // any other incarnation, not only a larger one
}

}  // namespace pairfs::wire
