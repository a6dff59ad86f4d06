// ops (issue 15 part 1): fuzzing the events request's and reply's decoders
// (wire/event_messages.h): a mutant of a valid encoding is refused or accepted, never a crash, and
// an accepted reply keeps the rules pairctl prints by. PAIRFS_FUZZ_SEED and PAIRFS_FUZZ_INPUTS:
// tests/unit/fuzz/harness.h.
#include "tests/unit/fuzz/harness.h"
#include "wire/event_messages.h"

// No using-directive for pairfs::wire: this file shares a unity unit with node_fuzz_test.cc,
// whose node:: limits share names with wire::'s.
using namespace pairfs;

namespace {

wire::EventsReply FuzzSeedEventsReply(size_t count) {
  wire::EventsReply reply;
  reply.instance = 0x1234567890abcdef;
  for (size_t i = 0; i < count; ++i) {
    reply.events.push_back(
        {i + 1, 1764777600000, "node", "a", "pair", "vm1", "status", "COPY", "PAIR"});
  }
  reply.last = count + 5;
  reply.more = count > 2;
  return reply;
}

}  // namespace

TEST_CASE("fuzz: the events request and reply", "[fuzz]") {
  fuzz::Fuzz(
      "events-request",
      {wire::EncodeBody(wire::EventsRequest{7, 42}), wire::EncodeBody(wire::EventsRequest{})},
      [](const std::string& input) -> std::string {
        wire::EventsRequest request;
        (void)wire::DecodeBody(input, &request);
        return "";
      });
  const std::vector<std::string> seeds = {wire::EncodeBody(FuzzSeedEventsReply(0)),
                                          wire::EncodeBody(FuzzSeedEventsReply(1)),
                                          wire::EncodeBody(FuzzSeedEventsReply(4))};
  fuzz::Fuzz("events-reply", seeds, [](const std::string& input) -> std::string {
    wire::EventsReply reply;
    if (!wire::DecodeEventsReply(input, &reply).ok()) return "";
    if (reply.events.size() > wire::kEventsPerReply) return "accepted too many events";
    uint64_t previous = 0;
    for (const wire::Event& event : reply.events) {
      if (event.sequence <= previous || event.sequence > reply.last)
        return "accepted a sequence out of order";
      previous = event.sequence;
      for (const std::string* text : {&event.site, &event.kind, &event.field, &event.old_value,
                                      &event.new_value, &event.source}) {
        if (text->size() > wire::kMaxEventTextBytes) return "accepted a long text";
        for (char c : *text) {
          if (static_cast<unsigned char>(c) < 0x20) return "accepted a control character";
        }
      }
    }
    return "";
  });
}
