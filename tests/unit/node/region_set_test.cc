#include "node/region_set.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include "tests/unit/temp_dir.h"

using namespace pairfs;
using namespace pairfs::node;

namespace {
constexpr uint64_t kRegion = 64 * 1024;

// Opens `path`, creating it with nothing marked first if it is not there.
std::unique_ptr<RegionSet> OpenSet(const std::string& path, uint64_t volume_bytes,
                                   uint64_t region = kRegion) {
  if (::access(path.c_str(), F_OK) != 0)
    REQUIRE(RegionSet::Create(path, volume_bytes, region, false).ok());
  Result<std::unique_ptr<RegionSet>> set = RegionSet::Open(path, volume_bytes, region);
  INFO(set.status().message());
  REQUIRE(set.ok());
  return std::move(set.value());
}
}  // namespace

TEST_CASE("marks survive reopening and cover every region a write touches") {
  testing::TempDir dir;
  const std::string path = dir.path() + "/vm1.regions";
  {
    auto set = OpenSet(path, 1 << 30);
    CHECK(set->MarkedRegions().empty());
    REQUIRE(set->MarkBeforeWrite(kRegion - 1, 2).ok());         // straddles regions 0 and 1
    REQUIRE(set->MarkBeforeWrite(10 * kRegion, kRegion).ok());  // exactly region 10
  }
  auto set = OpenSet(path, 1 << 30);
  CHECK(set->MarkedRegions() == std::vector<uint64_t>{0, 1, 10});
  CHECK(set->marked_bytes() == 3 * kRegion);
}

TEST_CASE("writes to regions already marked cost no flush") {
  testing::TempDir dir;
  auto set = OpenSet(dir.path() + "/r", 1 << 30);
  REQUIRE(set->MarkBeforeWrite(0, 4096).ok());
  const uint64_t after_first = set->flush_count();
  CHECK(after_first == 1);
  for (int i = 0; i < 1000; ++i) REQUIRE(set->MarkBeforeWrite(4096 * (i % 16), 4096).ok());
  CHECK(set->flush_count() == after_first);
}

TEST_CASE(
    "concurrent writers to clean regions all end durably marked, in no more flushes than marks") {
  testing::TempDir dir;
  const std::string path = dir.path() + "/r";
  constexpr int kThreads = 8, kMarks = 50;
  {
    auto set = OpenSet(path, 64ull << 30);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kMarks; ++i)
          REQUIRE(set->MarkBeforeWrite((uint64_t(t) * kMarks + i) * 7 * kRegion, 1).ok());
      });
    }
    for (auto& thread : threads) thread.join();
    CHECK(set->flush_count() <= kThreads * kMarks);
  }
  CHECK(OpenSet(path, 64ull << 30)->MarkedRegions().size() == kThreads * kMarks);
}

TEST_CASE("clearing is durable, and the last partial region counts only its own bytes") {
  testing::TempDir dir;
  const std::string path = dir.path() + "/r";
  const uint64_t volume = 10 * kRegion + 4096;  // 11 regions, the last one 4 KiB
  {
    auto set = OpenSet(path, volume);
    CHECK(set->region_count() == 11);
    REQUIRE(set->MarkRegions({0, 5, 10}).ok());
    CHECK(set->marked_bytes() == 2 * kRegion + 4096);
    REQUIRE(set->ClearRegions({5}).ok());
    CHECK(set->MarkRegions({11}).code() == Code::kInvalidArgument);
  }
  auto set = OpenSet(path, volume);
  CHECK(set->MarkedRegions() == std::vector<uint64_t>{0, 10});
  REQUIRE(set->ClearAll().ok());
  CHECK(OpenSet(path, volume)->marked_bytes() == 0);
}

