// The journal across crashes: seeded runs that cut the power at random points (inside
// operations too) on a memory file that loses every unsynced write, and on one that keeps a
// random part of them, torn; then a real file on disk.
#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>

#include "node/journal.h"
#include "tests/unit/node/journal_test_support.h"
#include "tests/unit/temp_dir.h"

using namespace pairfs;
using namespace pairfs::node;
using pairfs::testing::BytesFor;
using pairfs::testing::DataWrite;

namespace {

// A disk whose crash keeps a random part of the writes made since the last sync, each whole,
// missing or torn in 64-byte pieces, as a power loss with a volatile write cache may. Also loses
// power on cue: after `operations` more writes and syncs every one fails until the crash.
class ChaosFile final : public BlockFile {
 public:
  explicit ChaosFile(uint64_t size) : current_(size, '\0'), durable_(current_) {}

  Result<size_t> ReadAt(uint64_t offset, size_t length, char* out, bool) override {
    std::lock_guard<std::mutex> lock(mutex_);
    length = std::min<uint64_t>(length, offset < current_.size() ? current_.size() - offset : 0);
    std::memcpy(out, current_.data() + offset, length);
    return length;
  }
  Status WriteAt(uint64_t offset, const char* data, size_t length, bool) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (PowerLostLocked()) return Status::IoError("power lost", EIO);
    current_.replace(offset, length, data, length);
    pending_.push_back(Pending{offset, std::string(data, length)});
    return Status::Ok();
  }
  Status Deallocate(wire::WriteKind, uint64_t, uint64_t) override {
    return Status::Unsupported("no discards here");
  }
  Status Sync() override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (PowerLostLocked()) return Status::IoError("power lost", EIO);
    durable_ = current_;
    pending_.clear();
    return Status::Ok();
  }
  Status Resize(uint64_t) override { return Status::Unsupported("fixed size"); }
  BlockFileStat Stat() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    BlockFileStat stat;
    stat.size_bytes = current_.size();
    return stat;
  }
  Status SetTimes(const struct timespec[2]) override { return Status::Ok(); }

  void LosePowerAfter(int operations) {
    std::lock_guard<std::mutex> lock(mutex_);
    operations_until_loss_ = operations;
  }
  void Crash(std::mt19937_64& random) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string survived = durable_;
    for (const Pending& write : pending_) {
      switch (random() % 3) {
        case 0: break;  // lost
        case 1: survived.replace(write.offset, write.bytes.size(), write.bytes); break;
        default:  // torn: some 64-byte pieces reached the disk
          for (size_t at = 0; at < write.bytes.size(); at += 64) {
            if (random() % 2 == 0) continue;
            const size_t piece = std::min<size_t>(64, write.bytes.size() - at);
            survived.replace(write.offset + at, piece, write.bytes, at, piece);
          }
      }
    }
    current_ = durable_ = survived;
    pending_.clear();
    operations_until_loss_ = -1;
  }

 private:
  struct Pending {
    uint64_t offset;
    std::string bytes;
  };
  bool PowerLostLocked() {
    if (operations_until_loss_ < 0) return false;
    if (operations_until_loss_ == 0) return true;
    --operations_until_loss_;
    return false;
  }

  mutable std::mutex mutex_;
  std::string current_;
  std::string durable_;
  std::vector<Pending> pending_;
  int operations_until_loss_ = -1;  // -1: never
};

enum class Disk { kMemory, kChaos };

// One seeded run: random appends, waits, frees (and applies, at a restore journal) with power
// cut at random points, each followed by a restart that checks what the journal promises.
class CrashRun {
 public:
  CrashRun(uint64_t seed, Disk disk, JournalRole role) : random_(seed), disk_(disk), role_(role) {
    const uint64_t size = kMinJournalBytes + (random_() % 4) * 16 * 1024;
    if (disk == Disk::kMemory) {
      memory_ = std::make_shared<MemoryBlockFile>(size);
      file_ = memory_;
    } else {
      chaos_ = std::make_shared<ChaosFile>(size);
      file_ = chaos_;
    }
    JournalSetup setup{"app", role, 1, seed + 1};
    REQUIRE(Journal::Format(*file_, setup).ok());
    Restart();
  }

