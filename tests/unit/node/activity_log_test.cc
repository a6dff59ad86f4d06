#include "node/activity_log.h"

#include <catch2/catch.hpp>

#include <memory>

#include "node/block_file.h"
#include "node/limits.h"
#include "tests/unit/temp_dir.h"

using namespace pairfs;
using namespace pairfs::node;
using namespace pairfs::node::replicator_internal;

namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kStreamBytes = 1024 * kMiB;
constexpr uint64_t kRegionBytes = 64 << 10;
constexpr uint64_t kVolumeBytes = 6 << 20;  // one whole activity extent and half of the next

// A pair's runtime over a memory image, with an empty dirty bitmap: what Activity works on.
struct PairFixture {
  testing::TempDir dir;
  Replicator::Pair pair;

  explicit PairFixture(uint64_t volume_bytes = kVolumeBytes) {
    VolumeMetadata metadata;
    metadata.name = "al";
    metadata.size_bytes = volume_bytes;
    metadata.inode = 2;
    pair.volume =
        Volume::Attach(dir.path(), metadata, std::make_unique<MemoryBlockFile>(volume_bytes));
    const std::string path = pair.volume->SidecarPath("regions");
    REQUIRE(RegionSet::Create(path, volume_bytes, kRegionBytes, false).ok());
    Result<std::unique_ptr<RegionSet>> regions = RegionSet::Open(path, volume_bytes, kRegionBytes);
    REQUIRE(regions.ok());
    pair.regions = std::move(regions.value());
    pair.last_epoch.assign(pair.regions->region_count(), 0);
  }
};

}  // namespace

TEST_CASE("a write's regions are marked before it, and it counts in flight until it ends",
          "[activity_log]") {
  PairFixture fixture;
  Replicator::Pair& pair = fixture.pair;
  {
    Result<Activity> activity = Activity::Begin(pair, kRegionBytes + 10, 100, false);
    REQUIRE(activity.ok());
    CHECK(pair.regions->MarkedRegions() == std::vector<uint64_t>{1});
    CHECK(pair.last_epoch[1] == pair.epoch);
    CHECK(pair.in_flight.at(pair.epoch) == 1);
    Activity moved = std::move(activity.value());  // still one write in flight
    CHECK(pair.in_flight.at(pair.epoch) == 1);
  }
  CHECK(pair.in_flight.empty());
}

TEST_CASE("a replicated write marks whole activity extents, clipped at the end of the volume",
          "[activity_log]") {
  PairFixture fixture;
  Replicator::Pair& pair = fixture.pair;
  Result<Activity> activity = Activity::Begin(pair, kActivityExtentBytes + 10, 10, true);
  REQUIRE(activity.ok());
  const std::vector<uint64_t> marked = pair.regions->MarkedRegions();
  REQUIRE_FALSE(marked.empty());
  CHECK(marked.front() == kActivityExtentBytes / kRegionBytes);
  CHECK(marked.back() == kVolumeBytes / kRegionBytes - 1);
  CHECK(marked.size() == (kVolumeBytes - kActivityExtentBytes) / kRegionBytes);
}

TEST_CASE(
    "a long replicated write reaching an unmarked extent marks the extents ahead with it; a short "
    "one, or one in a marked extent, does not",
    "[activity_log]") {
  const uint64_t first_extent_regions = kActivityExtentBytes / kRegionBytes;
  SECTION("short") {
    PairFixture fixture;
    REQUIRE(Activity::Begin(fixture.pair, 0, kMarkAheadMinWriteBytes - 4096, true).ok());
    CHECK(fixture.pair.regions->MarkedRegions().size() == first_extent_regions);
  }
  SECTION("long, into a marked extent") {
    PairFixture fixture;
    REQUIRE(Activity::Begin(fixture.pair, 0, 4096, true).ok());
    REQUIRE(Activity::Begin(fixture.pair, 0, kMarkAheadMinWriteBytes, true).ok());
    CHECK(fixture.pair.regions->MarkedRegions().size() == first_extent_regions);
  }
  SECTION("long, into an unmarked extent: the next extents too, clipped at the end") {
    PairFixture fixture;
    fixture.pair.epoch = 5;
    REQUIRE(Activity::Begin(fixture.pair, 0, kMarkAheadMinWriteBytes, true).ok());
    CHECK(fixture.pair.regions->MarkedRegions().size() == kVolumeBytes / kRegionBytes);
    CHECK(fixture.pair.last_epoch.back() == fixture.pair.epoch);  // the trim clears them later
  }
}

