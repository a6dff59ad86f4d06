// The restore side of a journal (entries received under the master's sequences, batches,
// applied pointer) and the role changes and resets of the four-role swap.
#include <catch2/catch.hpp>

#include "node/journal.h"
#include "tests/unit/node/journal_test_support.h"

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

// Entry `sequence` as the restore journal receives it from the master: 200 bytes of data for
// volume "v" at offset `sequence`, with batch `flags`.
Result<Receipt> Receive(Journal& journal, uint64_t sequence, uint16_t flags) {
  const std::string data = BytesFor(sequence, 200);
  return journal.AppendReceived(sequence, DataWrite("v", sequence, data, flags),
                                JournalDataChecksum(data));
}

}  // namespace

TEST_CASE(
    "restore journal stores the next sequence only, acknowledges duplicates, counts "
    "refusals",
    "[journal]") {
  auto file = MemoryFile();
  auto journal = FormatAndOpen(file, JournalRole::kRestore, 10);
  const std::string data = BytesFor(10, 300);
  const uint64_t checksum = JournalDataChecksum(data);
  Result<Receipt> stored = journal->AppendReceived(10, DataWrite("v", 0, data), checksum);
  REQUIRE(stored.ok());
  CHECK(stored.value() == Receipt::kStored);

  Result<Receipt> gap = journal->AppendReceived(12, DataWrite("v", 0, data), checksum);
  CHECK(gap.status().code() == Code::kInvalidArgument);
  CHECK(gap.status().message().find("before 11") != std::string::npos);

  Result<Receipt> again = journal->AppendReceived(10, DataWrite("v", 0, data), checksum);
  REQUIRE(again.ok());
  CHECK(again.value() == Receipt::kAlreadyHeld);

  const std::string other = BytesFor(99, 300);
  Result<Receipt> conflicting =
      journal->AppendReceived(10, DataWrite("v", 0, other), JournalDataChecksum(other));
  CHECK(conflicting.status().code() == Code::kCorruption);

  Result<Receipt> damaged = journal->AppendReceived(11, DataWrite("v", 0, other), checksum);
  CHECK(damaged.status().code() == Code::kCorruption);

  CHECK(journal->AppendReceived(11, DataWrite("v", 0, other), JournalDataChecksum(other)).ok());
  CHECK(journal->next_sequence() == 12);
  REQUIRE(journal->WaitDurable(11).ok());

  const JournalCounters counters = journal->counters();
  CHECK(counters.refused_gaps == 1);
  CHECK(counters.duplicates == 2);
  CHECK(counters.conflicting_duplicates == 1);
  CHECK(counters.bad_checksums == 1);
  CHECK(counters.appended == 2);

  // Applied and freed entries stay acknowledged as held.
  REQUIRE(journal->MarkApplied(11).ok());
  REQUIRE(journal->FreeThrough(11).ok());
  Result<Receipt> old = journal->AppendReceived(10, DataWrite("v", 0, data), checksum);
  REQUIRE(old.ok());
  CHECK(old.value() == Receipt::kAlreadyHeld);

  // A restore journal takes no local appends; a master receives none.
  CHECK(journal->Append(DataWrite("v", 0, data)).status().code() == Code::kInvalidArgument);
  auto master = FormatAndOpen(MemoryFile());
  CHECK(master->AppendReceived(1, DataWrite("v", 0, data), checksum).status().code() ==
        Code::kInvalidArgument);
}