TEST_CASE("a torn bit page reads as all changed; other pages keep their bits") {
  testing::TempDir dir;
  const std::string path = dir.path() + "/r";
  const uint64_t volume = 3 * kRegionsPerPage * kRegion;  // three bit pages
  {
    auto set = OpenSet(path, volume);
    REQUIRE(set->MarkRegions({3, kRegionsPerPage * 2 + 9}).ok());
  }
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(kRegionSetPageBytes * 2 + 100);  // inside the second bit page
    file.put('\x5a');
  }
  auto set = OpenSet(path, volume);
  CHECK(set->IsMarked(3));
  CHECK_FALSE(set->IsMarked(4));
  CHECK(set->IsMarked(kRegionsPerPage));  // the torn page: all marked
  CHECK(set->IsMarked(2 * kRegionsPerPage - 1));
  CHECK(set->IsMarked(kRegionsPerPage * 2 + 9));
  CHECK_FALSE(set->IsMarked(kRegionsPerPage * 2 + 10));
}

TEST_CASE("a new pair's region set has every region marked") {
  testing::TempDir dir;
  const std::string path = dir.path() + "/r";
  const uint64_t volume =
      (kRegionsPerPage + 3) * kRegion;  // two bit pages, the second nearly empty
  REQUIRE(RegionSet::Create(path, volume, kRegion, true).ok());
  auto set = OpenSet(path, volume);
  CHECK(set->MarkedRegions().size() == kRegionsPerPage + 3);
  CHECK(set->marked_bytes() == volume);
}

TEST_CASE("a missing region set counts every region as changed, never none") {
  testing::TempDir dir;
  const std::string path = dir.path() + "/r";
  const uint64_t volume = 10 * kRegion + 4096;
  auto set = OpenSet(path, volume);  // created empty...
  set.reset();
  REQUIRE(::unlink(path.c_str()) == 0);  // ...and lost
  Result<std::unique_ptr<RegionSet>> reopened = RegionSet::Open(path, volume, kRegion);
  REQUIRE(reopened.ok());
  CHECK(reopened.value()->marked_bytes() == volume);
  CHECK(reopened.value()->region_count() == 11);
  reopened.value().reset();
  CHECK(OpenSet(path, volume)->marked_bytes() == volume);  // the replacement is durable
}

TEST_CASE(
    "a region set with a bad header, wrong size or another geometry counts every region as "
    "changed") {
  testing::TempDir dir;
  const std::string path = dir.path() + "/r";
  auto all_marked = [&](uint64_t volume, uint64_t region) {
    Result<std::unique_ptr<RegionSet>> set = RegionSet::Open(path, volume, region);
    INFO(set.status().message());
    REQUIRE(set.ok());
    return set.value()->marked_bytes() == volume;
  };
  OpenSet(path, 1 << 30);
  CHECK(all_marked(2ull << 30, kRegion));  // another volume size
  REQUIRE(RegionSet::Create(path, 1 << 30, kRegion, false).ok());
  CHECK(all_marked(1 << 30, 4096));  // another region size
  REQUIRE(RegionSet::Create(path, 1 << 30, kRegion, false).ok());
  REQUIRE(::truncate(path.c_str(), kRegionSetPageBytes + 100) == 0);
  CHECK(all_marked(1 << 30, kRegion));  // cut short
  REQUIRE(RegionSet::Create(path, 1 << 30, kRegion, false).ok());
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.put('X');
  }
  CHECK(all_marked(1 << 30, kRegion));  // bad magic
}

