// The entries a master journal wrote last, in memory (node/recent_entries.h), and its reads of
// them: served from memory while held, from the file once evicted, and never across a reset; a
// restore journal reads its file.
#include "node/recent_entries.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "node/limits.h"
#include "tests/unit/node/journal_test_support.h"

namespace pairfs::node {
namespace {

using testing::BytesFor;
using testing::DataWrite;

JournalEntry Entry(uint64_t sequence, size_t bytes) {
  JournalEntry entry;
  entry.sequence = sequence;
  entry.volume = "v";
  entry.offset = sequence * 4096;
  entry.length = bytes;
  entry.data = BytesFor(sequence, bytes);
  return entry;
}

std::vector<uint64_t> Sequences(const std::vector<JournalEntry>& entries) {
  std::vector<uint64_t> sequences;
  for (const JournalEntry& entry : entries) sequences.push_back(entry.sequence);
  return sequences;
}

TEST_CASE("recent entries: added out of order, taken in order while consecutive",
          "[journal][recent]") {
  RecentEntries recent(1 << 20, 64 << 10);
  for (uint64_t sequence : {3, 1, 2, 5}) recent.Add(Entry(sequence, 100));
  CHECK(Sequences(recent.Take(1, 10, 1 << 20)) == std::vector<uint64_t>{1, 2, 3});  // 4 missing
  CHECK(Sequences(recent.Take(2, 2, 1 << 20)) == std::vector<uint64_t>{2});  // not past `through`
  CHECK(recent.Take(4, 10, 1 << 20).empty());  // not held: the caller reads the disk
  CHECK(Sequences(recent.Take(1, 10, 150)) == std::vector<uint64_t>{1});  // at least one
  CHECK(recent.Take(1, 10, 1 << 20)[1].data == BytesFor(2, 100));
  recent.Clear();
  CHECK(recent.Take(1, 10, 1 << 20).empty());
  CHECK(recent.bytes() == 0);
}

TEST_CASE("recent entries: the oldest go first past the bound; long entries are never held",
          "[journal][recent]") {
  const size_t cost = 300 + 1 + kRecentEntryOverheadBytes;  // data, volume "v", the entry
  RecentEntries recent(3 * cost + 10, 400);
  for (uint64_t sequence = 1; sequence <= 4; ++sequence) recent.Add(Entry(sequence, 300));
  CHECK(recent.bytes() == 3 * cost);
  CHECK(recent.Take(1, 10, 1 << 20).empty());
  CHECK(Sequences(recent.Take(2, 10, 1 << 20)) == std::vector<uint64_t>{2, 3, 4});
  recent.Add(Entry(4, 401));  // too long: not held, and the entry held as 4 is dropped
  CHECK(Sequences(recent.Take(2, 10, 1 << 20)) == std::vector<uint64_t>{2, 3});
  recent.Add(Entry(3, 100));  // held again under the same sequence: replaced, counted once
  CHECK(recent.bytes() == cost + 100 + 1 + kRecentEntryOverheadBytes);
  CHECK(recent.Take(3, 3, 1 << 20)[0].data == BytesFor(3, 100));
}

TEST_CASE("recent entries: entries without data (discards) are bounded too", "[journal][recent]") {
  RecentEntries recent(100 * (1 + kRecentEntryOverheadBytes), 400);
  for (uint64_t sequence = 1; sequence <= 100'000; ++sequence) recent.Add(Entry(sequence, 0));
  CHECK(recent.bytes() <= 100 * (1 + kRecentEntryOverheadBytes));
  CHECK(recent.Take(100'000 - 99, 100'000, 1 << 20).size() == 100);
  CHECK(recent.Take(100'000 - 100, 100'000, 1 << 20).empty());
}

TEST_CASE("a journal reads what it wrote last from memory, and older entries from its file",
          "[journal][recent]") {
  auto file = testing::MemoryFile(16 << 20);
  auto journal = testing::FormatAndOpen(file);
  const size_t data_bytes = 60 << 10;  // held in memory (≤ kJournalRecentEntryBytes)
  const uint64_t entries = kJournalRecentBytes / data_bytes + 8;  // more than memory holds
  std::vector<std::string> data;
  for (uint64_t i = 1; i <= entries; ++i) {
    data.push_back(BytesFor(i, data_bytes));
    testing::AppendOk(*journal, DataWrite("v", i * data_bytes, data.back()));
  }
  REQUIRE(journal->Sync().ok());
  // Damage the first entry and the last on the file: the last still reads whole (from memory),
  // the first, long evicted, is read from the file and its damage found.
  const uint64_t entry_bytes = JournalEntryBytes(data_bytes);
  testing::FlipByte(*file, kJournalDataStart + kJournalEntryHeaderBytes + 10);
  testing::FlipByte(
      *file, kJournalDataStart + (entries - 1) * entry_bytes + kJournalEntryHeaderBytes + 10);
  const std::vector<JournalEntry> last = testing::ReadOk(*journal, entries);
  REQUIRE(last.size() == 1);
  CHECK(last[0].data == data.back());
  CHECK(last[0].offset == entries * data_bytes);
  CHECK(last[0].data_checksum == JournalDataChecksum(data.back()));
  CHECK(journal->Read(1, 1 << 20).status().code() == Code::kCorruption);
}

TEST_CASE("after a reset, a journal never reads an entry written before it", "[journal][recent]") {
  auto file = testing::MemoryFile(1 << 20);
  auto journal = testing::FormatAndOpen(file);
  for (uint64_t i = 1; i <= 3; ++i)
    testing::AppendOk(*journal, DataWrite("v", 0, BytesFor(i, 1000)));
  REQUIRE(journal->Sync().ok());
  REQUIRE(journal->Reset(1).ok());  // the same sequences again, for other data
  CHECK(testing::ReadOk(*journal, 1).empty());
  // Sequence 1 again, short (held in memory); 2 again, too long to hold: read from the file.
  const std::string longer = BytesFor(8, kJournalRecentEntryBytes + 1);
  CHECK(testing::AppendOk(*journal, DataWrite("v", 0, BytesFor(7, 500))) == 1);
  CHECK(testing::AppendOk(*journal, DataWrite("v", 0, longer)) == 2);
  REQUIRE(journal->Sync().ok());
  const std::vector<JournalEntry> read = testing::ReadOk(*journal, 1);
  REQUIRE(read.size() == 2);
  CHECK(read[0].data == BytesFor(7, 500));
  CHECK(read[1].data == longer);
}

TEST_CASE(
    "a restore journal reads the entries it received last from memory, a long one from its "
    "file",
    "[journal][recent]") {
  auto file = testing::MemoryFile(4 << 20);
  auto journal = testing::FormatAndOpen(file, JournalRole::kRestore);
  const std::string data = BytesFor(9, 2000);
  const std::string longer = BytesFor(10, kJournalRecentEntryBytes + 1);
  // Received as one run (AppendReceivedRun), as a batch is: two entries side by side.
  bool stored = false;
  REQUIRE(journal
              ->AppendReceivedRun({{1, DataWrite("v", 4096, data), JournalDataChecksum(data)},
                                   {2, DataWrite("v", 0, longer), JournalDataChecksum(longer)}},
                                  &stored)
              .ok());
  REQUIRE(stored);
  REQUIRE(journal->Sync().ok());
  // Entry 1's bytes in the file damaged: its copy in memory is read, with its checksum.
  testing::FlipByte(*file, kJournalDataStart + kJournalEntryHeaderBytes + 10);
  const std::vector<JournalEntry> first = testing::ReadOk(*journal, 1, 1);
  REQUIRE(first.size() == 1);
  CHECK(first[0].data == data);
  CHECK(first[0].offset == 4096);
  CHECK(first[0].data_checksum == JournalDataChecksum(data));
  // Entry 2 is too long to hold: read from the file, checked.
  CHECK(testing::ReadOk(*journal, 2).at(0).data == longer);
  testing::FlipByte(
      *file, kJournalDataStart + JournalEntryBytes(data.size()) + kJournalEntryHeaderBytes + 10);
  CHECK(journal->Read(2, 1 << 20).status().code() == Code::kCorruption);  // the file's bytes
}

}  // namespace
}  // namespace pairfs::node