TEST_CASE(
    "a sequential stream of long writes marks ahead as far as it has come, up to a bound: one "
    "bitmap flush per 16, 32, 64, ... MiB instead of one per extent",
    "[activity_log]") {
  PairFixture fixture(kStreamBytes);
  Replicator::Pair& pair = fixture.pair;
  std::vector<uint64_t> marked_after;  // how far the marks reach after each flush
  uint64_t flushes = pair.regions->flush_count();
  for (uint64_t offset = 0; offset < kStreamBytes; offset += kMiB) {
    REQUIRE(Activity::Begin(pair, offset, kMiB, true).ok());
    // Every byte written is marked before the write, whatever was marked ahead.
    REQUIRE(pair.regions->IsMarked((offset + kMiB - 1) / kRegionBytes));
    if (pair.regions->flush_count() != flushes) {
      flushes = pair.regions->flush_count();
      marked_after.push_back(pair.regions->MarkedRegions().size() * kRegionBytes);
    }
  }
  // 4 MiB extent + 16 ahead: 20 MiB; then each mark at least doubles what is marked (the end
  // rounded up to an extent) until steps of 256 MiB: 20, 44, 92, 188, 380, 640, 900, 1024.
  REQUIRE(marked_after.size() >= 5);
  CHECK(marked_after[0] == kActivityExtentBytes + kMarkAheadBytes);
  for (size_t i = 1; i < marked_after.size(); ++i) {
    INFO("flush " << i << ": marked through " << marked_after[i] / kMiB << " MiB");
    if (marked_after[i - 1] < kMarkAheadMaxBytes && marked_after[i] < kStreamBytes)
      CHECK(marked_after[i] >= 2 * marked_after[i - 1]);
    CHECK(marked_after[i] - marked_after[i - 1] <= kMarkAheadMaxBytes + kActivityExtentBytes);
  }
  CHECK(marked_after.size() <= 8);  // one flush per 16 MiB would be 64
  CHECK(pair.regions->MarkedRegions().size() * kRegionBytes == kStreamBytes);
}

TEST_CASE("a long write with nothing marked behind it marks kMarkAheadBytes ahead, no more",
          "[activity_log]") {
  PairFixture fixture(kStreamBytes);
  REQUIRE(Activity::Begin(fixture.pair, 512 * kMiB, kMiB, true).ok());
  CHECK(fixture.pair.regions->MarkedRegions().size() * kRegionBytes ==
        kActivityExtentBytes + kMarkAheadBytes);
  // Long writes far apart (random, not a stream) each mark that much, as before.
  REQUIRE(Activity::Begin(fixture.pair, 100 * kMiB, kMiB, true).ok());
  REQUIRE(Activity::Begin(fixture.pair, 900 * kMiB, kMiB, true).ok());
  CHECK(fixture.pair.regions->MarkedRegions().size() * kRegionBytes ==
        3 * (kActivityExtentBytes + kMarkAheadBytes));
}

TEST_CASE("a write never moves a pinned region's epoch: only a copy clears it", "[activity_log]") {
  PairFixture fixture;
  Replicator::Pair& pair = fixture.pair;
  pair.last_epoch[3] = kPinnedEpoch;
  pair.epoch = 7;
  Result<Activity> activity = Activity::Begin(pair, 3 * kRegionBytes, 2 * kRegionBytes, false);
  REQUIRE(activity.ok());
  CHECK(pair.last_epoch[3] == kPinnedEpoch);
  CHECK(pair.last_epoch[4] == 7);
  CHECK(pair.in_flight.at(7) == 1);
}
