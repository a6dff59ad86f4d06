// The journal under many threads: writers, and a reader racing the frees that let the ring
// be overwritten under it (the transfer thread against the acknowledgements).
#include <catch2/catch.hpp>

#include <atomic>
#include <set>
#include <thread>

#include "node/journal.h"
#include "tests/unit/node/journal_test_support.h"

using namespace pairfs;
using namespace pairfs::node;
using pairfs::testing::BytesFor;
using pairfs::testing::DataWrite;
using pairfs::testing::FormatAndOpen;
using pairfs::testing::MemoryFile;
using pairfs::testing::ReadOk;

namespace {}  // namespace

TEST_CASE("journal: many writer threads get distinct, gap-free sequences", "[journal]") {
  auto file = MemoryFile(1 << 20);
  auto journal = FormatAndOpen(file);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100;
  std::mutex mutex;
  std::set<uint64_t> sequences;
  int failures = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const uint64_t key = t * 1000 + i;
        Result<uint64_t> sequence = journal->Append(DataWrite("v", key, BytesFor(key, 1000)));
        const bool durable = sequence.ok() && journal->WaitDurable(sequence.value()).ok();
        std::lock_guard<std::mutex> lock(mutex);
        if (durable) {
          sequences.insert(sequence.value());
        } else {
          ++failures;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(failures == 0);
  REQUIRE(sequences.size() == kThreads * kPerThread);
  CHECK(*sequences.begin() == 1);
  CHECK(*sequences.rbegin() == kThreads * kPerThread);
  CHECK(journal->counters().syncs <= kThreads * kPerThread);
  const std::vector<JournalEntry> entries = ReadOk(*journal, 1);
  REQUIRE(entries.size() == kThreads * kPerThread);
  for (const JournalEntry& entry : entries) CHECK(entry.data == BytesFor(entry.offset, 1000));
}

TEST_CASE(
    "journal: a read racing frees and overwrites gets whole entries or NotFound, never "
    "damage",
    "[journal]") {
  auto journal = FormatAndOpen(MemoryFile(kMinJournalBytes));
  // Entry i is written at volume offset i with bytes that depend on i alone.
  auto data_for = [](uint64_t i) { return BytesFor(i, 1 + (i * 37) % 2000); };
  std::atomic<bool> done{false};
  std::atomic<uint64_t> failures{0};
  std::atomic<uint64_t> entries_read{0};
  std::thread writer([&] {
    for (uint64_t i = 0; i < 3000; ++i) {
      Result<uint64_t> sequence = journal->Append(DataWrite("v", i, data_for(i)));
      if (!sequence.ok()) {  // full: the "secondary" acknowledges everything durable
        if (!journal->Sync().ok() || !journal->FreeThrough(journal->durable_sequence()).ok())
          ++failures;
        continue;
      }
      if (i % 7 == 0 && !journal->Sync().ok()) ++failures;
    }
    done = true;
  });
  std::thread reader([&] {
    while (!done) {
      Result<std::vector<JournalEntry>> entries = journal->Read(journal->first_sequence(), 1 << 20);
      if (!entries.ok()) {
        if (entries.status().code() != Code::kNotFound) ++failures;  // freed under it: fine
        continue;
      }
      for (const JournalEntry& entry : entries.value()) {
        if (entry.data != data_for(entry.offset)) ++failures;
        ++entries_read;
      }
    }
  });
  writer.join();
  reader.join();
  CHECK(failures == 0);
  CHECK(entries_read > 0);
}

TEST_CASE("journal: an append in two steps holds durability until it is written, in any order",
          "[journal]") {
  // AsyncGroup::Append places the entry under its own lock and writes it outside (beside other
  // writers): a later entry written first is not durable before the earlier one is written.
  auto file = MemoryFile();
  auto journal = FormatAndOpen(file);
  const std::string first = BytesFor(1, 600), second = BytesFor(2, 600);
  Result<Journal::Placement> one = journal->ReserveAppend(DataWrite("v", 0, first));
  Result<Journal::Placement> two = journal->ReserveAppend(DataWrite("v", 4096, second));
  REQUIRE(one.ok());
  REQUIRE(two.ok());
  CHECK(one->sequence == 1);
  CHECK(two->sequence == 2);
  REQUIRE(journal->WriteAppended(two.value(), DataWrite("v", 4096, second)).ok());
  // A waiter for entry 2 waits for entry 1's write; meanwhile nothing is durable or readable.
  std::atomic<bool> durable{false};
  std::thread waiter([&] { durable = journal->WaitDurable(2).ok(); });
  CHECK(journal->durable_sequence() == 0);
  CHECK(ReadOk(*journal, 1).empty());

  REQUIRE(journal->WriteAppended(one.value(), DataWrite("v", 0, first)).ok());
  waiter.join();
  CHECK(durable);
  CHECK(journal->durable_sequence() == 2);
  const std::vector<JournalEntry> entries = ReadOk(*journal, 1);
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].data == first);
  CHECK(entries[1].data == second);
  CHECK(entries[1].offset == 4096);

  // The data's checksum is the placement's: a write of other data is caught when it is read.
  Result<Journal::Placement> three = journal->ReserveAppend(DataWrite("v", 0, first));
  REQUIRE(three.ok());
  CHECK(three->checksum == JournalDataChecksum(first));
}
