#include "node/journal.h"

#include <catch2/catch.hpp>

#include <condition_variable>
#include <cstring>
#include <thread>

#include "node/limits.h"
#include "tests/unit/node/journal_test_support.h"
#include "wire/endian.h"

using namespace pairfs;
using namespace pairfs::node;
using pairfs::testing::AppendOk;
using pairfs::testing::BytesFor;
using pairfs::testing::DataWrite;
using pairfs::testing::FlipByte;
using pairfs::testing::FormatAndOpen;
using pairfs::testing::MemoryFile;
using pairfs::testing::NewestSlot;
using pairfs::testing::ReadOk;
using pairfs::testing::Reopen;

namespace {

constexpr uint64_t kSmallRing = 64 * 1024;

// A file whose syncs wait at a gate the test opens: shows which callers share a sync.
class GatedFile final : public testing::ForwardingFile {
 public:
  using ForwardingFile::ForwardingFile;
  Status Sync() override {
    std::unique_lock<std::mutex> lock(mutex_);
    ++syncs_entered_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
    return inner_.Sync();
  }

  void Close() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = false;
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  void WaitForSyncs(int count) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return syncs_entered_ >= count; });
  }
  int syncs_entered() {
    std::lock_guard<std::mutex> lock(mutex_);
    return syncs_entered_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = true;
  int syncs_entered_ = 0;
};

}  // namespace

TEST_CASE("journal entries read back whole once durable, writes and discards alike", "[journal]") {
  auto file = MemoryFile();
  auto journal = FormatAndOpen(file);
  CHECK(journal->first_sequence() == 1);
  CHECK(journal->last_sequence() == 0);
  CHECK(journal->used_bytes() == 0);

  const std::string four_k = BytesFor(1, 4096);
  CHECK(AppendOk(*journal, DataWrite("db", 8192, four_k)) == 1);
  CHECK(AppendOk(*journal,
                 JournalWrite{"dblog", wire::WriteKind::kPunchHole, 1 << 20, 65536, {}, 0}) == 2);
  CHECK(AppendOk(*journal, DataWrite("db", 0, "x")) == 3);
  // A 4 KiB write takes its data and one entry header, not 8 KiB: in whole 512-byte units
  // (version 2, written with O_DIRECT), so 4608 bytes; a discard and a 1-byte write one unit each.
  CHECK(journal->used_bytes() == 4608 + 512 + 512);
  CHECK(journal->used_bytes() ==
        JournalEntryBytes(4096) + JournalEntryBytes(0) + JournalEntryBytes(1));

  // Nothing is read before it is durable: the master never ships what a crash could take back.
  CHECK(ReadOk(*journal, 1).empty());
  REQUIRE(journal->WaitDurable(2).ok());
  CHECK(journal->durable_sequence() >= 2);
  REQUIRE(journal->Sync().ok());
  const std::vector<JournalEntry> entries = ReadOk(*journal, 1);
  REQUIRE(entries.size() == 3);
  CHECK(entries[0].sequence == 1);
  CHECK(entries[0].volume == "db");
  CHECK(entries[0].offset == 8192);
  CHECK(entries[0].data == four_k);
  CHECK(entries[0].data_checksum == JournalDataChecksum(four_k));
  CHECK(entries[1].kind == wire::WriteKind::kPunchHole);
  CHECK(entries[1].volume == "dblog");
  CHECK(entries[1].length == 65536);
  CHECK(entries[1].data.empty());
  CHECK(entries[2].data == "x");

  // max_bytes bounds the data, but one entry is always returned.
  CHECK(ReadOk(*journal, 1, 10).size() == 1);
  CHECK(ReadOk(*journal, 2, 10).size() == 2);  // the discard carries no data
  CHECK(ReadOk(*journal, 4).empty());

  REQUIRE(journal->FreeThrough(1).ok());
  CHECK(journal->first_sequence() == 2);
  CHECK(journal->Read(1, 100).status().code() == Code::kNotFound);
  CHECK(journal->used_bytes() == 2 * kJournalEntryAlignBytes);
}

