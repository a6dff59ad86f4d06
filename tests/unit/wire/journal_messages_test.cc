// The journal transfer's messages (wire/journal_messages.h): a valid batch and ack pass their
// checks after an encode/decode round trip; every field out of range is refused, never crashes.
#include <catch2/catch.hpp>

#include "wire/journal_messages.h"
#include "wire/limits.h"
#include "wire/peer_messages.h"

using namespace pairfs;
using namespace pairfs::wire;

namespace {

JournalEntryMessage Entry(uint64_t sequence, size_t bytes = 4096) {
  JournalEntryMessage entry;
  entry.sequence = sequence;
  entry.volume = "vm1";
  entry.kind = static_cast<uint8_t>(WriteKind::kData);
  entry.offset = 8192;
  entry.length = bytes;
  entry.data.assign(bytes, 'x');
  return entry;
}

JournalBatchMessage Batch(uint64_t first, size_t entries) {
  JournalBatchMessage batch;
  batch.group = "app";
  batch.first_sequence = first;
  for (size_t i = 0; i < entries; ++i) batch.entries.push_back(Entry(first + i));
  return batch;
}

Status RoundTrip(const JournalBatchMessage& batch) {
  JournalBatchMessage decoded;
  return DecodePeerMessage(EncodeBody(batch), &decoded);
}

}  // namespace

TEST_CASE("a journal batch and its ack pass their checks after a round trip", "[journal-wire]") {
  JournalBatchMessage batch = Batch(7, 3);
  JournalBatchMessage decoded;
  REQUIRE(DecodePeerMessage(EncodeBody(batch), &decoded).ok());
  CHECK(decoded.entries.size() == 3);
  CHECK(decoded.entries[2].sequence == 9);
  CHECK(decoded.entries[0].data.size() == 4096);
  CHECK(RoundTrip(Batch(1, 0)).ok());  // a probe

  JournalAckMessage ack{0, "", "app", 9, 4};
  JournalAckMessage back;
  REQUIRE(DecodePeerMessage(EncodeBody(ack), &back).ok());
  CHECK(back.durable_sequence == 9);
  CHECK(back.applied_sequence == 4);
}

TEST_CASE("journal batches with a field out of range are refused", "[journal-wire]") {
  auto refused = [](JournalBatchMessage batch) {
    Status status = RoundTrip(batch);
    INFO(status.message());
    return status.code() == Code::kInvalidArgument;
  };
  JournalBatchMessage batch = Batch(5, 2);
  batch.group = "../etc";
  CHECK(refused(batch));
  batch = Batch(5, 2);
  batch.group = "";
  CHECK(refused(batch));
  CHECK(refused(Batch(0, 1)));                            // sequence 0
  CHECK(refused(Batch(kMaxCounterValue + 1, 0)));         // beyond 2^63-1
  CHECK(refused(Batch(kMaxCounterValue, 2)));             // runs past the largest
  CHECK(refused(Batch(1, kMaxJournalBatchEntries + 1)));  // too many entries
  batch = Batch(5, 3);
  batch.entries[1].sequence = 7;  // a gap inside the batch
  CHECK(refused(batch));
  batch = Batch(5, 2);
  batch.entries[1].sequence = 5;  // a duplicate inside the batch
  CHECK(refused(batch));
  batch = Batch(5, 1);
  batch.entries[0].volume = "a/b";
  CHECK(refused(batch));
  batch = Batch(5, 1);
  batch.entries[0].kind = 9;
  CHECK(refused(batch));
  batch = Batch(5, 1);
  batch.entries[0].length = 100;  // data of another length
  CHECK(refused(batch));
  batch = Batch(5, 1);
  batch.entries[0].length = 0;
  batch.entries[0].data.clear();
  CHECK(refused(batch));
  batch = Batch(5, 1);
  batch.entries[0].offset = kMaxVolumeBytes;  // past the largest volume
  CHECK(refused(batch));
  batch = Batch(5, 1);
  batch.entries[0].kind = static_cast<uint8_t>(WriteKind::kPunchHole);  // a discard with data
  CHECK(refused(batch));
  batch = Batch(5, 1);
  batch.entries[0].flags = 1;  // a wrap marker never travels
  CHECK(refused(batch));
  batch = Batch(5, 2);  // more data than a batch carries
  batch.entries[0] = Entry(5, kMaxDataBytes);
  batch.entries[1] = Entry(6, 4096);
  CHECK(refused(batch));
}

TEST_CASE("journal acks with a field out of range are refused", "[journal-wire]") {
  auto refused = [](JournalAckMessage ack) {
    JournalAckMessage back;
    return DecodePeerMessage(EncodeBody(ack), &back).code() == Code::kInvalidArgument;
  };
  CHECK(refused(JournalAckMessage{200, "", "app", 1, 1}));    // unknown code
  CHECK(refused(JournalAckMessage{0, "", "", 1, 1}));         // no group
  CHECK(refused(JournalAckMessage{0, "", "app", 3, 4}));      // applied past durable
  CHECK(refused(JournalAckMessage{0, "", "app", ~0ull, 1}));  // beyond 2^63-1
  CHECK(refused(JournalAckMessage{0, std::string(5000, 'm'), "app", 1, 1}));  // long message
  CHECK(!refused(JournalAckMessage{3, "gap", "app", 0, 0}));  // a refusal is well formed
}

TEST_CASE("bytes that are no journal batch are refused as corruption", "[journal-wire]") {
  JournalBatchMessage batch;
  CHECK(DecodePeerMessage(std::string("\xc1\x00garbage", 9), &batch).code() == Code::kCorruption);
}
