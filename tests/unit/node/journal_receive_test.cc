// A restore journal storing a received batch (Journal::AppendReceivedRun, node/journal_receive.cc):
// the entries that follow each other in the ring go to disk in one write, across a wrap too, and
// read back after a crash; duplicates, gaps and conflicts inside a batch as AppendReceived.
#include <catch2/catch.hpp>

#include <deque>

#include "node/journal.h"
#include "tests/unit/node/journal_test_support.h"

using namespace pairfs;
using namespace pairfs::node;
using pairfs::testing::BytesFor;
using pairfs::testing::DataWrite;
using pairfs::testing::FormatAndOpen;
using pairfs::testing::ReadOk;
using pairfs::testing::Reopen;

namespace {

// A journal file in memory that counts the writes it is given (entries and headers alike).
class CountingFile final : public testing::ForwardingFile {
 public:
  using ForwardingFile::ForwardingFile;
  Status WriteAt(uint64_t offset, const char* data, size_t length, bool direct) override {
    ++writes;
    return inner_.WriteAt(offset, data, length, direct);
  }
  void Crash() { inner_.Crash(); }
  void FailWrites(int error_number) { inner_.FailWrites(error_number); }

  int writes = 0;
};

constexpr uint64_t kFileBytes = 64 * 1024;

// The data of entry `sequence`: `length` bytes that differ from every other entry's.
std::string DataOf(uint64_t sequence, size_t length) { return BytesFor(sequence * 7919, length); }

// Entries `first`.. as the master sends them, entry i with `lengths[i]` bytes for volume "v" at
// offset 4096 * its sequence. `data` keeps their bytes alive (a deque: they never move).
std::vector<ReceivedEntry> Batch(uint64_t first, const std::vector<size_t>& lengths,
                                 std::deque<std::string>& data) {
  std::vector<ReceivedEntry> entries;
  for (size_t i = 0; i < lengths.size(); ++i) {
    const uint64_t sequence = first + i;
    data.push_back(DataOf(sequence, lengths[i]));
    entries.push_back(ReceivedEntry{sequence, DataWrite("v", 4096 * sequence, data.back()),
                                    JournalDataChecksum(data.back())});
  }
  return entries;
}

// Entries `first`..`last` read back, each with its own data.
void CheckHeld(const Journal& journal, uint64_t first, uint64_t last,
               const std::vector<size_t>& lengths) {
  const std::vector<JournalEntry> entries = ReadOk(journal, first);
  REQUIRE(entries.size() == last - first + 1);
  for (size_t i = 0; i < entries.size(); ++i) {
    INFO("entry " << first + i);
    CHECK(entries[i].sequence == first + i);
    CHECK(entries[i].offset == 4096 * (first + i));
    CHECK(entries[i].data == DataOf(first + i, lengths[i]));
  }
}

}  // namespace

TEST_CASE("a received batch goes to the restore journal in one write per run, across a wrap too",
          "[journal]") {
  auto file = std::make_shared<CountingFile>(kFileBytes);
  auto journal = FormatAndOpen(file, JournalRole::kRestore);
  std::deque<std::string> data;

  // Entries of 200 bytes take 512 each: fill the ring up to 1024 bytes before its end.
  const uint64_t ring = kFileBytes - kJournalDataStart;
  const size_t count = (ring - 1024) / JournalEntryBytes(200);
  const std::vector<size_t> small(count, 200);
  file->writes = 0;
  bool stored = false;
  REQUIRE(journal->AppendReceivedRun(Batch(1, small, data), &stored).ok());
  CHECK(stored);
  CHECK(file->writes == 1);
  CHECK(journal->next_sequence() == count + 1);
  REQUIRE(journal->Sync().ok());
  file->Crash();
  journal = Reopen(file);
  CheckHeld(*journal, 1, count, small);
  REQUIRE(journal->MarkApplied(count).ok());
  REQUIRE(journal->FreeThrough(count).ok());

  // 200 bytes still fit before the end; 1000 bytes (1536 in the ring) do not: a wrap marker
  // where they would have gone, then they and what follows from the start of the ring.
  const std::vector<size_t> wrapping = {200, 1000, 200, 200};
  file->writes = 0;
  REQUIRE(journal->AppendReceivedRun(Batch(count + 1, wrapping, data), &stored).ok());
  CHECK(file->writes == 3);  // the run before the end, the marker, the run from the start
  REQUIRE(journal->Sync().ok());
  file->Crash();
  journal = Reopen(file);
  CheckHeld(*journal, count + 1, count + 4, wrapping);
}

TEST_CASE("a received batch with held, gapped or conflicting entries stores what comes before",
          "[journal]") {
  auto file = std::make_shared<CountingFile>(kFileBytes);
  auto journal = FormatAndOpen(file, JournalRole::kRestore, 10);
  std::deque<std::string> data;
  bool stored = false;
  REQUIRE(journal->AppendReceivedRun(Batch(10, {300, 300}, data), &stored).ok());

  // 10 and 11 are held (acknowledged, not stored again); 12 and 13 stored; 15 is a gap.
  std::vector<ReceivedEntry> batch = Batch(10, {300, 300, 300, 300}, data);
  std::vector<ReceivedEntry> gap = Batch(15, {300}, data);
  batch.push_back(gap.front());
  file->writes = 0;
  Status refused = journal->AppendReceivedRun(batch, &stored);
  CHECK(refused.code() == Code::kInvalidArgument);
  CHECK(refused.message().find("before 14") != std::string::npos);
  CHECK(stored);
  CHECK(file->writes == 1);
  CHECK(journal->next_sequence() == 14);

  // Only duplicates: nothing stored, nothing written.
  file->writes = 0;
  REQUIRE(journal->AppendReceivedRun(Batch(12, {300, 300}, data), &stored).ok());
  CHECK_FALSE(stored);
  CHECK(file->writes == 0);

  // 14 stored, then 13 again with other data: refused as a conflict, 14 kept.
  std::vector<ReceivedEntry> conflicting = Batch(14, {300}, data);
  std::vector<ReceivedEntry> other = Batch(1013, {300}, data);
  other.front().sequence = 13;
  conflicting.push_back(other.front());
  CHECK(journal->AppendReceivedRun(conflicting, &stored).code() == Code::kCorruption);
  CHECK(stored);
  CHECK(journal->next_sequence() == 15);

  const JournalCounters counters = journal->counters();
  CHECK(counters.duplicates == 5);
  CHECK(counters.refused_gaps == 1);
  CHECK(counters.conflicting_duplicates == 1);
  CHECK(counters.appended == 5);
  REQUIRE(journal->Sync().ok());
  file->Crash();
  journal = Reopen(file);
  CheckHeld(*journal, 10, 14, {300, 300, 300, 300, 300});

  // A failing disk fails the journal (sticky), as a failed append does.
  file->FailWrites(EIO);
  CHECK(journal->AppendReceivedRun(Batch(15, {300, 300}, data), &stored).code() == Code::kIoError);
  CHECK(journal->health().code() == Code::kIoError);
}
