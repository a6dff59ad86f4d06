// Journal::Read from the file (node/journal_read.cc): entries side by side are read in runs of at
// most kJournalReadRunBytes, each decoded before the next is read, every entry whole and checked.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>

#include "node/journal.h"
#include "node/limits.h"
#include "tests/unit/node/journal_test_support.h"

using namespace pairfs;
using namespace pairfs::node;
using pairfs::testing::AppendOk;
using pairfs::testing::BytesFor;
using pairfs::testing::DataWrite;
using pairfs::testing::FlipByte;
using pairfs::testing::FormatAndOpen;
using pairfs::testing::ReadOk;

namespace {

// A memory file that remembers its largest read and counts its reads.
class ReadSizeFile final : public testing::ForwardingFile {
 public:
  using ForwardingFile::ForwardingFile;
  Result<size_t> ReadAt(uint64_t offset, size_t length, char* out, bool direct) override {
    largest_read = std::max(largest_read, length);
    ++reads;
    return inner_.ReadAt(offset, length, out, direct);
  }

  size_t largest_read = 0;
  int reads = 0;
};

}  // namespace

TEST_CASE("a long journal read goes to the file in runs of at most kJournalReadRunBytes",
          "[journal]") {
  auto file = std::make_shared<ReadSizeFile>(16 << 20);
  auto journal = FormatAndOpen(file);
  // Entries longer than the journal keeps in memory (kJournalRecentEntryBytes): read from the
  // file, side by side in the ring, about 2.6 MiB in all.
  const size_t data_bytes = kJournalRecentEntryBytes + 1000;
  const int count = 40;
  for (int i = 0; i < count; ++i) AppendOk(*journal, DataWrite("v", i, BytesFor(i, data_bytes)));
  REQUIRE(journal->Sync().ok());
  REQUIRE(count * JournalEntryBytes(data_bytes) > 2 * kJournalReadRunBytes);

  file->largest_read = 0;
  file->reads = 0;
  const std::vector<JournalEntry> entries = ReadOk(*journal, 1, kAsyncRestoreReadBytes);
  REQUIRE(entries.size() == count);
  for (int i = 0; i < count; ++i) {
    CHECK(entries[i].sequence == static_cast<uint64_t>(i + 1));
    CHECK(entries[i].offset == static_cast<uint64_t>(i));
    CHECK(entries[i].data == BytesFor(i, data_bytes));
  }
  CHECK(file->largest_read <= kJournalReadRunBytes);
  CHECK(file->reads >= 3);

  // Damage in a later run is still found, and named.
  const int damaged = count - 5;  // entry 36, in the third run
  FlipByte(*file, kJournalDataStart + damaged * JournalEntryBytes(data_bytes) +
                      kJournalEntryHeaderBytes + 100);
  Result<std::vector<JournalEntry>> read = journal->Read(1, kAsyncRestoreReadBytes);
  CHECK(read.status().code() == Code::kCorruption);
  CHECK(read.status().message().find("entry " + std::to_string(damaged + 1)) != std::string::npos);
}

TEST_CASE("a journal entry longer than kJournalReadRunBytes is read whole, in a read of its own",
          "[journal]") {
  // The longest entry (its data at kMaxJournalEntryDataBytes, and its header) is longer.
  auto file = std::make_shared<ReadSizeFile>(16 << 20);
  auto journal = FormatAndOpen(file);
  const size_t long_bytes = kMaxJournalEntryDataBytes;
  REQUIRE(JournalEntryBytes(long_bytes) > kJournalReadRunBytes);
  AppendOk(*journal, DataWrite("v", 0, BytesFor(1, 1000)));
  AppendOk(*journal, DataWrite("v", 1, BytesFor(2, long_bytes)));
  AppendOk(*journal, DataWrite("v", 2, BytesFor(3, 1000)));
  REQUIRE(journal->Sync().ok());
  file->largest_read = 0;
  const std::vector<JournalEntry> entries = ReadOk(*journal, 2, kAsyncRestoreReadBytes);
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].data == BytesFor(2, long_bytes));
  CHECK(entries[1].data == BytesFor(3, 1000));
  CHECK(file->largest_read == JournalEntryBytes(long_bytes));
}
