// ops (issue 15 part 1): the text and JSON forms of pairctl events (pairctl/events.h), which
// pairctl(8) documents and scripts read.
#include <catch2/catch.hpp>

#include "pairctl/events.h"

using namespace pairfs;
using namespace pairfs::pairctl;

namespace {

EventLine SampleEventLine(bool current) {
  EventLine line;
  line.event = {5, 1764777600123, "node", "a", "pair", "vm1", "status", "PAIR", "PSUS"};
  line.current = current;
  return line;
}

}  // namespace

TEST_CASE("pairctl events: the text form", "[events]") {
  CHECK(EventText(SampleEventLine(false)) ==
        "2025-12-03T16:00:00.123Z node a pair vm1 status PAIR -> PSUS");
  CHECK(EventText(SampleEventLine(true)) ==
        "2025-12-03T16:00:00.123Z node a pair vm1 status = PSUS");
  EventLine site_event = SampleEventLine(false);
  site_event.event.volume = "";
  site_event.event.old_value = "";
  CHECK(EventText(site_event) == "2025-12-03T16:00:00.123Z node a pair - status \"\" -> PSUS");
}

TEST_CASE("pairctl events: the JSON form", "[events]") {
  const nlohmann::ordered_json changed = EventJson(SampleEventLine(false));
  CHECK(changed.dump() ==
        R"({"time":"2025-12-03T16:00:00.123Z","unix_ms":1764777600123,"source":"node",)"
        R"("site":"a","kind":"pair","volume":"vm1","field":"status","old":"PAIR","new":"PSUS",)"
        R"("current":false})");
  EventLine current = SampleEventLine(true);
  current.event.volume = "";
  const nlohmann::ordered_json state = EventJson(current);
  CHECK(state["old"].is_null());
  CHECK(state["volume"].is_null());
  CHECK(state["current"] == true);
}

TEST_CASE("pairctl events: the current state of a display and of clusterd", "[events]") {
  wire::VolumeInfo volume;
  volume.name = "vm1";
  volume.status = "COPY";
  volume.role = "primary";
  volume.peer_site = "b";
  volume.copy_progress = 40;
  volume.peer_heard_ms_ago = 10;
  const std::vector<EventLine> lines = NodeStateLines("a", {volume});
  REQUIRE(lines.size() == 11);  // 9 pair fields, the progress, the data link
  CHECK(lines[0].current);
  CHECK(lines[0].event.field == "status");
  CHECK(lines[0].event.new_value == "COPY");
  CHECK(lines[9].event.kind == "progress");
  CHECK(lines[9].event.new_value == "40");
  CHECK(lines[10].event.field == "data_link");
  CHECK(lines[10].event.new_value == "up");
  wire::ClusterInfo cluster;
  cluster.state = "STANDBY";
  const std::vector<EventLine> cluster_lines = ClusterStateLines("a", cluster);
  REQUIRE_FALSE(cluster_lines.empty());
  CHECK(cluster_lines[0].event.source == "clusterd");
  CHECK(cluster_lines[0].event.new_value == "STANDBY");
}