TEST_CASE("kill -9 at random instants never loses a mark that was acknowledged") {
  testing::TempDir dir;
  std::mt19937 random(5);
  for (int round = 0; round < 20; ++round) {
    const std::string path = dir.path() + "/r" + std::to_string(round);
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::close(pipe_fds[0]);
      if (!RegionSet::Create(path, 1ull << 40, kRegion, false).ok()) ::_exit(1);
      auto set = std::move(RegionSet::Open(path, 1ull << 40, kRegion).value());
      std::mt19937_64 regions(round);
      for (;;) {
        const uint64_t region = regions() % set->region_count();
        if (!set->MarkBeforeWrite(region * kRegion, 4096).ok()) ::_exit(1);
        if (::write(pipe_fds[1], &region, sizeof region) != sizeof region)
          ::_exit(1);  // acknowledged
      }
    }
    ::close(pipe_fds[1]);
    ::usleep(5000 + random() % 20000);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    std::vector<uint64_t> acknowledged;
    uint64_t region = 0;
    while (::read(pipe_fds[0], &region, sizeof region) == sizeof region)
      acknowledged.push_back(region);
    ::close(pipe_fds[0]);
    if (acknowledged.empty()) continue;  // killed before the file existed
    auto set = OpenSet(path, 1ull << 40);
    INFO("round " << round << ", " << acknowledged.size() << " acknowledged marks");
    for (uint64_t marked : acknowledged) REQUIRE(set->IsMarked(marked));
  }
}

TEST_CASE("a region set file decodes from memory as Open reads it; what Open replaces is refused") {
  testing::TempDir dir;
  const std::string path = dir.path() + "/decoded";
  const uint64_t volume = 2 * kRegionsPerPage * kRegion;  // two bit pages
  {
    auto set = OpenSet(path, volume);
    REQUIRE(set->MarkRegions({1, kRegionsPerPage + 7}).ok());
  }
  std::ifstream in(path, std::ios::binary);
  std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Result<DecodedRegionSet> decoded = DecodeRegionSet(file, file.size(), volume, kRegion);
  REQUIRE(decoded.ok());
  CHECK(decoded.value().torn_pages.empty());
  const std::vector<uint8_t>& bits = decoded.value().bits;
  auto marked = [&](uint64_t region) { return (bits[region / 8] >> (region % 8)) & 1; };
  CHECK(marked(1));
  CHECK_FALSE(marked(2));
  CHECK(marked(kRegionsPerPage + 7));

  std::string torn = file;
  torn[kRegionSetPageBytes + 100] ^= 0x5a;  // inside the first bit page
  decoded = DecodeRegionSet(torn, torn.size(), volume, kRegion);
  REQUIRE(decoded.ok());
  CHECK(decoded.value().torn_pages == std::vector<size_t>{0});

  CHECK(DecodeRegionSet(file.substr(0, 100), file.size(), volume, kRegion).status().code() ==
        Code::kCorruption);  // cut short
  CHECK(DecodeRegionSet(file, file.size() + 1, volume, kRegion).status().code() ==
        Code::kCorruption);  // the wrong size
  CHECK(DecodeRegionSet(file, file.size(), volume * 2, kRegion).status().code() ==
        Code::kInvalidArgument);  // another geometry
  std::string bad_header = file;
  bad_header[0] ^= 1;
  CHECK(DecodeRegionSet(bad_header, file.size(), volume, kRegion).status().code() ==
        Code::kCorruption);
}

TEST_CASE("the marked run before a region counts back to the first unmarked one, up to a limit") {
  testing::TempDir dir;
  auto set = OpenSet(dir.path() + "/r", 64 * kRegion);
  CHECK(set->MarkedRunBefore(10, 100) == 0);                     // nothing marked
  REQUIRE(set->MarkBeforeWrite(2 * kRegion, 6 * kRegion).ok());  // regions 2..7
  CHECK(set->MarkedRunBefore(8, 100) == 6);
  CHECK(set->MarkedRunBefore(8, 4) == 4);    // the limit
  CHECK(set->MarkedRunBefore(5, 100) == 3);  // regions 2..4
  CHECK(set->MarkedRunBefore(9, 100) == 0);  // region 8 is not marked
  CHECK(set->MarkedRunBefore(2, 100) == 0);
  REQUIRE(set->MarkBeforeWrite(0, 2 * kRegion).ok());
  CHECK(set->MarkedRunBefore(8, 100) == 8);     // down to region 0, no further
  CHECK(set->MarkedRunBefore(1000, 100) == 0);  // past the end: region 63 is not marked
  CHECK(set->MarkedRunBefore(0, 100) == 0);
}