TEST_CASE("journal entries survive reopening; unsynced ones may be lost to a crash", "[journal]") {
  auto file = MemoryFile();
  {
    auto journal = FormatAndOpen(file);
    for (int i = 0; i < 5; ++i) AppendOk(*journal, DataWrite("db", i * 4096, BytesFor(i, 100)));
    REQUIRE(journal->Sync().ok());
    AppendOk(*journal, DataWrite("db", 0, "lost"));
  }
  file->Crash();
  auto journal = Reopen(file);
  CHECK(journal->recovery().first_sequence == 1);
  CHECK(journal->recovery().last_sequence == 5);
  CHECK(journal->recovery().entries == 5);
  CHECK_FALSE(journal->recovery().lost_durable_entries());
  CHECK(journal->durable_sequence() == 5);
  const std::vector<JournalEntry> entries = ReadOk(*journal, 1);
  REQUIRE(entries.size() == 5);
  for (int i = 0; i < 5; ++i) CHECK(entries[i].data == BytesFor(i, 100));
  // The sequence goes on from the last recovered entry.
  CHECK(AppendOk(*journal, DataWrite("db", 0, "next")) == 6);
}

TEST_CASE("journal wraps around a small ring many times and stays readable", "[journal]") {
  auto file = MemoryFile();
  auto journal = FormatAndOpen(file);
  std::mt19937_64 random(7);
  uint64_t freed = 0;
  for (uint64_t round = 0; round < 3000; ++round) {
    const size_t length = random() % 3000;
    Result<uint64_t> appended = journal->Append(DataWrite("v", round, BytesFor(round, length)));
    if (appended.status().code() == Code::kNoSpace) {
      REQUIRE(journal->Sync().ok());
      // Check what is held, then free most of it, as the secondary's acknowledgements do.
      const std::vector<JournalEntry> held = ReadOk(*journal, freed + 1);
      REQUIRE(held.size() == journal->last_sequence() - freed);
      for (const JournalEntry& entry : held)
        REQUIRE(entry.data == BytesFor(entry.offset, entry.data.size()));
      freed = journal->last_sequence() - random() % 3;
      REQUIRE(journal->FreeThrough(freed).ok());
      if (random() % 4 == 0) journal = Reopen(file);
      continue;
    }
    INFO(appended.status().message());
    REQUIRE(appended.ok());
    REQUIRE(journal->used_bytes() <= journal->capacity_bytes());
  }
  CHECK(journal->last_sequence() > 10 * (kSmallRing / 3000));  // many laps of the ring
  REQUIRE(journal->Sync().ok());
  journal = Reopen(file);
  CHECK(journal->first_sequence() == freed + 1);
  const std::vector<JournalEntry> held = ReadOk(*journal, freed + 1);
  CHECK(held.size() == journal->last_sequence() - freed);
  for (const JournalEntry& entry : held)
    CHECK(entry.data == BytesFor(entry.offset, entry.data.size()));
}

TEST_CASE("a full journal refuses with NoSpace at once, and takes entries again once freed",
          "[journal]") {
  auto file = MemoryFile();
  auto journal = FormatAndOpen(file);
  const std::string data = BytesFor(3, 8000);
  uint64_t appended = 0;
  for (;;) {
    Result<uint64_t> sequence = journal->Append(DataWrite("v", 0, data));
    if (!sequence.ok()) {
      CHECK(sequence.status().code() == Code::kNoSpace);
      break;
    }
    ++appended;
  }
  const uint64_t capacity = journal->capacity_bytes();
  CHECK(appended == capacity / JournalEntryBytes(data.size()));
  CHECK(journal->AboveHighWater(80));
  CHECK_FALSE(journal->AboveHighWater(100));
  // Freeing needs durability first: a master frees only what the secondary applied.
  CHECK(journal->FreeThrough(2).code() == Code::kInvalidArgument);
  REQUIRE(journal->Sync().ok());
  REQUIRE(journal->FreeThrough(2).ok());
  // The two freed entries' room, at the start of the ring.
  CHECK(AppendOk(*journal, DataWrite("v", 0, data)) == appended + 1);
  CHECK(AppendOk(*journal, DataWrite("v", 0, data)) == appended + 2);
  CHECK(journal->Append(DataWrite("v", 0, data)).status().code() == Code::kNoSpace);
  // An entry larger than the whole ring never fits.
  REQUIRE(journal->Sync().ok());
  REQUIRE(journal->FreeThrough(journal->last_sequence()).ok());
  CHECK(journal->used_bytes() == 0);
  CHECK_FALSE(journal->AboveHighWater(1));
  const std::string huge(kMaxJournalEntryDataBytes, 'h');
  CHECK(journal->Append(DataWrite("v", 0, huge)).status().code() == Code::kNoSpace);
  // The full ring is recovered whole after a restart.
  journal = Reopen(file);
  CHECK(journal->used_bytes() == 0);
  CHECK(journal->first_sequence() == appended + 3);
}