TEST_CASE("restore journal applies a batch only once all of it is durable", "[journal]") {
  auto file = MemoryFile();
  auto journal = FormatAndOpen(file, JournalRole::kRestore);
  auto receive = [&](uint64_t sequence, uint16_t flags) {
    return Receive(*journal, sequence, flags);
  };
  REQUIRE(receive(1, 0).ok());
  REQUIRE(receive(2, 0).ok());
  REQUIRE(receive(3, kJournalBatchBegin).ok());
  REQUIRE(receive(4, 0).ok());
  CHECK(journal->ApplicableThrough() == 0);  // nothing durable yet
  REQUIRE(journal->Sync().ok());
  CHECK(journal->ApplicableThrough() == 2);  // the batch from 3 has no end yet
  CHECK(receive(5, kJournalBatchBegin).status().code() == Code::kInvalidArgument);
  CHECK(journal->MarkApplied(3).code() == Code::kInvalidArgument);
  REQUIRE(journal->MarkApplied(2).ok());

  // A crash keeps the incomplete batch unapplicable.
  journal = Reopen(file);
  CHECK(journal->applied_sequence() == 2);
  CHECK(journal->ApplicableThrough() == 2);
  REQUIRE(receive(5, kJournalBatchEnd).ok());
  CHECK(journal->ApplicableThrough() == 2);  // its end is not durable yet
  REQUIRE(journal->Sync().ok());
  CHECK(journal->ApplicableThrough() == 5);
  REQUIRE(receive(6, kJournalBatchBegin | kJournalBatchEnd).ok());  // a batch of one
  REQUIRE(receive(7, 0).ok());
  REQUIRE(journal->Sync().ok());
  CHECK(journal->ApplicableThrough() == 7);
  CHECK(receive(8, kJournalBatchEnd).status().code() == Code::kInvalidArgument);
  REQUIRE(journal->MarkApplied(7).ok());
  CHECK(journal->FreeThrough(8).code() == Code::kInvalidArgument);
  REQUIRE(journal->FreeThrough(7).ok());
  journal = Reopen(file);
  CHECK(journal->applied_sequence() == 7);
  CHECK(journal->first_sequence() == 8);
}

TEST_CASE("journal role changes and resets are durable", "[journal]") {
  auto file = MemoryFile();
  auto journal = FormatAndOpen(file);
  for (int i = 0; i < 3; ++i) AppendOk(*journal, DataWrite("v", i, BytesFor(i, 100)));
  // The swap: every entry durable and the new role in one header write.
  REQUIRE(journal->SetRole(JournalRole::kRestore).ok());
  CHECK(journal->durable_sequence() == 3);
  journal = Reopen(file);
  CHECK(journal->role() == JournalRole::kRestore);
  CHECK(journal->last_sequence() == 3);

  // The new primary went on from 2: the old tail is dropped, and stays dropped after a crash.
  REQUIRE(journal->Reset(2).ok());
  CHECK(journal->first_sequence() == 2);
  CHECK(journal->next_sequence() == 2);
  CHECK(journal->used_bytes() == 0);
  CHECK(ReadOk(*journal, 2).empty());
  const std::string data = BytesFor(2, 100);
  REQUIRE(journal->AppendReceived(2, DataWrite("v", 9, data), JournalDataChecksum(data)).ok());
  file->Crash();  // entry 2 was not synced; the old entries 2 and 3 must not come back
  journal = Reopen(file);
  CHECK(journal->first_sequence() == 2);
  CHECK(journal->last_sequence() == 1);
  CHECK(journal->applied_sequence() == 1);
}

TEST_CASE("a reset journal never recovers an older lap's entry of the same sequence", "[journal]") {
  auto file = MemoryFile();
  auto journal = FormatAndOpen(file);
  // Entries of one size sit on one grid lap after lap, so the tail lands on an older entry.
  while (journal->last_sequence() < 200) {
    AppendOk(*journal, DataWrite("v", 0, BytesFor(journal->next_sequence(), 1000)));
    REQUIRE(journal->Sync().ok());
    REQUIRE(journal->FreeThrough(journal->last_sequence()).ok());
  }
  std::string slot(kJournalSlotEncodedBytes, '\0');
  REQUIRE(
      file->ReadAt(NewestSlot(*file) * kJournalSlotBytes, slot.size(), slot.data(), false).ok());
  Result<JournalHeader> header = DecodeJournalHeader(slot);
  REQUIRE(header.ok());
  std::string bytes(kJournalEntryHeaderBytes, '\0');
  REQUIRE(file->ReadAt(header->head_offset, bytes.size(), bytes.data(), false).ok());
  Result<JournalEntryHeader> stale = DecodeJournalEntryHeader(bytes);
  REQUIRE(stale.ok());
  REQUIRE(stale->sequence < 200);
  // The new primary's sequence goes on from exactly that older entry's.
  REQUIRE(journal->Reset(stale->sequence).ok());
  journal = Reopen(file);
  CHECK(journal->first_sequence() == stale->sequence);
  CHECK(journal->last_sequence() == stale->sequence - 1);
  CHECK(journal->recovery().end_reason.find("stale") != std::string::npos);
}

