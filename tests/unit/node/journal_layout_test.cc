// Where a journal's entries lie in its file (node/FORMAT.md "Journal file"): version 2 starts
// every entry on a 512-byte boundary and writes whole sectors (O_DIRECT where the file system has
// it: PosixBlockFile::WriteSectors), version 1 files of earlier releases stay packed and keep
// working; a real file written through O_DIRECT reads back and recovers whole; and the first
// lap's fill of such a file leaves nothing in the page cache, nor do reads of its entries.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
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

// Pages of `path` from `offset` on, `length` bytes, that are in the page cache (mincore), or -1
// if the file cannot be mapped.
long LayoutCachedPages(const std::string& path, uint64_t offset, uint64_t length) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  void* map = ::mmap(nullptr, offset + length, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return -1;
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident(length / page);
  long cached = -1;
  if (::mincore(static_cast<char*>(map) + offset, length, resident.data()) == 0) {
    cached = 0;
    for (unsigned char in_cache : resident) cached += in_cache & 1;
  }
  ::munmap(map, offset + length);
  return cached;
}

// Whether files in `dir` take O_DIRECT writes (tmpfs does not; the journal then writes buffered).
bool LayoutDirectWorks(const std::string& dir) {
  const std::string probe = dir + "/direct-probe";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
  ::unlink(probe.c_str());
  return fd >= 0;
}

std::string LayoutRawBytes(BlockFile& file, uint64_t offset, size_t length) {
  std::string bytes(length, '\0');
  REQUIRE(file.ReadAt(offset, length, bytes.data(), false).ok());
  return bytes;
}

JournalHeader LayoutNewestHeader(BlockFile& file) {
  const uint64_t slot = NewestSlot(file);
  Result<JournalHeader> header =
      DecodeJournalHeader(LayoutRawBytes(file, slot * kJournalSlotBytes, kJournalSlotEncodedBytes));
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
  { auto formatted = FormatAndOpen(file); }
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

TEST_CASE("a new journal's zeros and its first lap's fill leave nothing in the page cache",
          "[journal]") {
  // A buffered fill put the whole ring's zeros into the page cache (1 GiB per async group by
  // default, pushing the host's cached data out); they are written past it now, as the entries
  // are: the create's first kJournalPrefillBytes and the background fill of the rest.
  testing::TempDir dir;
  if (!LayoutDirectWorks(dir.path())) {
    WARN("no O_DIRECT in " << dir.path() << ": the fill is buffered there by design");
    return;
  }
  const std::string path = dir.path() + "/app.journal";
  const uint64_t beyond_prefill = 16 << 20;
  JournalSetup setup;
  setup.group = "app";
  REQUIRE(Journal::CreateFile(path, kJournalPrefillBytes + beyond_prefill, setup).ok());
  // (Before Open: its recovery scan reads the ring's start, which caches those pages clean.)
  CHECK(LayoutCachedPages(path, kJournalDataStart, kJournalPrefillBytes - kJournalDataStart) == 0);
  Result<std::unique_ptr<Journal>> journal = Journal::OpenFile(path, "app");
  REQUIRE(journal.ok());
  AppendOk(*journal.value(), DataWrite("v", 0, BytesFor(1, 4096)));
  Result<uint64_t> remaining = journal.value()->FillAhead(UINT64_MAX);
  REQUIRE(remaining.ok());
  CHECK(remaining.value() == 0);
  CHECK(LayoutCachedPages(path, kJournalPrefillBytes, beyond_prefill) == 0);
  // The filled ring takes entries as before.
  AppendOk(*journal.value(), DataWrite("v", 4096, BytesFor(2, 8192)));
  REQUIRE(journal.value()->Sync().ok());
  CHECK(ReadOk(*journal.value(), 1).size() == 2);
}

TEST_CASE("a version 2 journal's entries are read past the page cache", "[journal]") {
  // The transfer and the restore thread read each entry once: cached, those pages only cost the
  // host allocations (and readahead of the ring's zeros ahead) and pushed its cached data out.
  testing::TempDir dir;
  if (!LayoutDirectWorks(dir.path())) {
    WARN("no O_DIRECT in " << dir.path() << ": the journal is read buffered there by design");
    return;
  }
  const std::string path = dir.path() + "/app.journal";
  JournalSetup setup;
  setup.group = "app";
  REQUIRE(Journal::CreateFile(path, 4 << 20, setup).ok());
  Result<std::unique_ptr<Journal>> journal = Journal::OpenFile(path, "app");
  REQUIRE(journal.ok());
  std::vector<std::string> written;
  for (int i = 0; i < 50; ++i) {
    written.push_back(BytesFor(i, 8192 - i));
    AppendOk(*journal.value(), DataWrite("v", 8192 * i, written.back()));
  }
  REQUIRE(journal.value()->Sync().ok());
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);  // what the recovery scan cached
  REQUIRE(fd >= 0);
  (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
  REQUIRE(LayoutCachedPages(path, kJournalDataStart, 1 << 20) == 0);
  const std::vector<JournalEntry> entries = ReadOk(*journal.value(), 1, 64 << 20);
  REQUIRE(entries.size() == written.size());
  for (size_t i = 0; i < entries.size(); ++i) CHECK(entries[i].data == written[i]);
  CHECK(LayoutCachedPages(path, kJournalDataStart, 1 << 20) == 0);
}