TEST_CASE("journal group commit: waiters share a sync and a durable sequence costs none",
          "[journal]") {
  auto file = std::make_shared<GatedFile>(kSmallRing);
  auto journal = FormatAndOpen(file);
  const uint64_t syncs_before = journal->counters().syncs;
  AppendOk(*journal, DataWrite("v", 0, "one"));
  file->Close();
  Status waited[3];
  // Counted before the first waiter starts: read after, it may already include that waiter's
  // sync, and the wait below would wait for a sync that never comes (a hang seen under load).
  const int syncs_entered = file->syncs_entered();
  std::thread first([&] { waited[0] = journal->WaitDurable(1); });
  file->WaitForSyncs(syncs_entered + 1);  // the first waiter's sync, held at the gate
  AppendOk(*journal, DataWrite("v", 0, "two"));
  AppendOk(*journal, DataWrite("v", 0, "three"));
  std::thread second([&] { waited[1] = journal->WaitDurable(2); });
  std::thread third([&] { waited[2] = journal->WaitDurable(3); });
  file->Open();
  first.join();
  second.join();
  third.join();
  for (const Status& status : waited) CHECK(status.ok());
  // One sync for entry 1, one shared by entries 2 and 3.
  CHECK(journal->counters().syncs - syncs_before == 2);
  CHECK(journal->durable_sequence() == 3);
  REQUIRE(journal->WaitDurable(2).ok());
  REQUIRE(journal->Sync().ok());
  CHECK(journal->counters().syncs - syncs_before == 2);
  CHECK(journal->WaitDurable(4).code() == Code::kInvalidArgument);
}

TEST_CASE("a torn header slot loses only its own update: the other slot wins", "[journal]") {
  auto file = MemoryFile();
  {
    auto journal = FormatAndOpen(file);
    for (int i = 0; i < 4; ++i) AppendOk(*journal, DataWrite("v", i, BytesFor(i, 500)));
    REQUIRE(journal->Sync().ok());
    REQUIRE(journal->FreeThrough(1).ok());
    REQUIRE(journal->FreeThrough(2).ok());  // the newest slot says head 3, the other head 2
  }
  const uint64_t newest = NewestSlot(*file);
  FlipByte(*file, newest * kJournalSlotBytes + 50);
  {
    auto journal = Reopen(file);
    CHECK(journal->first_sequence() == 2);  // the older pointer: entry 2 is held again
    CHECK(journal->last_sequence() == 4);
    CHECK(ReadOk(*journal, 2).size() == 3);
  }
  // Open wrote a new epoch into the broken slot; break both now.
  FlipByte(*file, 10);
  FlipByte(*file, kJournalSlotBytes + 10);
  Result<std::unique_ptr<Journal>> broken = Journal::Open(file, "app");
  CHECK(broken.status().code() == Code::kCorruption);
  CHECK(broken.status().message().find("neither header slot") != std::string::npos);
}

