// journal_bench DIR [OPS] [THREADS]: 4 KiB random write + fsync on a volume image in DIR, side by
// side: unpaired (pwrite, fdatasync of the image) and async-journaled (pwrite of the image left
// to the page cache, the write appended to a master journal and made durable by its group
// commit, space freed as a secondary's acknowledgements would). Prints ops/s and the ratio; the
// issue's target is journaled ≥ 0.8× unpaired. A measuring tool, not a test: it asserts nothing.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "node/block_file.h"
#include "node/journal.h"

using namespace pairfs;
using namespace pairfs::node;

namespace {

constexpr uint64_t kImageBytes = 256ull << 20;
constexpr uint64_t kJournalBytes = 256ull << 20;
constexpr size_t kWriteBytes = 4096;

bool Check(const Status& status, const char* what) {
  if (status.ok()) return true;
  std::fprintf(stderr, "journal_bench: %s: %s\n", what, status.ToString().c_str());
  return false;
}

// Runs `per_thread` operations on each of `threads` threads; returns operations per second.
template <class Operation>
double Measure(int threads, int per_thread, Operation operation) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937_64 random(t + 1);
      for (int i = 0; i < per_thread; ++i) operation(random);
    });
  }
  for (std::thread& worker : workers) worker.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return threads * per_thread / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: journal_bench DIR [OPS] [THREADS]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const int ops = argc > 2 ? std::atoi(argv[2]) : 5000;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 1;
  const std::string image_path = dir + "/bench.img";
  const std::string journal_path = dir + "/bench.journal";
  std::remove(image_path.c_str());
  std::remove(journal_path.c_str());
  if (!Check(PosixBlockFile::Create(image_path, kImageBytes), "create image")) return 1;
  Result<std::unique_ptr<BlockFile>> image = PosixBlockFile::Open(image_path);
  if (!Check(image.status(), "open image")) return 1;
  // Both runs overwrite allocated blocks: fill the image first.
  const std::string zeros(1 << 20, '\0');
  for (uint64_t at = 0; at < kImageBytes; at += zeros.size())
    if (!Check(image.value()->WriteAt(at, zeros.data(), zeros.size(), false), "fill")) return 1;
  if (!Check(image.value()->Sync(), "sync image")) return 1;
  if (!Check(Journal::CreateFile(journal_path, kJournalBytes, JournalSetup{"bench"}),
             "create journal"))
    return 1;
  Result<std::unique_ptr<Journal>> journal = Journal::OpenFile(journal_path, "bench");
  if (!Check(journal.status(), "open journal")) return 1;

  const std::string data(kWriteBytes, 'd');
  auto offset = [](std::mt19937_64& random) {
    return (random() % (kImageBytes / kWriteBytes)) * kWriteBytes;
  };
  const int per_thread = ops / threads;
  const double unpaired = Measure(threads, per_thread, [&](std::mt19937_64& random) {
    (void)image.value()->WriteAt(offset(random), data.data(), data.size(), false);
    (void)image.value()->Sync();
  });
  Journal& master = *journal.value();
  const double journaled = Measure(threads, per_thread, [&](std::mt19937_64& random) {
    const uint64_t at = offset(random);
    (void)image.value()->WriteAt(at, data.data(), data.size(), false);
    Result<uint64_t> sequence =
        master.Append(JournalWrite{"vol", wire::WriteKind::kData, at, data.size(), data, 0});
    if (!sequence.ok()) {
      std::fprintf(stderr, "append: %s\n", sequence.status().ToString().c_str());
      std::exit(1);
    }
    (void)master.WaitDurable(sequence.value());
    if (master.AboveHighWater(50)) (void)master.FreeThrough(master.durable_sequence());
  });
  std::printf("4 KiB random write+fsync, %d threads, %d ops each, in %s\n", threads, per_thread,
              dir.c_str());
  std::printf("  unpaired (pwrite + fdatasync image): %10.0f ops/s\n", unpaired);
  std::printf(
      "  journaled (pwrite image + append + group commit): %10.0f ops/s (%.2fx), %llu "
      "syncs for %llu entries\n",
      journaled, journaled / unpaired, static_cast<unsigned long long>(master.counters().syncs),
      static_cast<unsigned long long>(master.counters().appended));
  journal.value().reset();
  std::remove(image_path.c_str());
  std::remove(journal_path.c_str());
  return 0;
}