  void Run(int steps) {
    for (int step = 0; step < steps; ++step) {
      if (random_() % 10 == 0) LosePowerSoon();
      const uint64_t choice = random_() % 100;
      Status status;
      if (choice < 55) {
        status = AppendOne();
      } else if (choice < 70) {
        status = WaitForSome();
      } else if (choice < 85) {
        status = FreeOrApplySome();
      } else if (choice < 95) {
        status = Status::IoError("crash", EIO);
      }
      if (status.code() == Code::kIoError) Crash();
    }
    Crash();
  }

 private:
  Status AppendOne() {
    const uint64_t key = random_();
    const bool discard = random_() % 8 == 0;
    const std::string data = discard ? std::string() : BytesFor(key, random_() % 2500);
    JournalWrite write = DataWrite(random_() % 2 == 0 ? "db" : "dblog", key % 4096, data);
    if (discard) {
      write.kind = wire::WriteKind::kZeroRange;
      write.length = 4096;
    }
    uint64_t sequence = journal_->next_sequence();
    Status status;
    if (role_ == JournalRole::kMaster) {
      Result<uint64_t> appended = journal_->Append(write);
      status = appended.status();
      if (appended.ok()) REQUIRE(appended.value() == sequence);
    } else {
      status = journal_->AppendReceived(sequence, write, JournalDataChecksum(data)).status();
    }
    log_ += " append " + std::to_string(sequence) + ":" + status.ToString();
    if (status.ok()) {
      model_[sequence] = Fingerprint(write);
    } else {
      REQUIRE((status.code() == Code::kNoSpace || status.code() == Code::kIoError));
    }
    return status;
  }

  Status WaitForSome() {
    const uint64_t first = journal_->first_sequence();
    const uint64_t last = journal_->last_sequence();
    if (last < first) return Status::Ok();
    const uint64_t sequence = first + random_() % (last - first + 1);
    Status status = journal_->WaitDurable(sequence);
    log_ += " wait " + std::to_string(sequence) + ":" + status.ToString();
    if (status.ok()) confirmed_ = std::max(confirmed_, sequence);
    return status;
  }

  Status FreeOrApplySome() {
    const uint64_t first = journal_->first_sequence();
    uint64_t limit = journal_->durable_sequence();
    if (role_ == JournalRole::kRestore) {
      const uint64_t applicable = journal_->ApplicableThrough();
      if (applicable > journal_->applied_sequence() && random_() % 2 == 0) {
        const uint64_t sequence = journal_->applied_sequence() + 1 +
                                  random_() % (applicable - journal_->applied_sequence());
        Status status = journal_->MarkApplied(sequence);
        log_ += " apply " + std::to_string(sequence) + ":" + status.ToString();
        if (status.ok()) applied_ = std::max(applied_, sequence);
        return status;
      }
      limit = journal_->applied_sequence();
    }
    if (limit < first) return Status::Ok();
    const uint64_t sequence = first + random_() % (limit - first + 1);
    Status status = journal_->FreeThrough(sequence);
    log_ += " free " + std::to_string(sequence) + ":" + status.ToString();
    if (status.ok()) freed_ = std::max(freed_, sequence);
    return status;
  }

  void LosePowerSoon() {
    const int operations = static_cast<int>(random_() % 4);
    log_ += " power-loss-after-" + std::to_string(operations);
    if (chaos_) {
      chaos_->LosePowerAfter(operations);
    } else {
      memory_->FailWrites(EIO, operations);
    }
  }

  void Crash() {
    journal_.reset();
    LoseWrites();
    // Sometimes the power fails again while the restarted node opens the journal.
    while (random_() % 4 == 0) {
      LosePowerSoon();
      Result<std::unique_ptr<Journal>> opened = Journal::Open(file_, "app");
      log_ += " open-during-power-loss:" + opened.status().ToString();
      if (opened.ok()) break;  // the loss came after Open's writes
      REQUIRE(opened.status().code() == Code::kIoError);
      LoseWrites();
    }
    Restart();
  }

  void LoseWrites() {
    if (chaos_) {
      chaos_->Crash(random_);
    } else {
      memory_->Crash();
      memory_->FailWrites(0);
    }
  }