TEST_CASE("a corrupt data byte is Corruption on read, and recovery stops before it", "[journal]") {
  auto file = MemoryFile(1 << 20);
  auto journal = FormatAndOpen(file);
  // Entries longer than the journal keeps in memory (kJournalRecentEntryBytes): read from the file.
  const size_t data_bytes = kJournalRecentEntryBytes + 1000;
  for (int i = 0; i < 5; ++i) AppendOk(*journal, DataWrite("v", i, BytesFor(i, data_bytes)));
  REQUIRE(journal->SetRole(JournalRole::kMaster).ok());  // a header write: 5 entries durable
  // Entry 3's data: after two whole entries and its own header.
  const uint64_t entry_bytes = JournalEntryBytes(data_bytes);
  FlipByte(*file, kJournalDataStart + 2 * entry_bytes + kJournalEntryHeaderBytes + 500);
  Result<std::vector<JournalEntry>> read = journal->Read(1, 1 << 20);
  CHECK(read.status().code() == Code::kCorruption);
  CHECK(read.status().message().find("entry 3") != std::string::npos);
  CHECK(ReadOk(*journal, 1, 2 * data_bytes).size() == 2);  // the entries before it read fine

  journal = Reopen(file);
  CHECK(journal->recovery().last_sequence == 2);
  CHECK(journal->recovery().lost_durable_entries());  // 3 to 5 were durable: damage, not a crash
  CHECK(journal->recovery().end_reason.find("data checksum") != std::string::npos);
  CHECK(ReadOk(*journal, 1).size() == 2);
  // The journal goes on after the damage, and later entries past it stay unrecoverable.
  CHECK(AppendOk(*journal, DataWrite("v", 0, "new")) == 3);
  REQUIRE(journal->Sync().ok());
  journal = Reopen(file);
  CHECK(journal->last_sequence() == 3);
}

TEST_CASE("bad journal files and bad writes are refused with a clear status", "[journal]") {
  auto tiny = MemoryFile(4096);
  JournalSetup setup;
  setup.group = "app";
  CHECK(Journal::Format(*tiny, setup).code() == Code::kInvalidArgument);
  CHECK(Journal::Open(tiny, "app").status().code() == Code::kCorruption);

  auto garbage = MemoryFile();
  const std::string noise = BytesFor(5, kSmallRing);
  REQUIRE(garbage->WriteAt(0, noise.data(), noise.size(), false).ok());
  CHECK(Journal::Open(garbage, "app").status().code() == Code::kCorruption);

  auto file = MemoryFile();
  FormatAndOpen(file);
  CHECK(Journal::Open(file, "other").status().code() == Code::kCorruption);
  REQUIRE(file->Resize(2 * kSmallRing).ok());  // no longer the size it was made for
  Result<std::unique_ptr<Journal>> resized = Journal::Open(file, "app");
  CHECK(resized.status().code() == Code::kCorruption);
  CHECK(resized.status().message().find("bytes long") != std::string::npos);
  REQUIRE(file->Resize(kSmallRing).ok());

  auto journal = Reopen(file);
  CHECK(journal->Append(DataWrite("", 0, "x")).status().code() == Code::kInvalidArgument);
  CHECK(journal->Append(DataWrite("bad/name", 0, "x")).status().code() == Code::kInvalidArgument);
  CHECK(journal->Append(JournalWrite{"v", wire::WriteKind::kData, 0, 5, "x", 0}).status().code() ==
        Code::kInvalidArgument);
  CHECK(journal->Append(JournalWrite{"v", wire::WriteKind::kPunchHole, 0, 5, "x", 0})
            .status()
            .code() == Code::kInvalidArgument);
  CHECK(journal->Append(DataWrite("v", 0, "x", kJournalWrapMarker)).status().code() ==
        Code::kInvalidArgument);
  CHECK(journal->Append(DataWrite("v", kMaxVolumeBytes, "x")).status().code() ==
        Code::kInvalidArgument);
  const std::string too_long(kMaxJournalEntryDataBytes + 1, 'x');
  CHECK(journal->Append(DataWrite("v", 0, too_long)).status().code() == Code::kInvalidArgument);
  CHECK(journal->Reset(0).code() == Code::kInvalidArgument);
  CHECK(journal->last_sequence() == 0);  // nothing was taken
}

