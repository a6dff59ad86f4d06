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

namespace {

}  // namespace

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
