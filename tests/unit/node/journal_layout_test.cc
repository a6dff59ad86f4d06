// Where a journal's entries lie in its file (node/FORMAT.md "Journal file"): version 2 starts
// every entry on a 512-byte boundary and writes whole sectors (O_DIRECT where the file system has
// it: PosixBlockFile::WriteSectors), version 1 files of earlier releases stay packed and keep
// working; and a real file written through O_DIRECT reads back and recovers whole.
#include <catch2/catch.hpp>

#include "node/journal.h"
#include "node/journal_format.h"
#include "tests/unit/node/journal_test_support.h"
#include "tests/unit/temp_dir.h"

using namespace pairfs;
using namespace pairfs::node;
using pairfs::testing::AppendOk;
using pairfs::testing::BytesFor;
using pairfs::testing::DataWrite;
using pairfs::testing::FormatAndOpen;
using pairfs::testing::MemoryFile;
using pairfs::testing::NewestSlot;
using pairfs::testing::ReadOk;
using pairfs::testing::Reopen;

namespace {

std::string LayoutRawBytes(BlockFile& file, uint64_t offset, size_t length) {
  std::string bytes(length, '\0');
  REQUIRE(file.ReadAt(offset, length, bytes.data(), false).ok());
  return bytes;
}

JournalHeader LayoutNewestHeader(BlockFile& file) {
  const uint64_t slot = NewestSlot(file);
  Result<JournalHeader> header = DecodeJournalHeader(
      LayoutRawBytes(file, slot * kJournalSlotBytes, kJournalSlotEncodedBytes));
  REQUIRE(header.ok());
  return header.value();
}

// Rewrites a freshly formatted journal's header as an earlier release wrote it (version 1).
void LayoutMakePacked(BlockFile& file) {
  JournalHeader header = LayoutNewestHeader(file);
  header.version = kJournalPackedVersion;
  std::string slots(kJournalDataStart, '\0');
  slots.replace(0, kJournalSlotEncodedBytes, EncodeJournalHeader(header));
  REQUIRE(file.WriteAt(0, slots.data(), slots.size(), false).ok());
  REQUIRE(file.Sync().ok());
}

bool LayoutIsEntryAt(BlockFile& file, uint64_t offset, uint64_t sequence) {
  Result<JournalEntryHeader> header =
      DecodeJournalEntryHeader(LayoutRawBytes(file, offset, kJournalEntryHeaderBytes));
  return header.ok() && header->sequence == sequence;
}

}  // namespace

TEST_CASE("version 2 journals start every entry on a 512-byte boundary, zeros between",
          "[journal]") {
  auto file = MemoryFile();
  auto journal = FormatAndOpen(file);
  CHECK(LayoutNewestHeader(*file).version == kJournalVersion);
  for (int i = 0; i < 3; ++i) AppendOk(*journal, DataWrite("v", i * 4096, BytesFor(i, 1000)));
  REQUIRE(journal->Sync().ok());
  CHECK(JournalEntryBytes(1000) == 1536);
  for (uint64_t sequence = 1; sequence <= 3; ++sequence)
    CHECK(LayoutIsEntryAt(*file, kJournalDataStart + (sequence - 1) * 1536, sequence));
  CHECK(LayoutRawBytes(*file, kJournalDataStart + kJournalEntryHeaderBytes + 1000, 1536 - 1128) ==
        std::string(1536 - 1128, '\0'));
  CHECK(journal->used_bytes() == 3 * 1536);
  journal = Reopen(file);
  CHECK(journal->recovery().last_sequence == 3);
  const std::vector<JournalEntry> entries = ReadOk(*journal, 1);
  REQUIRE(entries.size() == 3);
  CHECK(entries[2].data == BytesFor(2, 1000));
}

TEST_CASE("a version 1 journal of an earlier release stays packed, wraps and recovers",
          "[journal]") {
  auto file = MemoryFile();
  {
    auto formatted = FormatAndOpen(file);
  }
  LayoutMakePacked(*file);
  auto journal = Reopen(file);
  for (int i = 0; i < 3; ++i) AppendOk(*journal, DataWrite("v", i * 4096, BytesFor(i, 1000)));
  REQUIRE(journal->Sync().ok());
  for (uint64_t sequence = 1; sequence <= 3; ++sequence)
    CHECK(LayoutIsEntryAt(*file, kJournalDataStart + (sequence - 1) * 1128, sequence));
  CHECK(journal->used_bytes() == 3 * 1128);
  // Round the small ring a few times: appends, reads and frees keep the packed layout.
  uint64_t next = 4;
  for (int round = 0; round < 200; ++round) {
    const size_t length = 1 + (round * 577) % 3000;
    const uint64_t sequence = AppendOk(*journal, DataWrite("v", 0, BytesFor(next, length)));
    CHECK(sequence == next++);
    REQUIRE(journal->Sync().ok());
    const std::vector<JournalEntry> read = ReadOk(*journal, sequence);
    REQUIRE(read.size() == 1);
    CHECK(read[0].data == BytesFor(sequence, length));
    REQUIRE(journal->FreeThrough(sequence - 1).ok());
  }
  CHECK(LayoutNewestHeader(*file).version == kJournalPackedVersion);  // header writes keep it
  journal = Reopen(file);
  CHECK(journal->recovery().last_sequence == next - 1);
  REQUIRE(ReadOk(*journal, next - 1).size() == 1);
}

TEST_CASE("a journal file written in sectors (O_DIRECT) reads back and recovers whole",
          "[journal]") {
  testing::TempDir dir;
  const std::string path = dir.path() + "/app.journal";
  JournalSetup setup;
  setup.group = "app";
  REQUIRE(Journal::CreateFile(path, 4 << 20, setup).ok());
  std::vector<std::string> written;
  {
    Result<std::unique_ptr<Journal>> journal = Journal::OpenFile(path, "app");
    REQUIRE(journal.ok());
    for (int i = 0; i < 300; ++i) {
      written.push_back(BytesFor(i, i % 3 == 0 ? 4096 : 1 + (i * 131) % 9000));
      AppendOk(*journal.value(), DataWrite("v", 4096 * i, written.back()));
      if (i % 7 == 0) REQUIRE(journal.value()->Sync().ok());
    }
    REQUIRE(journal.value()->Sync().ok());
    const std::vector<JournalEntry> entries = ReadOk(*journal.value(), 1, 64 << 20);
    REQUIRE(entries.size() == written.size());
    for (size_t i = 0; i < entries.size(); ++i) CHECK(entries[i].data == written[i]);
  }
  Result<std::unique_ptr<Journal>> reopened = Journal::OpenFile(path, "app");
  REQUIRE(reopened.ok());
  CHECK(reopened.value()->recovery().last_sequence == written.size());
  const std::vector<JournalEntry> entries = ReadOk(*reopened.value(), 1, 64 << 20);
  REQUIRE(entries.size() == written.size());
  for (size_t i = 0; i < entries.size(); ++i) CHECK(entries[i].data == written[i]);
}