TEST_CASE("journal header and entry encodings round-trip, and damaged ones are refused",
          "[journal]") {
  JournalHeader header;
  header.slot_counter = 7;
  header.size_bytes = 1 << 20;
  header.journal_id = 0x1234;
  header.epoch = 5;
  header.floor_epoch = 4;
  header.role = JournalRole::kRestore;
  header.group = std::string(wire::kMaxGroupNameBytes, 'g');
  header.head_sequence = 99;
  header.head_offset = 12345;
  header.applied_sequence = 98;
  header.durable_tail_sequence = 120;
  const std::string slot = EncodeJournalHeader(header);
  REQUIRE(slot.size() == kJournalSlotEncodedBytes);
  Result<JournalHeader> decoded = DecodeJournalHeader(slot);
  REQUIRE(decoded.ok());
  CHECK(decoded->group == header.group);
  CHECK(decoded->role == JournalRole::kRestore);
  CHECK(decoded->head_offset == 12345);
  CHECK(decoded->durable_tail_sequence == 120);
  for (size_t at = 0; at < slot.size(); ++at) {  // every single damaged byte is noticed
    std::string damaged = slot;
    damaged[at] = static_cast<char>(damaged[at] ^ 1);
    CHECK_FALSE(DecodeJournalHeader(damaged).ok());
  }
  header.head_offset = header.size_bytes - 1;  // no room for an entry there: refused
  CHECK(DecodeJournalHeader(EncodeJournalHeader(header)).status().code() == Code::kCorruption);

  JournalEntryHeader entry;
  entry.kind = wire::WriteKind::kZeroRange;
  entry.flags = kJournalBatchEnd;
  entry.sequence = 42;
  entry.journal_id = 0x1234;
  entry.epoch = 3;
  entry.volume_offset = 1 << 30;
  entry.length = 1 << 20;
  entry.volume = "dblog";
  std::string bytes(kJournalEntryHeaderBytes + 8, 'x');
  EncodeJournalEntryHeader(entry, bytes, 8);
  Result<JournalEntryHeader> read = DecodeJournalEntryHeader(std::string_view(bytes).substr(8));
  REQUIRE(read.ok());
  CHECK(read->volume == "dblog");
  CHECK(read->kind == wire::WriteKind::kZeroRange);
  CHECK(read->data_bytes() == 0);
  CHECK(read->length == 1 << 20);
  CHECK(DecodeJournalEntryHeader(std::string_view(bytes).substr(8, 100)).status().code() ==
        Code::kCorruption);
}

TEST_CASE("journal: random damage anywhere in the file never crashes open or read", "[journal]") {
  std::mt19937_64 random(11);
  for (int round = 0; round < 200; ++round) {
    auto file = MemoryFile();
    {
      auto journal = FormatAndOpen(file);
      for (int i = 0; i < 30; ++i) {
        if (!journal->Append(DataWrite("v", i, BytesFor(i, random() % 3000))).ok()) break;
      }
      REQUIRE(journal->Sync().ok());
      REQUIRE(journal->FreeThrough(random() % 5).ok());
    }
    for (int flips = 1 + random() % 8; flips > 0; --flips) {
      const uint64_t at = random() % 2 == 0 ? random() % kJournalDataStart : random() % kSmallRing;
      FlipByte(*file, at);
    }
    Result<std::unique_ptr<Journal>> journal = Journal::Open(file, "app");
    if (!journal.ok()) {
      CHECK(journal.status().code() == Code::kCorruption);
      continue;
    }
    Result<std::vector<JournalEntry>> entries =
        journal.value()->Read(journal.value()->first_sequence(), 1 << 20);
    CHECK((entries.ok() || entries.status().code() == Code::kCorruption));
    const Status appended = journal.value()->Append(DataWrite("v", 0, "after")).status();
    CHECK((appended.ok() || appended.code() == Code::kNoSpace));
  }
}
