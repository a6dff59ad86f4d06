// The journal's first-lap fill (asyncfix, issue 13 speed: Journal::FillAhead): zeros written
// ahead of the tail never touch an entry, also while appends run; it ends at the ring's end and
// does nothing once the ring has wrapped.
#include "node/journal.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "node/limits.h"
#include "tests/unit/node/journal_test_support.h"

namespace {

constexpr uint64_t kFillTestRing =
    pairfs::node::kJournalPrefillBytes + (8 << 20);  // 8 MiB past the prefill
constexpr size_t kFillTestEntryBytes = 256 << 10;

}  // namespace

TEST_CASE("journal fill ahead: zeros past the prefill, never over an entry, racing appends",
          "[journal][fill]") {
  auto file = pairfs::testing::MemoryFile(kFillTestRing);
  // What an unwritten extent would read as here: not zeros, so the fill shows.
  const std::string garbage(1 << 20, '\xab');
  for (uint64_t at = pairfs::node::kJournalPrefillBytes; at < kFillTestRing; at += garbage.size())
    REQUIRE(file->WriteAt(at, garbage.data(), garbage.size(), false).ok());
  auto journal = pairfs::testing::FormatAndOpen(file);

  std::atomic<bool> done{false};
  std::thread filler([&] {
    for (;;) {
      pairfs::Result<uint64_t> left = journal->FillAhead(pairfs::node::kJournalFillAheadStepBytes);
      REQUIRE(left.ok());
      if (left.value() == 0 || done.load()) return;
    }
  });
  // Appends through the prefill and 4 MiB into the filled part, while the fill runs.
  uint64_t count = 0;
  while (count * kFillTestEntryBytes < pairfs::node::kJournalPrefillBytes + (4 << 20)) {
    ++count;
    pairfs::testing::AppendOk(
        *journal, pairfs::testing::DataWrite(
                      "v", count, pairfs::testing::BytesFor(count, kFillTestEntryBytes)));
  }
  REQUIRE(journal->Sync().ok());
  done.store(true);
  filler.join();
  pairfs::Result<uint64_t> rest = journal->FillAhead(kFillTestRing);
  REQUIRE(rest.ok());
  CHECK(rest.value() == 0);  // the whole first lap is filled

  // Every entry reads back whole (none was overwritten by the fill), also after a reopen.
  for (int pass = 0; pass < 2; ++pass) {
    const std::vector<pairfs::node::JournalEntry> held = pairfs::testing::ReadOk(*journal, 1);
    REQUIRE(held.size() == count);
    for (const pairfs::node::JournalEntry& entry : held)
      CHECK(entry.data == pairfs::testing::BytesFor(entry.offset, entry.data.size()));
    journal = pairfs::testing::Reopen(file);
  }
  // The last 1 MiB of the ring (past every entry) is zeros now.
  std::string end(1 << 20, '\x01');
  REQUIRE(file->ReadAt(kFillTestRing - end.size(), end.size(), end.data(), false).ok());
  CHECK(end == std::string(end.size(), '\0'));
}

TEST_CASE("journal fill ahead: nothing to do once the ring has wrapped", "[journal][fill]") {
  auto file = pairfs::testing::MemoryFile(kFillTestRing);
  auto journal = pairfs::testing::FormatAndOpen(file);
  // Fill the ring, free it, and append again: the tail wraps to the ring's start.
  uint64_t count = 0;
  for (;;) {
    pairfs::Result<uint64_t> appended = journal->Append(pairfs::testing::DataWrite(
        "v", count + 1, pairfs::testing::BytesFor(count + 1, kFillTestEntryBytes)));
    if (!appended.ok()) break;
    ++count;
  }
  REQUIRE(journal->Sync().ok());
  REQUIRE(journal->FreeThrough(count).ok());
  // (as large as the others: it does not fit the ring's end, so it goes to the start)
  pairfs::testing::AppendOk(
      *journal, pairfs::testing::DataWrite("v", 0, std::string(kFillTestEntryBytes, 'w')));
  // Garbage past the tail now: the wrapped ring's free space is never filled again.
  const std::string marker(4096, '\xcd');
  REQUIRE(file->WriteAt(kFillTestRing - marker.size(), marker.data(), marker.size(), false).ok());
  pairfs::Result<uint64_t> left = journal->FillAhead(kFillTestRing);
  REQUIRE(left.ok());
  CHECK(left.value() == 0);
  std::string end(marker.size(), '\0');
  REQUIRE(file->ReadAt(kFillTestRing - end.size(), end.size(), end.data(), false).ok());
  CHECK(end == marker);
}

TEST_CASE("journal fill ahead: busy writers get zeros only a lead ahead of their tail",
          "[journal][fill]") {
  using pairfs::node::kJournalFillAheadStepBytes;
  using pairfs::node::kJournalPrefillBytes;
  auto file = pairfs::testing::MemoryFile(kFillTestRing);
  auto journal = pairfs::testing::FormatAndOpen(file);
  const uint64_t lead = kJournalPrefillBytes / 2;
  auto fill_step = [&] {
    pairfs::Result<uint64_t> left = journal->FillAhead(kJournalFillAheadStepBytes, lead);
    REQUIRE(left.ok());
    return left.value();
  };
  uint64_t count = 0;
  auto append = [&] {
    ++count;
    pairfs::testing::AppendOk(
        *journal, pairfs::testing::DataWrite(
                      "v", count, pairfs::testing::BytesFor(count, kFillTestEntryBytes)));
  };
  // No append yet: the writers are idle, the fill steps.
  const uint64_t unfilled = kFillTestRing - kJournalPrefillBytes;
  CHECK(fill_step() == unfilled - kJournalFillAheadStepBytes);
  // An append moved the tail since: busy, and the fill reaches far past the tail: no step.
  append();
  CHECK(fill_step() == unfilled - kJournalFillAheadStepBytes);
  // Nothing appended since the last look: idle again, a step.
  CHECK(fill_step() == unfilled - 2 * kJournalFillAheadStepBytes);
  // Busy writers whose tail comes within the lead of the filled part: the fill steps again.
  while ((count + 1) * kFillTestEntryBytes <
         kJournalPrefillBytes + 2 * kJournalFillAheadStepBytes - lead)
    append();
  CHECK(fill_step() == unfilled - 2 * kJournalFillAheadStepBytes);  // still the lead: none
  append();
  append();
  CHECK(fill_step() == unfilled - 3 * kJournalFillAheadStepBytes);
  // Without a lead (the default), appends do not hold the fill back.
  append();
  pairfs::Result<uint64_t> rest = journal->FillAhead(kFillTestRing);
  REQUIRE(rest.ok());
  CHECK(rest.value() == 0);
}