// A restore pass reads at most kAsyncRestoreReadBytes and may stop inside a batch; the transfer
// may be acknowledged inside one too. Freeing there would put the head inside the batch, and
// recovery (which reads from the head and refuses an end without its begin) would lose every
// entry after that end.
TEST_CASE("freeing inside a batch keeps the head at the batch's begin; a restart loses nothing",
          "[journal]") {
  SECTION("restore journal") {
    auto file = MemoryFile();
    auto journal = FormatAndOpen(file, JournalRole::kRestore);
    auto receive = [&](uint64_t sequence, uint16_t flags) {
      return Receive(*journal, sequence, flags);
    };
    REQUIRE(receive(1, 0).ok());
    REQUIRE(receive(2, kJournalBatchBegin).ok());
    REQUIRE(receive(3, 0).ok());
    REQUIRE(receive(4, kJournalBatchEnd).ok());
    REQUIRE(receive(5, 0).ok());
    REQUIRE(receive(6, kJournalBatchBegin | kJournalBatchEnd).ok());
    REQUIRE(journal->Sync().ok());
    REQUIRE(journal->ApplicableThrough() == 6);
    REQUIRE(journal->MarkApplied(3).ok());  // a pass that stopped inside the batch
    REQUIRE(journal->FreeThrough(3).ok());
    CHECK(journal->first_sequence() == 2);  // freed through 1 only

    journal = Reopen(file);
    CHECK(journal->applied_sequence() == 3);
    CHECK(journal->first_sequence() == 2);
    CHECK(journal->last_sequence() == 6);
    CHECK(journal->ApplicableThrough() == 6);
    REQUIRE(ReadOk(*journal, 4).size() == 3);  // 4, 5 and 6 are still there to apply
    REQUIRE(journal->MarkApplied(6).ok());
    REQUIRE(journal->FreeThrough(6).ok());
    CHECK(journal->first_sequence() == 7);
  }
  SECTION("master journal") {
    auto file = MemoryFile();
    auto journal = FormatAndOpen(file);
    const std::string data = BytesFor(1, 300);
    AppendOk(*journal, DataWrite("v", 0, data, kJournalBatchBegin));
    AppendOk(*journal, DataWrite("v", 4096, data));
    AppendOk(*journal, DataWrite("v", 8192, data, kJournalBatchEnd));
    AppendOk(*journal, DataWrite("v", 12288, data));
    REQUIRE(journal->Sync().ok());
    REQUIRE(journal->FreeThrough(2).ok());  // acknowledged inside the batch
    CHECK(journal->first_sequence() == 1);
    journal = Reopen(file);
    CHECK(journal->first_sequence() == 1);
    CHECK(journal->last_sequence() == 4);
    REQUIRE(journal->FreeThrough(3).ok());
    CHECK(journal->first_sequence() == 4);
    journal = Reopen(file);
    CHECK(journal->first_sequence() == 4);
    CHECK(journal->last_sequence() == 4);
  }
}

TEST_CASE("MarkApplied with free records applied and frees in one header write", "[journal]") {
  auto file = MemoryFile();
  auto journal = FormatAndOpen(file, JournalRole::kRestore);
  REQUIRE(Receive(*journal, 1, 0).ok());
  REQUIRE(Receive(*journal, 2, kJournalBatchBegin).ok());
  REQUIRE(Receive(*journal, 3, kJournalBatchEnd).ok());
  REQUIRE(Receive(*journal, 4, 0).ok());
  REQUIRE(journal->Sync().ok());
  const uint64_t before = journal->counters().header_writes;
  REQUIRE(journal->MarkApplied(2, /*free=*/true).ok());  // inside the batch: frees through 1
  CHECK(journal->counters().header_writes == before + 1);
  CHECK(journal->applied_sequence() == 2);
  CHECK(journal->first_sequence() == 2);
  journal = Reopen(file);
  CHECK(journal->applied_sequence() == 2);
  CHECK(journal->first_sequence() == 2);
  REQUIRE(journal->MarkApplied(4, /*free=*/true).ok());
  CHECK(journal->first_sequence() == 5);
  journal = Reopen(file);
  CHECK(journal->applied_sequence() == 4);
  CHECK(journal->first_sequence() == 5);
  CHECK(journal->last_sequence() == 4);
}
