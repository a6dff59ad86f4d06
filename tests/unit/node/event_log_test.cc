// ops (issue 15 part 1): the node's event log (node/event_log.h): bounded in events and bytes, a
// sequence that only grows, a follower told of a gap or a restart, pages of kEventsPerReply, and
// the pair fields a metadata save records.
#include <catch2/catch.hpp>

#include "node/event_log.h"

using namespace pairfs;
using namespace pairfs::node;

namespace {

// Reads everything after `after` of `log` (instance known).
wire::EventsReply ReadAfter(const EventLog& log, uint64_t after) {
  return log.Read(wire::EventsRequest{log.instance(), after});
}

}  // namespace

TEST_CASE("event log: a first call names the instance and the newest sequence, no events",
          "[events]") {
  EventLog log("node", "a", 16, 1 << 20, 42);
  log.Record("pair", "vm1", "status", "SMPL", "COPY");
  const wire::EventsReply first = log.Read(wire::EventsRequest{0, 0});
  CHECK(first.instance == 42);
  CHECK(first.last == 1);
  CHECK(first.events.empty());
  CHECK_FALSE(first.gap);
}

TEST_CASE("event log: events after a sequence, in order, with their fields", "[events]") {
  EventLog log("node", "a", 16, 1 << 20, 7);
  log.Record("pair", "vm1", "status", "SMPL", "COPY");
  log.Record("pair", "vm1", "status", "COPY", "PAIR");
  log.Record("link", "", "data_link", "", "up");
  const wire::EventsReply reply = ReadAfter(log, 1);
  REQUIRE(reply.events.size() == 2);
  CHECK(reply.events[0].sequence == 2);
  CHECK(reply.events[0].source == "node");
  CHECK(reply.events[0].site == "a");
  CHECK(reply.events[0].volume == "vm1");
  CHECK(reply.events[0].old_value == "COPY");
  CHECK(reply.events[0].new_value == "PAIR");
  CHECK(reply.events[1].sequence == 3);
  CHECK(reply.events[1].volume.empty());
  CHECK(reply.last == 3);
  CHECK_FALSE(reply.more);
  CHECK_FALSE(reply.gap);
  CHECK(ReadAfter(log, 3).events.empty());
  CHECK(wire::CheckEventsReply(reply).ok());
}

TEST_CASE("event log: bounded in events; a follower behind the ring is told of the gap",
          "[events]") {
  EventLog log("node", "a", 4, 1 << 20, 7);
  for (int i = 0; i < 10; ++i)
    log.Record("pair", "vm1", "generation", std::to_string(i), std::to_string(i + 1));
  CHECK(log.last_sequence() == 10);
  const wire::EventsReply kept = ReadAfter(log, 6);  // 7..10 are kept
  REQUIRE(kept.events.size() == 4);
  CHECK(kept.events.front().sequence == 7);
  CHECK_FALSE(kept.gap);
  const wire::EventsReply behind = ReadAfter(log, 5);  // 6 was dropped
  CHECK(behind.gap);
  CHECK(behind.events.empty());
  CHECK(behind.last == 10);
}

TEST_CASE("event log: bounded in bytes, whatever the count", "[events]") {
  const std::string long_value(wire::kMaxEventTextBytes, 'x');
  EventLog log("node", "a", 1000, 2000, 7);
  for (int i = 0; i < 100; ++i) log.Record("pair", "vm1", "reserved_by", long_value, long_value);
  const wire::EventsReply reply = ReadAfter(log, 99);
  REQUIRE(reply.events.size() == 1);
  // Each event weighs 343 bytes (its text and 64): 2000 bytes keep 5 of them, 96 to 100.
  CHECK(ReadAfter(log, 94).gap);
  CHECK_FALSE(ReadAfter(log, 95).gap);
  CHECK(ReadAfter(log, 95).events.size() == 5);
}

TEST_CASE("event log: text longer than the limit is cut, never refused", "[events]") {
  EventLog log("node", "a", 16, 1 << 20, 7);
  log.Record("pair", std::string(200, 'v'), "status", std::string(500, 'o'), "PAIR");
  const wire::EventsReply reply = ReadAfter(log, 0);
  REQUIRE(reply.events.size() == 1);
  CHECK(reply.events[0].old_value.size() == wire::kMaxEventTextBytes);
  CHECK(reply.events[0].volume.empty());  // not a volume name: left out
  CHECK(wire::CheckEventsReply(reply).ok());
}

TEST_CASE("event log: another instance (a restart) or a follower ahead is a gap", "[events]") {
  EventLog log("node", "a", 16, 1 << 20, 7);
  log.Record("pair", "vm1", "status", "SMPL", "COPY");
  const wire::EventsReply restarted = log.Read(wire::EventsRequest{8, 0});
  CHECK(restarted.gap);
  CHECK(restarted.instance == 7);
  CHECK(restarted.events.empty());
  CHECK(ReadAfter(log, 5).gap);
  CHECK_FALSE(ReadAfter(log, 1).gap);
}

TEST_CASE("event log: random instances differ and are never 0", "[events]") {
  EventLog one("node", "a");
  EventLog two("node", "a");
  CHECK(one.instance() != 0);
  CHECK(one.instance() != two.instance());
}

TEST_CASE("event log: a reply holds at most kEventsPerReply events and says more", "[events]") {
  EventLog log("node", "a", 2 * wire::kEventsPerReply, 1 << 24, 7);
  for (size_t i = 0; i < wire::kEventsPerReply + 3; ++i) log.Record("pair", "vm1", "f", "a", "b");
  const wire::EventsReply first = ReadAfter(log, 0);
  CHECK(first.events.size() == wire::kEventsPerReply);
  CHECK(first.more);
  CHECK(first.last == wire::kEventsPerReply);
  const wire::EventsReply second = ReadAfter(log, first.last);
  CHECK(second.events.size() == 3);
  CHECK_FALSE(second.more);
}

TEST_CASE("event log: a metadata save's changed pair fields, in order", "[events]") {
  VolumeMetadata before;
  before.name = "vm1";
  before.status = "COPY";
  before.role = "primary";
  before.generation = 3;
  before.generation_site = "a";
  VolumeMetadata after = before;
  after.status = "PSUS";
  after.generation = 4;
  after.fenced = true;
  const std::vector<wire::FieldChange> changes =
      wire::DiffFields(PairFieldsOfMetadata(before), PairFieldsOfMetadata(after));
  REQUIRE(changes.size() == 3);
  CHECK(changes[0].field == "status");
  CHECK(changes[0].old_value == "COPY");
  CHECK(changes[0].new_value == "PSUS");
  CHECK(changes[1].field == "generation");
  CHECK(changes[1].old_value == "3@a");
  CHECK(changes[1].new_value == "4@a");
  CHECK(changes[2].field == "fenced");
  CHECK(changes[2].new_value == "true");
  CHECK(wire::DiffFields(PairFieldsOfMetadata(after), PairFieldsOfMetadata(after)).empty());
}