  // Reopens and checks: the head never went back, every confirmed entry is there and intact,
  // and every recovered entry is the one last appended under its sequence, gap-free.
  void Restart() {
    LoseWrites();  // disarms a power loss still to come
    Result<std::unique_ptr<Journal>> opened = Journal::Open(file_, "app");
    INFO(opened.status().message());
    REQUIRE(opened.ok());
    journal_ = std::move(opened.value());
    const uint64_t first = journal_->first_sequence();
    const uint64_t last = journal_->last_sequence();
    INFO("since the last restart:" << log_);
    INFO("recovered " << first << ".." << last
                      << ", ended by: " << journal_->recovery().end_reason);
    REQUIRE(first >= head_);
    REQUIRE(first >= freed_ + 1);
    REQUIRE(journal_->applied_sequence() >= applied_);
    REQUIRE(last + 1 >= first);
    REQUIRE(last >= confirmed_);
    REQUIRE(journal_->durable_sequence() == last);
    uint64_t expected = first;
    while (expected <= last) {
      Result<std::vector<JournalEntry>> entries = journal_->Read(expected, 64 * 1024);
      INFO(entries.status().message());
      REQUIRE(entries.ok());
      REQUIRE(!entries->empty());
      for (const JournalEntry& entry : entries.value()) {
        REQUIRE(entry.sequence == expected);
        REQUIRE(model_.count(expected) == 1);
        REQUIRE(model_[expected] == Fingerprint(entry.AsWrite()));
        ++expected;
      }
    }
    model_.erase(model_.upper_bound(last), model_.end());
    head_ = first;
    log_.clear();
  }

  static std::string Fingerprint(const JournalWrite& write) {
    return std::string(write.volume) + "/" + std::to_string(static_cast<int>(write.kind)) + "/" +
           std::to_string(write.offset) + "/" + std::to_string(write.length) + "/" +
           std::to_string(JournalDataChecksum(write.data));
  }

  std::mt19937_64 random_;
  const Disk disk_;
  const JournalRole role_;
  std::shared_ptr<BlockFile> file_;
  std::shared_ptr<MemoryBlockFile> memory_;
  std::shared_ptr<ChaosFile> chaos_;
  std::unique_ptr<Journal> journal_;
  std::map<uint64_t, std::string> model_;  // sequence -> what was last appended under it
  uint64_t confirmed_ = 0;                 // WaitDurable returned Ok through here
  uint64_t freed_ = 0;                     // FreeThrough returned Ok through here
  uint64_t applied_ = 0;                   // MarkApplied returned Ok through here
  uint64_t head_ = 1;                      // the head at the last restart
  std::string log_;                        // what happened since, for a failure's message
};

// PAIRFS_JOURNAL_SEED=N replays one seed; PAIRFS_JOURNAL_SEEDS=N runs N seeds (150 by default).
uint64_t FirstSeed() {
  const char* seed = std::getenv("PAIRFS_JOURNAL_SEED");
  return seed != nullptr ? std::strtoull(seed, nullptr, 10) : 1;
}
uint64_t SeedCount() {
  if (std::getenv("PAIRFS_JOURNAL_SEED") != nullptr) return 1;
  const char* seeds = std::getenv("PAIRFS_JOURNAL_SEEDS");
  return seeds != nullptr ? std::strtoull(seeds, nullptr, 10) : 150;
}

}  // namespace

TEST_CASE("journal crashes at random points lose nothing confirmed and recover a gap-free run",
          "[journal]") {
  for (Disk disk : {Disk::kMemory, Disk::kChaos}) {
    for (JournalRole role : {JournalRole::kMaster, JournalRole::kRestore}) {
      for (uint64_t seed = FirstSeed(); seed < FirstSeed() + SeedCount(); ++seed) {
        INFO("seed " << seed << (disk == Disk::kMemory ? " memory" : " chaos") << " disk, "
                     << JournalRoleName(role) << " journal");
        CrashRun run(seed, disk, role);
        run.Run(300);
      }
    }
  }
}

