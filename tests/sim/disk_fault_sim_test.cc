// Faults of the local disk in a pair (doc/design.md "Faults of the local disk"), in the simulation:
// two real Replicators over the simulated network (tests/sim/replicator_sites.h), each volume over
// a MemoryBlockFile that fails writes (ENOSPC, EIO) or flushes on cue. A write that fails at
// either copy suspends the pair (PSUE) with its region dirty, the writer gets the error, and once
// the fault is gone a resync makes the copies identical. The network is clean here: only the disk
// fails.
#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <thread>

#include "tests/sim/replicator_sites.h"
#include "tests/unit/temp_dir.h"

namespace pairfs::sim {
namespace {

using namespace std::chrono_literals;

class Pair {
 public:
  Pair() : sites_(dir_.path(), 1), a(sites_.a), b(sites_.b) {
    for (ReplicatorSite* site : {&a, &b}) {
      site->Start(sites_.wire, SimReplicatorOptions(site->name, kSiteRegionBytes, 200, 20), true);
    }
    REQUIRE(a.Write(0, std::string(3 * kSiteRegionBytes, 'p')).ok());  // written before the pair
  }
  void Create() {
    std::string note;
    Status created = a.replicator->CreatePair({"v", "sync", "", "never", ""}, &note);
    INFO(created.message());
    REQUIRE(created.ok());
  }
  bool InPair() { return sites_.InPair(); }
  void Resync() {
    std::string note;
    Status resynced = a.replicator->Resync("v", false, false, &note);
    INFO(resynced.message());
    REQUIRE(resynced.ok());
    REQUIRE(WaitFor([&] { return InPair(); }));
  }
  void RequireIdentical() {
    CHECK(a.Image() == b.Image());
    Result<std::vector<uint64_t>> mismatches = a.replicator->Verify("v", 0, kSiteVolumeBytes);
    REQUIRE(mismatches.ok());
    CHECK(mismatches.value().empty());
  }
  // Both sides suspended, the primary with the region of `offset` dirty.
  void RequireSuspendedWithDirty() {
    // A write at the secondary fails there after the primary granted it: the writer has its
    // error before the primary reads the confirm.
    CHECK(WaitFor([&] { return a.Status() == "primary PSUE"; }));
    CHECK(a.DirtyBytes() > 0);
    CHECK(WaitFor([&] { return b.Status() == "secondary PSUE"; }));
  }

 private:
  testing::TempDir dir_;
  SitePair sites_;

 public:
  ReplicatorSite& a;
  ReplicatorSite& b;
};

void RequireError(const Result<size_t>& written, int error_number) {
  INFO(written.status().message());
  REQUIRE_FALSE(written.ok());
  CHECK(ErrnoFor(written.status()) == error_number);
}

TEST_CASE(
    "disk fault: a write that fails at the primary (disk full) suspends the pair; resync repairs "
    "it",
    "[sim][disk]") {
  Pair pair;
  pair.Create();
  REQUIRE(WaitFor([&] { return pair.InPair(); }));
  pair.a.image->FailWrites(ENOSPC);
  RequireError(pair.a.Write(5 * kSiteRegionBytes, std::string(100, 'x')), ENOSPC);
  pair.RequireSuspendedWithDirty();    // the secondary wrote it, the primary did not
  std::this_thread::sleep_for(100ms);  // several activity-log trims: the region stays dirty
  CHECK(pair.a.DirtyBytes() > 0);
  pair.a.image->FailWrites(0);
  pair.Resync();
  pair.RequireIdentical();
}

TEST_CASE(
    "disk fault: a write that fails at the secondary (EIO) suspends the pair; resync repairs it",
    "[sim][disk]") {
  Pair pair;
  pair.Create();
  REQUIRE(WaitFor([&] { return pair.InPair(); }));
  pair.b.image->FailWrites(EIO);
  RequireError(pair.a.Write(7 * kSiteRegionBytes + 10, std::string(5000, 'y')), EIO);
  pair.RequireSuspendedWithDirty();
  pair.b.image->FailWrites(0);
  pair.Resync();
  pair.RequireIdentical();
  CHECK(pair.b.Image().substr(7 * kSiteRegionBytes + 10, 5000) ==
        std::string(5000, 'y'));  // the primary's copy won
}

TEST_CASE(
    "disk fault: a write at the secondary that fails there after the primary granted it suspends "
    "the pair",
    "[sim][disk]") {
  Pair pair;
  pair.Create();
  REQUIRE(WaitFor([&] { return pair.InPair(); }));
  pair.b.image->FailWrites(ENOSPC);
  RequireError(pair.b.Write(9 * kSiteRegionBytes, std::string(512, 'z')), ENOSPC);
  pair.RequireSuspendedWithDirty();
  pair.b.image->FailWrites(0);
  pair.Resync();
  pair.RequireIdentical();
}

TEST_CASE(
    "disk fault: a write at the secondary that fails at the primary suspends the pair, the writer "
    "gets ENOSPC",
    "[sim][disk]") {
  Pair pair;
  pair.Create();
  REQUIRE(WaitFor([&] { return pair.InPair(); }));
  pair.a.image->FailWrites(ENOSPC);
  RequireError(pair.b.Write(11 * kSiteRegionBytes, std::string(512, 'w')), ENOSPC);
  pair.RequireSuspendedWithDirty();
  pair.a.image->FailWrites(0);
  pair.Resync();
  pair.RequireIdentical();
}

TEST_CASE(
    "disk fault: a copy write that fails at the secondary suspends the copy with its regions dirty",
    "[sim][disk]") {
  Pair pair;
  pair.b.image->FailWrites(EIO);  // the volume is one copy chunk: its write fails
  pair.Create();
  REQUIRE(WaitFor([&] { return pair.a.Status() == "primary PSUE"; }));
  CHECK(pair.a.DirtyBytes() > 0);
  CHECK(WaitFor([&] { return pair.b.Status() == "secondary PSUE"; }));
  pair.b.image->FailWrites(0);
  pair.Resync();
  pair.RequireIdentical();
  CHECK(pair.b.Image().substr(0, 3 * kSiteRegionBytes) == std::string(3 * kSiteRegionBytes, 'p'));
}

TEST_CASE("disk fault: a flush that fails at the primary suspends the pair; fsync gets the error",
          "[sim][disk]") {
  Pair pair;
  pair.Create();
  REQUIRE(WaitFor([&] { return pair.InPair(); }));
  REQUIRE(pair.a.Write(13 * kSiteRegionBytes, std::string(512, 'f')).ok());
  pair.a.image->FailSyncs(EIO);
  Status flushed = pair.a.replicator->Flush(pair.a.volume());
  CHECK(ErrnoFor(flushed) == EIO);
  pair.RequireSuspendedWithDirty();
  pair.a.image->FailSyncs(0);
  pair.Resync();
  pair.RequireIdentical();
}

}  // namespace
}  // namespace pairfs::sim
