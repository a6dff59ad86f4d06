// Flush ahead (node/flush_path.cc): when the application fsyncs after every write, the primary
// sends a flush right behind each lone write so that the peer's fdatasync starts before the fsync
// comes. In the simulation (two real Replicators, tests/sim/replicator_sites.h) with volumes over
// MemoryBlockFiles: after every fsync that succeeded, the secondary's image loses whatever it had
// not synced (MemoryBlockFile::Crash), and must still hold every write acknowledged before the
// fsync, also when frames are dropped, duplicated and reordered (a write dropped and sent again
// after its flush ahead: the flush must not count for it).
#include <catch2/catch.hpp>

#include <string>

#include "node/latency_histogram.h"
#include "tests/sim/replicator_sites.h"
#include "tests/unit/temp_dir.h"

namespace pairfs::sim {
namespace {

constexpr uint64_t kBlockBytes = 4096;

// A sync pair of "v" in PAIR over a wire with `profile`.
struct FlushAheadPair {
  explicit FlushAheadPair(uint64_t seed) : sites(dir.path(), seed) {
    for (ReplicatorSite* site : {&sites.a, &sites.b}) {
      node::ReplicatorOptions options =
          SimReplicatorOptions(site->name, kSiteRegionBytes, 2000, 20);
      // The trim flushes both copies (node/activity_log.cc): here it would sync b's image between
      // a write and the fsync, and hide a flush that did not cover its write.
      options.trim_interval_ms = 600000;
      site->Start(sites.wire, options, true);
    }
    std::string note;
    Status created = sites.a.replicator->CreatePair({"v", "sync", "", "never", ""}, &note);
    INFO(created.message());
    REQUIRE(created.ok());
    REQUIRE(WaitFor([&] { return sites.InPair(); }));
  }
  testing::TempDir dir;
  SitePair sites;
};

// Writes a block then fsyncs it at a, `rounds` times, each block different; after each fsync, b's
// unsynced writes are lost and b's image must equal a's.
void WriteAndFsyncRounds(FlushAheadPair& pair, int rounds) {
  ReplicatorSite& a = pair.sites.a;
  ReplicatorSite& b = pair.sites.b;
  for (int round = 0; round < rounds; ++round) {
    const uint64_t offset =
        (static_cast<uint64_t>(round) * 7 % (kSiteVolumeBytes / kBlockBytes)) * kBlockBytes;
    REQUIRE(a.Write(offset, std::string(kBlockBytes, static_cast<char>('a' + round % 26))).ok());
    Status flushed = a.replicator->Flush(a.volume());
    INFO("round " << round << ": " << flushed.message());
    REQUIRE(flushed.ok());
    REQUIRE(a.Status() == "primary PAIR");
    b.image->Crash();  // a power loss at b right after the fsync returned
    REQUIRE(b.Image() == a.Image());
  }
}

TEST_CASE(
    "flush ahead: an application that fsyncs after every write finds each write durable at "
    "the peer, and the fsyncs use the flushes sent ahead",
    "[sim][flush_ahead]") {
  FlushAheadPair pair(1);
  const node::StageTable& stages = node::StageLatencies();
  const uint64_t flushes_before = stages.Of(node::Stage::kFlush).Read().count;
  const uint64_t round_trips_before = stages.Of(node::Stage::kFlushRoundTrip).Read().count;
  WriteAndFsyncRounds(pair, 20);
  // A flush that used its flush ahead has no round trip of its own (the first ones cannot: the
  // pattern is not seen yet).
  const uint64_t flushes = stages.Of(node::Stage::kFlush).Read().count - flushes_before;
  const uint64_t round_trips =
      stages.Of(node::Stage::kFlushRoundTrip).Read().count - round_trips_before;
  CHECK(flushes >= 20);
  CHECK(round_trips < flushes / 2);
  // The secondary writes a block that follows a flush ahead with O_DIRECT (its fdatasync then
  // has nothing to write back), and goes back to the page cache once writes come without one.
  ReplicatorSite& b = pair.sites.b;
  const uint64_t direct = b.image->direct_writes();
  CHECK(direct >= 10);
  for (int i = 0; i < 10; ++i)
    REQUIRE(pair.sites.a.Write(i * kBlockBytes, std::string(kBlockBytes, 'n')).ok());
  // The first two may: the primary sends a flush ahead behind the first write of the burst too
  // (it still sees the pattern), so the second one follows it.
  CHECK(b.image->direct_writes() - direct <= 2);
}

TEST_CASE(
    "flush ahead: with frames dropped, duplicated and reordered, every fsync still covers its "
    "write at the peer",
    "[sim][flush_ahead]") {
  FlushAheadPair pair(7);
  FaultProfile faulty;
  faulty.drop = 0.2;
  faulty.duplicate = 0.1;
  faulty.min_delay_ms = 0;
  faulty.max_delay_ms = 3;
  pair.sites.wire.SetProfile(faulty);
  const node::StageTable& stages = node::StageLatencies();
  const uint64_t flushes_before = stages.Of(node::Stage::kFlush).Read().count;
  const uint64_t round_trips_before = stages.Of(node::Stage::kFlushRoundTrip).Read().count;
  WriteAndFsyncRounds(pair, 100);
  const uint64_t flushes = stages.Of(node::Stage::kFlush).Read().count - flushes_before;
  const uint64_t round_trips =
      stages.Of(node::Stage::kFlushRoundTrip).Read().count - round_trips_before;
  CHECK(round_trips < flushes);  // some fsyncs used their flush ahead
}

// The local sync ahead (node/flush_path.cc SyncAhead): a write that sent a flush ahead also
// syncs a's copy while its answer travels, and the fsync skips a's fdatasync. A power loss at both
// sites right after each fsync must lose nothing of what the fsyncs covered.
TEST_CASE(
    "local sync ahead: after each fsync both copies survive a power loss, and the fsyncs skip "
    "this site's own fdatasync",
    "[sim][flush_ahead]") {
  FlushAheadPair pair(3);
  ReplicatorSite& a = pair.sites.a;
  ReplicatorSite& b = pair.sites.b;
  const node::StageTable& stages = node::StageLatencies();
  const uint64_t flushes_before = stages.Of(node::Stage::kFlush).Read().count;
  const uint64_t local_before = stages.Of(node::Stage::kFlushLocal).Read().count;
  const uint64_t ahead_before = stages.Of(node::Stage::kWriteSyncAhead).Read().count;
  std::string expected = a.Image();
  for (int round = 0; round < 30; ++round) {
    const uint64_t offset =
        (static_cast<uint64_t>(round) * 5 % (kSiteVolumeBytes / kBlockBytes)) * kBlockBytes;
    const std::string block(kBlockBytes, static_cast<char>('A' + round % 26));
    REQUIRE(a.Write(offset, block).ok());
    expected.replace(offset, kBlockBytes, block);
    Status flushed = a.replicator->Flush(a.volume());
    INFO("round " << round << ": " << flushed.message());
    REQUIRE(flushed.ok());
    a.image->Crash();  // a power loss at both sites right after the fsync returned
    b.image->Crash();
    REQUIRE(a.Image() == expected);
    REQUIRE(b.Image() == expected);
  }
  const uint64_t flushes = stages.Of(node::Stage::kFlush).Read().count - flushes_before;
  CHECK(stages.Of(node::Stage::kWriteSyncAhead).Read().count - ahead_before >= flushes / 2);
  CHECK(stages.Of(node::Stage::kFlushLocal).Read().count - local_before < flushes / 2);
}

TEST_CASE(
    "flush ahead: an application that stops fsyncing after each write costs at most one flush "
    "and one sync ahead",
    "[sim][flush_ahead]") {
  FlushAheadPair pair(5);
  WriteAndFsyncRounds(pair, 10);  // the pattern is seen: flushes go ahead
  const node::StageTable& stages = node::StageLatencies();
  const uint64_t served_before = stages.Of(node::Stage::kServeFlush).Read().count;
  const uint64_t ahead_before = stages.Of(node::Stage::kWriteSyncAhead).Read().count;
  for (int i = 0; i < 20; ++i) {
    REQUIRE(
        pair.sites.a.Write(static_cast<uint64_t>(i) * kBlockBytes, std::string(kBlockBytes, 'z'))
            .ok());
  }
  CHECK(stages.Of(node::Stage::kServeFlush).Read().count - served_before <= 1);
  CHECK(stages.Of(node::Stage::kWriteSyncAhead).Read().count - ahead_before <= 1);
}

}  // namespace
}  // namespace pairfs::sim