TEST_CASE("a failed journal write is sticky until the journal is reopened", "[journal]") {
  auto file = std::make_shared<MemoryBlockFile>(kMinJournalBytes);
  auto journal = pairfs::testing::FormatAndOpen(file);
  REQUIRE(journal->Append(DataWrite("v", 0, "kept")).ok());
  REQUIRE(journal->Sync().ok());
  file->FailWrites(EIO);
  CHECK(journal->Append(DataWrite("v", 0, "failed")).status().code() == Code::kIoError);
  file->FailWrites(0);
  // What reached the disk is unknown now: nothing more is taken or confirmed.
  CHECK(journal->Append(DataWrite("v", 0, "after")).status().code() == Code::kIoError);
  CHECK(journal->WaitDurable(2).code() == Code::kIoError);
  CHECK(journal->FreeThrough(1).code() == Code::kIoError);
  CHECK(journal->health().code() == Code::kIoError);
  CHECK(journal->WaitDurable(1).ok());  // what was durable before stays so
  journal = pairfs::testing::Reopen(file);
  CHECK(journal->health().ok());
  CHECK(journal->last_sequence() == 1);
  CHECK(journal->Append(DataWrite("v", 0, "again")).ok());

  file->FailSyncs(EIO);
  CHECK(journal->Sync().code() == Code::kIoError);
  file->FailSyncs(0);
  CHECK(journal->Sync().code() == Code::kIoError);
}

TEST_CASE("journal on a real file: created whole, reopened, refused when it exists", "[journal]") {
  pairfs::testing::TempDir dir;
  const std::string path = dir.path() + "/app.journal";
  const uint64_t size = 1 << 20;
  REQUIRE(Journal::CreateFile(path, size, JournalSetup{"app", JournalRole::kMaster, 1, 0}).ok());
  CHECK(Journal::CreateFile(path, size, JournalSetup{"app", JournalRole::kMaster, 1, 0}).code() ==
        Code::kAlreadyExists);
  const std::string data = BytesFor(1, 4096);
  {
    Result<std::unique_ptr<Journal>> journal = Journal::OpenFile(path, "app");
    INFO(journal.status().message());
    REQUIRE(journal.ok());
    for (int i = 0; i < 100; ++i)
      REQUIRE(journal.value()->Append(DataWrite("db", i * 4096, data)).ok());
    REQUIRE(journal.value()->Sync().ok());
    REQUIRE(journal.value()->FreeThrough(40).ok());
  }
  Result<std::unique_ptr<BlockFile>> raw = PosixBlockFile::Open(path);
  REQUIRE(raw.ok());
  CHECK(raw.value()->Stat().size_bytes == size);
  CHECK(raw.value()->Stat().allocated_bytes >= size);  // preallocated: no holes to fill later
  Result<std::unique_ptr<Journal>> journal = Journal::OpenFile(path, "app");
  REQUIRE(journal.ok());
  CHECK(journal.value()->first_sequence() == 41);
  CHECK(journal.value()->last_sequence() == 100);
  Result<std::vector<JournalEntry>> entries = journal.value()->Read(41, 1 << 20);
  REQUIRE(entries.ok());
  REQUIRE(entries->size() == 60);
  CHECK(entries->back().data == data);
  CHECK(entries->back().offset == 99 * 4096);
  CHECK(Journal::OpenFile(dir.path() + "/missing.journal", "app").status().code() ==
        Code::kIoError);
}

TEST_CASE("a master journal drops a batch it did not finish appending when it is reopened",
          "[journal][resync]") {
  // A resync's batch cut by a crash: the restore side would wait for its end for ever.
  auto file = std::make_shared<node::MemoryBlockFile>(1 << 20);
  {
    std::unique_ptr<node::Journal> journal = testing::FormatAndOpen(file);
    const std::string data = testing::BytesFor(1, 4096);
    testing::AppendOk(*journal, testing::DataWrite("db", 0, data));
    testing::AppendOk(*journal, testing::DataWrite("db", 4096, data, node::kJournalBatchBegin));
    testing::AppendOk(*journal, testing::DataWrite("db", 8192, data));
    REQUIRE(journal->Sync().ok());
  }
  Result<std::unique_ptr<node::Journal>> reopened = node::Journal::Open(file, "app");
  REQUIRE(reopened.ok());
  node::Journal& journal = *reopened.value();
  CHECK(journal.last_sequence() == 1);
  CHECK_FALSE(journal.recovery().lost_durable_entries());
  // The next batch takes the dropped one's sequence and place, and applies whole.
  const std::string data = testing::BytesFor(2, 4096);
  CHECK(testing::AppendOk(
            journal, testing::DataWrite("db", 4096, data,
                                        node::kJournalBatchBegin | node::kJournalBatchEnd)) == 2);
  REQUIRE(journal.Sync().ok());
  Result<std::unique_ptr<node::Journal>> again = node::Journal::Open(file, "app");
  REQUIRE(again.ok());
  CHECK(again.value()->last_sequence() == 2);
}
