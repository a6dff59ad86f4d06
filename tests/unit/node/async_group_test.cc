// AsyncGroup in-process (node/async_group.h): a master and a restore group over real journal
// files, joined by a "link" that carries the encoded batch and ack (and can be cut); volumes
// over memory images. Asserts order and outcome only: the secondary's image ends equal to the
// primary's, gaps are refused and counted, a cut link never fails an append, and a replay puts
// what the journal holds into the image.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "node/async_group.h"
#include "node/block_file.h"
#include "node/limits.h"
#include "node/volume.h"
#include "tests/sim/counting_threads.h"
#include "tests/sim/manual_clock.h"
#include "tests/unit/temp_dir.h"
#include "wire/peer_messages.h"

using namespace pairfs;
using namespace pairfs::node;

namespace {

constexpr uint64_t kGroupVolumeBytes = 1 << 20;
constexpr uint64_t kJournalBytes = 1 << 20;

// `file`, if given, is set to the volume's image (its direct_writes count).
std::shared_ptr<Volume> MemoryVolume(const std::string& dir, const std::string& name,
                                     MemoryBlockFile** file = nullptr) {
  VolumeMetadata metadata;
  metadata.name = name;
  metadata.size_bytes = kGroupVolumeBytes;
  metadata.inode = 2;
  auto image = std::make_unique<MemoryBlockFile>(kGroupVolumeBytes);
  if (file != nullptr) *file = image.get();
  return Volume::Attach(dir, metadata, std::move(image));
}

std::string Image(Volume& volume) {
  std::string bytes(kGroupVolumeBytes, '\0');
  REQUIRE(volume.Read(0, kGroupVolumeBytes, bytes.data(), false).value() == kGroupVolumeBytes);
  return bytes;
}

// Waits (a generous deadline, only to catch a hang) until `done` holds.
template <class F>
bool Eventually(F done, int tries = 2000) {
  for (int i = 0; i < tries; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

struct GroupSites {
  testing::TempDir dir;
  std::shared_ptr<Volume> primary = MemoryVolume(dir.path(), "db");
  MemoryBlockFile* secondary_image = nullptr;  // set by the line below
  std::shared_ptr<Volume> secondary = MemoryVolume(dir.path(), "db-copy", &secondary_image);
  std::shared_ptr<AsyncGroup> master;
  std::shared_ptr<AsyncGroup> restore;
  std::atomic<bool> link_up{true};
  // The window (node/async_transfer.cc): sends inside the link at once, the most seen, and
  // whether a send waits (up to a deadline, only against a hang) until another one is in too,
  // until two have met once.
  std::atomic<int> in_link{0};
  std::atomic<int> most_in_link{0};
  std::atomic<bool> hold_for_company{false};

  // `clock`: both groups' (AsyncGroupHooks::clock); null = the steady clock. `threads`: both
  // groups' thread starter (AsyncGroupHooks::threads); null = named std::threads. `master_pace_ms`,
  // `restore_pace_ms`: each side's AsyncGroupHooks::pace_ms.
  explicit GroupSites(const TimeSource* clock = nullptr, const ThreadStarter* threads = nullptr,
                      int master_pace_ms = 0, int restore_pace_ms = 0) {
    std::filesystem::create_directories(dir.path() + "/a");
    std::filesystem::create_directories(dir.path() + "/b");
    AsyncGroupHooks restore_hooks;
    restore_hooks.clock = clock;
    restore_hooks.threads = threads;
    restore_hooks.pace_ms = restore_pace_ms;
    restore_hooks.volume_of = [this](const std::string& name) {
      return name == "db" ? secondary : nullptr;
    };
    restore_hooks.volumes = [this] { return std::vector<std::shared_ptr<Volume>>{secondary}; };
    Result<std::shared_ptr<AsyncGroup>> opened = AsyncGroup::Open(
        dir.path() + "/b", "app", false, true, kJournalBytes, std::move(restore_hooks));
    INFO(opened.status().message());
    REQUIRE(opened.ok());
    restore = opened.value();
    AsyncGroupHooks master_hooks;
    master_hooks.clock = clock;
    master_hooks.threads = threads;
    master_hooks.pace_ms = master_pace_ms;
    master_hooks.send =
        [this](const wire::JournalBatchMessage& batch) -> Result<wire::JournalAckMessage> {
      if (!link_up.load()) return Status::Unreachable("cut");
      const int now = ++in_link;
      int most = most_in_link.load();
      while (now > most && !most_in_link.compare_exchange_weak(most, now)) {
      }
      if (hold_for_company.load() && most_in_link.load() < 2 && !batch.entries.empty())
        (void)Eventually([&] { return in_link.load() > 1; }, 500);
      wire::JournalBatchMessage received;
      Status checked = wire::DecodePeerMessage(wire::EncodeBody(batch), &received);
      --in_link;
      if (!checked.ok()) return checked;
      return restore->Receive(received, kAsyncReorderWaitMs);
    };
    master_hooks.volume_of = [this](const std::string& name) {
      return name == "db" ? primary : nullptr;
    };
    master_hooks.volumes = [this] { return std::vector<std::shared_ptr<Volume>>{primary}; };
    opened = AsyncGroup::Open(dir.path() + "/a", "app", true, true, kJournalBytes,
                              std::move(master_hooks));
    REQUIRE(opened.ok());
    master = opened.value();
  }
  ~GroupSites() {
    master->Stop();
    restore->Stop();
  }

  // What the write path does: append, write the image, ImageWritten.
  void Write(uint64_t offset, const std::string& data) {
    JournalWrite write{"db", wire::WriteKind::kData, offset, data.size(), data, 0};
    Result<uint64_t> sequence = master->Append(write);
    REQUIRE(sequence.ok());
    REQUIRE(
        primary->WriteRaw(wire::WriteKind::kData, offset, data.data(), data.size(), false).ok());
    master->ImageWritten(sequence.value());
  }
};

}  // namespace

TEST_CASE("an async group ships, applies in order and frees its journal", "[async]") {
  GroupSites sites;
  sites.master->Start();
  sites.restore->Start();
  for (int i = 0; i < 200; ++i) {
    // Overlapping writes: only their order makes the images equal.
    sites.Write(static_cast<uint64_t>(i % 17) * 4096 + (i % 3) * 512,
                std::string(4096, static_cast<char>('a' + i % 26)));
  }
  REQUIRE(sites.master->WaitDurable(200).ok());
  REQUIRE(Eventually([&] { return sites.master->Progress().applied_sequence == 200; }));
  CHECK(Image(*sites.primary) == Image(*sites.secondary));
  CHECK(sites.restore->journal().applied_sequence() == 200);
  // The master frees what the peer applied once a checkpoint holds it in the image.
  REQUIRE(Eventually([&] { return sites.master->journal().first_sequence() == 201; }));
  CHECK(sites.master->Progress().lag_bytes == 0);
}

TEST_CASE("appends go on while the link is cut; the transfer resumes after it", "[async]") {
  GroupSites sites;
  sites.link_up.store(false);
  sites.master->Start();
  sites.restore->Start();
  for (int i = 0; i < 50; ++i) sites.Write(static_cast<uint64_t>(i) * 4096, std::string(4096, 'c'));
  REQUIRE(sites.master->WaitDurable(50).ok());  // an fsync needs no peer
  CHECK(sites.restore->journal().last_sequence() == 0);
  CHECK(sites.master->Progress().lag_bytes == 50 * 4096);
  sites.link_up.store(true);
  REQUIRE(Eventually([&] { return sites.master->Progress().applied_sequence == 50; }));
  CHECK(Image(*sites.primary) == Image(*sites.secondary));
}

// The group's time is injected (issue 12's Env seam): the lag is read on a clock the test moves.
TEST_CASE("lag_ms is the age of the oldest entry the peer does not hold, on the group's clock",
          "[async]") {
  sim::ManualClock clock;
  GroupSites sites(&clock);
  sites.link_up.store(false);
  sites.master->Start();
  sites.restore->Start();
  sites.Write(0, std::string(4096, 'o'));
  REQUIRE(sites.master->WaitDurable(1).ok());
  CHECK(sites.master->Progress().lag_ms == 0);  // no time passed on the group's clock
  clock.Advance(5000);
  sites.Write(4096, std::string(4096, 'n'));  // a newer entry does not make the lag younger
  REQUIRE(sites.master->WaitDurable(2).ok());
  CHECK(sites.master->Progress().lag_ms == 5000);
  clock.Advance(2500);
  CHECK(sites.master->Progress().lag_ms == 7500);
  sites.link_up.store(true);
  clock.Advance(kAsyncRetryMs);  // the transfer retries a cut link after this, on the group's clock
  REQUIRE(Eventually([&] { return sites.master->Progress().sent_sequence == 2; }));
  CHECK(sites.master->Progress().lag_ms == 0);
  // The master hears what the peer applied from its next ask, kAsyncIdleWaitMs later on the clock.
  REQUIRE(Eventually([&] {
    clock.Advance(kAsyncIdleWaitMs);
    return sites.master->Progress().applied_sequence == 2;
  }));
  CHECK(Image(*sites.primary) == Image(*sites.secondary));
}

// The operators' waits (a swap's drain, a resync's) time out on the group's clock, not the wall's:
// while the test holds it, a wait for a cut peer never gives up; once moved past the timeout, it
// does, with the reason.
TEST_CASE("the group's waits for the peer time out on the group's clock", "[async]") {
  sim::ManualClock clock;
  GroupSites sites(&clock);
  sites.link_up.store(false);
  sites.master->Start();
  sites.restore->Start();
  sites.Write(0, std::string(4096, 'w'));
  REQUIRE(sites.master->WaitDurable(1).ok());
  constexpr int kWaitMs = 100;
  auto shipped = std::async(std::launch::async, [&] { return sites.master->WaitShipped(kWaitMs); });
  auto applied =
      std::async(std::launch::async, [&] { return sites.master->WaitPeerApplied(1, kWaitMs); });
  // Held: several timeouts of real time pass, and neither wait gives up.
  CHECK(shipped.wait_for(std::chrono::milliseconds(5 * kWaitMs)) == std::future_status::timeout);
  CHECK(applied.wait_for(std::chrono::milliseconds(kWaitMs)) == std::future_status::timeout);
  clock.Advance(kWaitMs);
  REQUIRE(Eventually([&] {
    return shipped.wait_for(std::chrono::seconds(0)) == std::future_status::ready &&
           applied.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }));
  const Status not_shipped = shipped.get();
  CHECK(not_shipped.code() == Code::kUnreachable);
  CHECK(not_shipped.message().find("did not take the rest") != std::string::npos);
  CHECK(applied.get().code() == Code::kUnreachable);
  // The peer back (the transfer's retry comes kAsyncRetryMs later on the group's clock): the same
  // waits end with Ok on a held clock.
  sites.link_up.store(true);
  clock.Advance(kAsyncRetryMs);
  CHECK(sites.master->WaitShipped(kWaitMs).ok());
  CHECK(sites.master->WaitPeerApplied(1, kWaitMs).ok());
  CHECK(sites.restore->WaitRestored(kWaitMs).ok());
}

// The group's threads go through the replicator's seam (AsyncGroupHooks::threads): the master's
// sending lanes and its fill-ahead, the restore thread; none outlives Stop.
TEST_CASE("a group starts its threads through the seam and joins them at Stop", "[async]") {
  sim::CountingThreads threads;
  {
    GroupSites sites(nullptr, &threads);
    sites.master->Start();
    sites.restore->Start();
    CHECK(threads.started("journal-send") == kAsyncBatchesInFlight);
    CHECK(threads.started("journal-fill") == 1);
    CHECK(threads.started("journal-restore") == 1);
    sites.Write(0, std::string(4096, 't'));
    REQUIRE(Eventually([&] { return sites.master->Progress().applied_sequence == 1; }));
    sites.master->Stop();
    sites.restore->Stop();
    CHECK(threads.running() == 0);
  }
}

TEST_CASE("the restore side refuses gaps and counts them; duplicates are acknowledged", "[async]") {
  GroupSites sites;
  auto entry = [](uint64_t sequence) {
    wire::JournalEntryMessage message;
    const std::string data(4096, static_cast<char>('0' + sequence % 10));
    message.sequence = sequence;
    message.volume = "db";
    message.offset = sequence * 4096;
    message.length = data.size();
    message.data_checksum = JournalDataChecksum(data);
    message.data.assign(data.begin(), data.end());
    return message;
  };
  wire::JournalBatchMessage batch;
  batch.group = "app";
  batch.first_sequence = 2;
  batch.entries = {entry(2)};
  wire::JournalAckMessage ack = sites.restore->Receive(batch);
  CHECK(ack.code == static_cast<uint8_t>(Code::kInvalidArgument));  // 1 is missing
  CHECK(ack.durable_sequence == 0);
  CHECK(sites.restore->counters().batches_refused == 1);
  batch.first_sequence = 1;
  batch.entries = {entry(1), entry(2)};
  ack = sites.restore->Receive(batch);
  CHECK(ack.code == 0);
  CHECK(ack.durable_sequence == 2);
  ack = sites.restore->Receive(batch);  // the same batch again (a retransmit)
  CHECK(ack.code == 0);
  CHECK(ack.durable_sequence == 2);
  batch.entries = {entry(1)};
  batch.entries[0].data[0] ^= 1;  // other data under a held sequence
  ack = sites.restore->Receive(batch);
  CHECK(ack.code == static_cast<uint8_t>(Code::kCorruption));
  CHECK(sites.restore->counters().batches_refused == 2);
  // Entries the restore thread could not apply are never stored (they would stop the group).
  batch.first_sequence = 3;
  batch.entries = {entry(3)};
  batch.entries[0].volume = "stranger";
  ack = sites.restore->Receive(batch);
  CHECK(ack.code == static_cast<uint8_t>(Code::kInvalidArgument));
  batch.entries = {entry(3)};
  batch.entries[0].offset = kGroupVolumeBytes - 1024;  // runs past the end
  ack = sites.restore->Receive(batch);
  CHECK(ack.code == static_cast<uint8_t>(Code::kInvalidArgument));
  CHECK(sites.restore->counters().batches_refused == 4);
  CHECK(sites.restore->journal().last_sequence() == 2);
  batch.entries = {entry(3)};
  CHECK(sites.restore->Receive(batch).durable_sequence == 3);
}

// A master's hooks with no peer (every send Unreachable) and the one volume "db".
AsyncGroupHooks NoPeerHooks(const std::shared_ptr<Volume>& volume) {
  AsyncGroupHooks hooks;
  hooks.send = [](const wire::JournalBatchMessage&) -> Result<wire::JournalAckMessage> {
    return Status::Unreachable("no peer");
  };
  hooks.volume_of = [volume](const std::string& name) { return name == "db" ? volume : nullptr; };
  hooks.volumes = [volume] { return std::vector<std::shared_ptr<Volume>>{volume}; };
  return hooks;
}

TEST_CASE("a master replays its journal into the image after a restart", "[async]") {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.path() + "/j");
  std::shared_ptr<Volume> volume = MemoryVolume(dir.path(), "db");
  AsyncGroupHooks hooks = NoPeerHooks(volume);
  {
    Result<std::shared_ptr<AsyncGroup>> group =
        AsyncGroup::Open(dir.path() + "/j", "app", true, true, kJournalBytes, hooks);
    REQUIRE(group.ok());
    const std::string data(8192, 'r');
    // Journaled and durable, the image never written (a crash between the two).
    JournalWrite write{"db", wire::WriteKind::kData, 4096, data.size(), data, 0};
    Result<uint64_t> sequence = group.value()->Append(write);
    REQUIRE(sequence.ok());
    REQUIRE(group.value()->WaitDurable(sequence.value()).ok());
  }
  Result<std::shared_ptr<AsyncGroup>> reopened =
      AsyncGroup::Open(dir.path() + "/j", "app", true, false, kJournalBytes, hooks);
  REQUIRE(reopened.ok());
  REQUIRE(reopened.value()->ReplayIntoImages().ok());
  std::string bytes(8192, '\0');
  REQUIRE(volume->Read(4096, 8192, bytes.data(), false).ok());
  CHECK(bytes == std::string(8192, 'r'));
  // The other role is refused: a group has one primary site.
  CHECK(AsyncGroup::Open(dir.path() + "/j", "app", false, false, kJournalBytes, hooks)
            .status()
            .code() == Code::kInvalidArgument);
}

// ---- async resync (issue 13 part 4): the batch, the way back from PFUS ----

TEST_CASE("an async resync goes through the journal only when the batch fits half of it",
          "[async][resync]") {
  const uint64_t slack = JournalEntryBytes(kMaxJournalEntryDataBytes);
  const uint64_t ring = 16ull << 20;
  CHECK(AsyncResyncFits(ring / 2, ring, ring, slack));
  CHECK_FALSE(AsyncResyncFits(ring / 2 + 1, ring, ring, slack));  // more than half the ring
  CHECK_FALSE(AsyncResyncFits(4 << 20, ring, (4 << 20) + slack - 1, slack));  // no room now
  CHECK(AsyncResyncFits(4 << 20, ring, (4 << 20) + slack, slack));
  CHECK_FALSE(AsyncResyncFits(kMaxAsyncResyncBatchBytes + 1, 1ull << 30, 1ull << 30, slack));
  CHECK(AsyncResyncFits(0, ring, slack, slack));
}

TEST_CASE("the master learns the restore journal's ring from its acks", "[async][resync]") {
  GroupSites sites;
  CHECK(sites.master->resync_capacity_bytes() == sites.master->journal().capacity_bytes());
  wire::JournalBatchMessage probe;
  probe.group = "app";
  probe.first_sequence = 1;
  CHECK(sites.restore->Receive(probe).capacity_bytes == sites.restore->journal().capacity_bytes());
  CHECK(sites.restore->journal().capacity_bytes() > 0);
  sites.master->Start();
  sites.restore->Start();
  sites.Write(0, std::string(4096, 'a'));
  REQUIRE(Eventually([&] { return sites.master->Progress().applied_sequence == 1; }));
  CHECK(sites.master->resync_capacity_bytes() == sites.restore->journal().capacity_bytes());
}

TEST_CASE("a resync batch brings a suspended group back: applied whole, then journaling resumes",
          "[async][resync]") {
  GroupSites sites;
  sites.master->Start();
  sites.restore->Start();
  sites.Write(0, std::string(4096, 'a'));
  REQUIRE(Eventually([&] { return sites.master->Progress().applied_sequence == 1; }));
  // PFUS: the group refuses appends; the writes that follow go to the image alone (tracked).
  CHECK(sites.master->Suspend());
  JournalWrite refused{"db", wire::WriteKind::kData, 8192, 4096, std::string(4096, 'x'), 0};
  CHECK(sites.master->Append(refused).status().code() == Code::kNoSpace);
  const std::string tracked(8192, 'b');
  REQUIRE(
      sites.primary->WriteRaw(wire::WriteKind::kData, 4096, tracked.data(), tracked.size(), false)
          .ok());
  REQUIRE(sites.master->WaitPeerApplied(1, 10000).ok());
  // The resync: the regions' current contents as one batch (a hole for zeros), appended while
  // the group is still suspended, then the group resumed.
  const std::string region(8192, 'b');
  std::vector<JournalWrite> batch = {{"db", wire::WriteKind::kData, 4096, region.size(), region, 0},
                                     {"db", wire::WriteKind::kPunchHole, 65536, 4096, {}, 0}};
  Result<uint64_t> last = sites.master->AppendBatch(batch);
  INFO(last.status().message());
  REQUIRE(last.ok());
  CHECK(last.value() == 3);  // the sequence goes on: it never restarts
  Result<std::vector<JournalEntry>> entries = sites.master->journal().Read(2, 1 << 20);
  REQUIRE(entries.ok());
  REQUIRE(entries->size() == 2);
  CHECK(entries->at(0).flags == kJournalBatchBegin);
  CHECK(entries->at(1).flags == kJournalBatchEnd);
  CHECK(sites.master->suspended());
  sites.master->Resume();
  CHECK_FALSE(sites.master->suspended());
  sites.Write(16384, std::string(4096, 'c'));  // journaled again, after the batch
  REQUIRE(Eventually([&] { return sites.master->Progress().applied_sequence == 4; }));
  CHECK(Image(*sites.primary) == Image(*sites.secondary));
  CHECK(sites.master->AppendBatch({}).status().code() == Code::kInvalidArgument);
}

TEST_CASE("a resync batch that does not fit the free space is refused before anything is appended",
          "[async][resync]") {
  GroupSites sites;  // threads not started: nothing is shipped or freed
  const std::string data(kMaxJournalEntryDataBytes / 4, 'd');
  std::vector<JournalWrite> batch;
  for (uint64_t i = 0; i * data.size() < kJournalBytes; ++i)
    batch.push_back({"db", wire::WriteKind::kData, 0, data.size(), data, 0});
  CHECK(sites.master->AppendBatch(batch).status().code() == Code::kNoSpace);
  CHECK(sites.master->journal().last_sequence() == 0);
}

TEST_CASE("the transfer keeps a window of batches in flight; the copies end equal", "[async]") {
  GroupSites sites;
  sites.hold_for_company.store(true);  // each send waits for another: a window, not one batch
  sites.master->Start();
  sites.restore->Start();
  // 200 entries make a batch at most (wire::kMaxJournalBatchEntries): several batches.
  constexpr int kWrites = 1000;
  for (int i = 0; i < kWrites; ++i) {
    sites.Write(static_cast<uint64_t>(i % 97) * 512,
                std::string(512, static_cast<char>('a' + i % 26)));
  }
  REQUIRE(Eventually([&] { return sites.master->Progress().applied_sequence == kWrites; }));
  CHECK(sites.most_in_link.load() > 1);
  CHECK(sites.most_in_link.load() <= kAsyncBatchesInFlight);
  CHECK(Image(*sites.primary) == Image(*sites.secondary));
  CHECK(sites.restore->journal().applied_sequence() == kWrites);
}

// Pacing (AsyncGroupHooks::pace_ms, node/limits.h kAsyncSmallPassMs): a pace far longer than the
// test, so that what it holds back stays held however slow the machine; Stop ends the pause.
constexpr int kLongPaceMs = 600000;

// Stops `group` on another thread; false if Stop has not returned within a deadline that only
// catches a hang (a pause Stop cannot end).
bool StopsPromptly(AsyncGroup& group) {
  std::future<void> stopped = std::async(std::launch::async, [&] { group.Stop(); });
  return stopped.wait_for(std::chrono::seconds(60)) == std::future_status::ready;
}

// Starts both sides, sends a small first batch (it goes at once) and appends a second small
// entry, which waits for the master's pace; returns after 300 ms of it.
void HoldASmallBatch(GroupSites& sites) {
  sites.master->Start();
  sites.restore->Start();
  sites.Write(0, std::string(512, 'a'));
  REQUIRE(Eventually([&] { return sites.restore->journal().applied_sequence() == 1; }));
  sites.Write(512, std::string(512, 'b'));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
}

TEST_CASE("a small batch right after another waits for the pace; Stop ends the wait", "[async]") {
  GroupSites sites(nullptr, nullptr, kLongPaceMs, 0);
  HoldASmallBatch(sites);
  CHECK(sites.master->Progress().sent_sequence == 1);  // held: the last batch was small
  CHECK(sites.master->counters().batches_sent >= 1);
  CHECK(StopsPromptly(*sites.master));
  CHECK(sites.master->journal().last_sequence() == 2);  // kept for the next start
}

// The /proc/self/task directories of this process's threads named `name`.
std::vector<std::filesystem::path> ThreadsNamed(const std::string& name) {
  std::vector<std::filesystem::path> threads;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string thread_name;
    std::getline(comm, thread_name);
    if (thread_name == name) threads.push_back(task.path());
  }
  return threads;
}

