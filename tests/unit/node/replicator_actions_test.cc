// The replicator's executor of the pair state machine's actions (node/pair_actions.cc: Commit,
// RunAfterSave), seen from outside: two real Replicators over the simulation's network
// (tests/sim/replicator_sites.h), clean, with the background trim of the activity log too slow to
// clear anything during a test, so that only the executor clears marks. kStartCopy: a create and
// a resync copy once their state is saved; kClearDirty: the end of a copy clears the marks at
// both sides. (kAskReserve needs clusterd's determining volume: tests/integration/cluster_*.sh.)
#include <catch2/catch.hpp>

#include "tests/sim/replicator_sites.h"
#include "tests/unit/temp_dir.h"

namespace pairfs::sim {
namespace {

constexpr uint64_t kRegionBytes = kSiteRegionBytes;

class TwoSites {
 public:
  TwoSites() : sites_(dir_.path(), 1), a(sites_.a), b(sites_.b) {
    for (ReplicatorSite* site : {&a, &b}) site->Start(sites_.wire, Options(site->name), true);
  }
  // Both copies' files have no region marked (the executor's kClearDirty); false at the deadline.
  bool Clear() {
    return WaitFor([&] { return a.SavedMarkedBytes() == 0 && b.SavedMarkedBytes() == 0; });
  }
  bool InPair() { return sites_.InPair(); }

 private:
  static node::ReplicatorOptions Options(const std::string& name) {
    node::ReplicatorOptions options = SimReplicatorOptions(name, kRegionBytes, 2000, 20);
    options.trim_interval_ms = 3600 * 1000;  // no background trim: only the executor clears
    return options;
  }
  testing::TempDir dir_;
  SitePair sites_;

 public:
  ReplicatorSite& a;
  ReplicatorSite& b;
};

TEST_CASE("executor: a create copies after its save, and the copy's end clears both sides' marks",
          "[replicator]") {
  TwoSites sites;
  // Before the pair: the copy must carry it.
  REQUIRE(sites.a.Write(0, std::string(3 * kRegionBytes, 'p')).ok());
  std::string note;
  Status created = sites.a.replicator->CreatePair({"v", "sync", "", "never", ""}, &note);
  INFO(created.message());
  REQUIRE(created.ok());
  REQUIRE(WaitFor([&] { return sites.InPair(); }));  // kStartCopy ran: the copy finished
  CHECK(sites.a.Image() == sites.b.Image());
  // kClearDirty: here (every region was marked) and at the peer, asked by the primary.
  CHECK(sites.Clear());
}

TEST_CASE("executor: a resync copies the regions written apart once its COPY is saved",
          "[replicator]") {
  TwoSites sites;
  std::string note;
  REQUIRE(sites.a.replicator->CreatePair({"v", "sync", "", "never", ""}, &note).ok());
  REQUIRE(WaitFor([&] { return sites.InPair(); }));
  Status split = sites.a.replicator->Split("v", false, false, &note);
  INFO(split.message());
  REQUIRE(split.ok());
  REQUIRE(WaitFor([&] { return sites.b.Status() == "secondary PSUS"; }));
  // Written alone: marked.
  REQUIRE(sites.a.Write(5 * kRegionBytes, std::string(2 * kRegionBytes, 'w')).ok());
  CHECK(sites.a.Image() != sites.b.Image());
  Status resynced = sites.a.replicator->Resync("v", false, false, &note);
  INFO(resynced.message());
  REQUIRE(resynced.ok());
  REQUIRE(WaitFor([&] { return sites.InPair(); }));
  CHECK(sites.a.Image() == sites.b.Image());
  CHECK(sites.Clear());
}

}  // namespace
}  // namespace pairfs::sim
