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

constexpr uint64_t kRegionBytes = 64 << 10;
constexpr uint64_t kVolumeBytes = 6 << 20;  // one whole activity extent and half of the next

// A pair's runtime over a memory image, with an empty dirty bitmap: what Activity works on.
struct PairFixture {
  testing::TempDir dir;
  Replicator::Pair pair;

  PairFixture() {
    VolumeMetadata metadata;
    metadata.name = "al";
    metadata.size_bytes = kVolumeBytes;
    metadata.inode = 2;
    pair.volume =
        Volume::Attach(dir.path(), metadata, std::make_unique<MemoryBlockFile>(kVolumeBytes));
    const std::string path = pair.volume->SidecarPath("regions");
    REQUIRE(RegionSet::Create(path, kVolumeBytes, kRegionBytes, false).ok());
    Result<std::unique_ptr<RegionSet>> regions = RegionSet::Open(path, kVolumeBytes, kRegionBytes);
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