// The voluntary context switches of this process's threads named `name`, summed: each time one
// slept and was woken (/proc/self/task/*/status).
uint64_t WakeupsOfThreads(const std::string& name) {
  uint64_t wakeups = 0;
  for (const std::filesystem::path& task : ThreadsNamed(name)) {
    std::ifstream status(task / "status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0)
        wakeups += std::stoull(line.substr(line.find(':') + 1));
    }
  }
  return wakeups;
}

// Every append announces work; a sending thread that waits out the small-batch pace (or the
// fill's pause) has none to take, and is not woken for it: on the old shared condition variable
// each append woke it, a futex wake and a context switch per write (issue 13, 4 KiB write+fsync).
TEST_CASE("appends do not wake the sending threads while a small batch waits for its pace",
          "[async]") {
  GroupSites sites(nullptr, nullptr, kLongPaceMs, 0);
  HoldASmallBatch(sites);  // one lane waits for the pace, the others for it to hand over
  const uint64_t before = WakeupsOfThreads("journal-send") + WakeupsOfThreads("journal-fill");
  constexpr int kAppends = 400;
  for (int i = 0; i < kAppends; ++i)
    sites.Write(static_cast<uint64_t>(i % 64) * 512,
                std::string(512, static_cast<char>('c' + i % 20)));
  const uint64_t woken =
      WakeupsOfThreads("journal-send") + WakeupsOfThreads("journal-fill") - before;
  INFO("the group's sending and fill threads were woken " << woken << " times during " << kAppends
                                                          << " appends");
  CHECK(woken < kAppends / 4);
  CHECK(sites.master->Progress().sent_sequence == 1);  // still held: the pace is long
}

