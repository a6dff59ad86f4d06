// ops (issue 15 part 1): the events reply's decoder (wire/event_messages.h) keeps what a node
// sends and refuses what no node sends: too many events, text too long or with control
// characters, sequences out of order, bytes that are not a reply.
#include <catch2/catch.hpp>

#include "wire/event_messages.h"

using namespace pairfs;
using namespace pairfs::wire;

namespace {

EventsReply SampleEventsReply(size_t count) {
  EventsReply reply;
  reply.instance = 99;
  for (size_t i = 0; i < count; ++i) {
    Event event;
    event.sequence = i + 1;
    event.unix_ms = 1764777600000 + static_cast<int64_t>(i);
    event.source = "node";
    event.site = "a";
    event.kind = "pair";
    event.volume = "vm1";
    event.field = "status";
    event.old_value = "COPY";
    event.new_value = "PAIR";
    reply.events.push_back(event);
  }
  reply.last = count;
  return reply;
}

Status DecodedEventsOf(const EventsReply& reply) {
  EventsReply decoded;
  return DecodeEventsReply(EncodeBody(reply), &decoded);
}

}  // namespace

TEST_CASE("events reply: a round trip keeps every field", "[events]") {
  const EventsReply sent = SampleEventsReply(3);
  EventsReply got;
  REQUIRE(DecodeEventsReply(EncodeBody(sent), &got).ok());
  CHECK(got.instance == 99);
  CHECK(got.last == 3);
  REQUIRE(got.events.size() == 3);
  CHECK(got.events[2].sequence == 3);
  CHECK(got.events[2].new_value == "PAIR");
  CHECK(got.events[2].unix_ms == 1764777600002);
}

TEST_CASE("events reply: a full page fits one frame", "[events]") {
  EventsReply full = SampleEventsReply(kEventsPerReply);
  const std::string long_text(kMaxEventTextBytes, 'x');
  for (Event& event : full.events) {
    event.source = event.site = event.kind = event.field = event.old_value = event.new_value =
        long_text;
    event.volume = std::string(kMaxVolumeNameBytes, 'v');
  }
  CHECK(DecodedEventsOf(full).ok());
  CHECK(EncodeFrame(MessageType::kReply, 1, "a", EncodeBody(full)).ok());
}

TEST_CASE("events reply: what no node sends is refused", "[events]") {
  CHECK_FALSE(DecodedEventsOf(SampleEventsReply(kEventsPerReply + 1)).ok());
  EventsReply reply = SampleEventsReply(2);
  SECTION("a value too long") { reply.events[0].new_value.assign(kMaxEventTextBytes + 1, 'x'); }
  SECTION("a control character") { reply.events[1].old_value = "PAIR\x1b[2J"; }
  SECTION("a newline in a field") { reply.events[0].field = "status\nforged"; }
  SECTION("invalid UTF-8") { reply.events[0].site = "\xff\xfe"; }
  SECTION("a volume that is no volume name") { reply.events[0].volume = "../etc"; }
  SECTION("sequences out of order") { reply.events[1].sequence = 1; }
  SECTION("an event after last") { reply.last = 1; }
  SECTION("a sequence of 0") { reply.events[0].sequence = 0; }
  CHECK(DecodedEventsOf(reply).code() == Code::kInvalidArgument);
}

TEST_CASE("events reply: bytes that are not a reply are refused", "[events]") {
  EventsReply decoded;
  CHECK_FALSE(DecodeEventsReply("", &decoded).ok());
  CHECK_FALSE(DecodeEventsReply("\x93\x01\x02\x03", &decoded).ok());
  CHECK_FALSE(DecodeEventsReply(EncodeBody(EventsRequest{1, 2}) + "x", &decoded).ok());
}

TEST_CASE("events: the fields of a cluster view and the data link's state", "[events]") {
  ClusterInfo cluster;
  cluster.state = "ACTIVE";
  cluster.reservation.holder = "a";
  cluster.links.push_back({"tcp://0.0.0.0:1", "tcp://10.0.0.2:1", true, 5, false});
  const EventFields fields = ClusterFieldsOf(cluster);
  REQUIRE(fields.size() == 6);
  CHECK(fields[0] == std::pair<std::string, std::string>{"state", "ACTIVE"});
  CHECK(fields[5] == std::pair<std::string, std::string>{"heartbeat:tcp://10.0.0.2:1", "up"});
  CHECK(ClusterEventKind(fields[5].first) == "link");
  CHECK(ClusterEventKind("state") == "cluster");
  CHECK(DataLinkState(-1) == "down");
  CHECK(DataLinkState(0) == "up");
  CHECK(DataLinkState(kDataLinkSilentMs + 1) == "down");
}