TEST_CASE("a restore pass after a small one waits for the pace; Stop ends the wait", "[async]") {
  GroupSites sites(nullptr, nullptr, 0, kLongPaceMs);
  sites.master->Start();
  sites.restore->Start();
  sites.Write(0, std::string(512, 'a'));
  REQUIRE(Eventually([&] { return sites.restore->journal().applied_sequence() == 1; }));
  sites.Write(512, std::string(512, 'b'));
  // Received and durable at the secondary, not applied while the restore thread pauses.
  REQUIRE(Eventually([&] { return sites.master->Progress().sent_sequence == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(sites.restore->journal().applied_sequence() == 1);
  CHECK(StopsPromptly(*sites.restore));
}

// The group's threads wait on its clock (AsyncGroup::WaitFor): held, a small batch's pace never
// passes, whatever the wall clock does; moved past it, the batch leaves.
TEST_CASE("a small batch waits for its pace on the group's clock", "[async]") {
  sim::ManualClock clock;
  GroupSites sites(&clock, nullptr, kAsyncSmallPassMs, 0);
  sites.master->Start();
  sites.restore->Start();
  sites.Write(0, std::string(512, 'a'));  // the first batch goes at once
  REQUIRE(Eventually([&] { return sites.restore->journal().applied_sequence() == 1; }));
  sites.Write(512, std::string(512, 'b'));
  std::this_thread::sleep_for(std::chrono::milliseconds(30 * kAsyncSmallPassMs));
  CHECK(sites.master->Progress().sent_sequence == 1);  // no time passed on the group's clock
  clock.Advance(kAsyncSmallPassMs);
  REQUIRE(Eventually([&] { return sites.restore->journal().applied_sequence() == 2; }));
  CHECK(Image(*sites.primary) == Image(*sites.secondary));
}

TEST_CASE("a trickle of small writes under a short pace is applied whole, in order", "[async]") {
  GroupSites sites(nullptr, nullptr, 20, 20);
  sites.master->Start();
  sites.restore->Start();
  constexpr int kWrites = 60;
  for (int i = 0; i < kWrites; ++i) {
    sites.Write(static_cast<uint64_t>(i % 13) * 512,
                std::string(512, static_cast<char>('a' + i % 26)));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  REQUIRE(Eventually([&] { return sites.master->Progress().applied_sequence == kWrites; }));
  CHECK(Image(*sites.primary) == Image(*sites.secondary));
  // Paced: fewer batches than writes (each write went on its own unpaced, 2 ms apart).
  CHECK(sites.master->counters().batches_sent < static_cast<uint64_t>(kWrites));
}

TEST_CASE("the restore side writes a large entry's aligned middle past the page cache", "[async]") {
  GroupSites sites;
  sites.master->Start();
  sites.restore->Start();
  // 256 KiB from 16 bytes into a block: the middle (whole 4 KiB blocks) goes O_DIRECT, the
  // partial blocks at both ends buffered; a 4 KiB entry all buffered.
  std::string large(256 << 10, '\0');
  for (size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>('a' + i % 23);
  sites.Write(4096 + 16, large);
  sites.Write(512 << 10, std::string(4096, 'z'));
  REQUIRE(Eventually([&] { return sites.restore->journal().applied_sequence() == 2; }));
  CHECK(Image(*sites.primary) == Image(*sites.secondary));
  CHECK(sites.secondary_image->direct_writes() == 1);
}

// The nice value of this process's threads named `name` (/proc/self/task/*/stat field 19).
std::vector<int> NiceOfThreads(const std::string& name) {
  std::vector<int> nice;
  for (const std::filesystem::path& task : ThreadsNamed(name)) {
    std::ifstream stat(task / "stat");
    std::string line;
    std::getline(stat, line);
    std::istringstream fields(line.substr(line.rfind(')') + 2));  // after "pid (comm) "
    std::string field;
    for (int i = 3; i <= 19 && fields >> field; ++i) {
    }
    nice.push_back(std::stoi(field));
  }
  return nice;
}

TEST_CASE("a group's threads run at the nice value of its hooks", "[async]") {
  testing::TempDir dir;
  std::shared_ptr<Volume> volume = MemoryVolume(dir.path(), "db");
  AsyncGroupHooks hooks = NoPeerHooks(volume);
  hooks.nice = 7;
  Result<std::shared_ptr<AsyncGroup>> group =
      AsyncGroup::Open(dir.path(), "app", true, true, kJournalBytes, std::move(hooks));
  REQUIRE(group.ok());
  group.value()->Start();
  // Each thread sets its own value as it starts: wait until all four senders have.
  REQUIRE(Eventually([] {
    const std::vector<int> nice = NiceOfThreads("journal-send");
    return nice.size() == static_cast<size_t>(kAsyncBatchesInFlight) &&
           std::all_of(nice.begin(), nice.end(), [](int n) { return n == 7; });
  }));
  group.value()->Stop();
  CHECK(NiceOfThreads("journal-send").empty());
}
