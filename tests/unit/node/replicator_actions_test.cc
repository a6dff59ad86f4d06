// The replicator's executor of the pair state machine's actions (node/replicator.cc: Commit,
// RunAfterSave), seen from outside: two real Replicators over the simulation's network
// (tests/sim/replication_wire.h), clean, with the background trim of the activity log too slow to
// clear anything during a test, so that only the executor clears marks. kStartCopy: a create and
// a resync copy once their state is saved; kClearDirty: the end of a copy clears the marks at
// both sides. (kAskReserve needs clusterd's determining volume: tests/integration/cluster_*.sh.)
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <thread>

#include "node/block_file.h"
#include "node/region_set.h"
#include "node/replicator.h"
#include "node/store.h"
#include "tests/sim/replication_wire.h"
#include "tests/unit/temp_dir.h"

namespace pairfs::sim {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kVolumeBytes = 256 * 1024;
constexpr uint64_t kRegionBytes = 4096;

template <class Predicate>
bool WaitFor(Predicate done, std::chrono::milliseconds limit = 10000ms) {  // only to catch hangs
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return done();
}

struct Site {
  std::string name;
  std::string dir;
  std::unique_ptr<SimTransport> transport;
  std::unique_ptr<node::VolumeStore> store;
  std::unique_ptr<node::Replicator> replicator;

  void Start(Wire& wire) {
    store = std::move(node::VolumeStore::Open(dir).value());
    node::VolumeMetadata metadata;
    metadata.name = "v";
    metadata.size_bytes = kVolumeBytes;
    metadata.inode = 2;
    REQUIRE(store
                ->Adopt(node::Volume::Attach(dir + "/volumes", metadata,
                                             std::make_unique<node::MemoryBlockFile>(kVolumeBytes)))
                .ok());
    node::ReplicatorOptions options = SimReplicatorOptions(name, kRegionBytes, 2000, 20);
    options.trim_interval_ms = 3600 * 1000;  // no background trim: only the executor clears
    replicator = std::make_unique<node::Replicator>(*store, options, transport.get());
    REQUIRE(replicator->Start().ok());
    wire.Attach(name, replicator.get());
  }
  node::Volume& volume() { return *store->Find("v"); }
  std::string Status() { return volume().metadata().role + " " + volume().metadata().status; }
  std::string Image() {
    std::string bytes(kVolumeBytes, '\0');
    REQUIRE(volume().Read(0, kVolumeBytes, bytes.data(), false).value() == kVolumeBytes);
    return bytes;
  }
  void Write(uint64_t offset, char fill, uint64_t length) {
    const std::string data(length, fill);
    REQUIRE(replicator->Write(volume(), name, offset, data.data(), data.size(), false).ok());
  }
  // The marks in the region set's file, read by a second instance (safe while the replicator
  // runs: a page being rewritten fails its checksum and reads as all marked, never as clear).
  uint64_t SavedMarkedBytes() {
    Result<std::unique_ptr<node::RegionSet>> regions =
        node::RegionSet::Open(volume().SidecarPath("regions"), kVolumeBytes, kRegionBytes);
    REQUIRE(regions.ok());
    return regions.value()->marked_bytes();
  }
};

class TwoSites {
 public:
  TwoSites() : wire_(1) {
    for (Site* site : {&a, &b}) {
      site->name = site == &a ? "a" : "b";
      site->dir = dir_.path() + "/" + site->name;
      std::filesystem::create_directories(site->dir);
      site->transport = std::make_unique<SimTransport>(wire_, site->name);
      site->Start(wire_);
    }
  }
  ~TwoSites() {
    wire_.Detach("a");
    wire_.Detach("b");
    a.replicator->Stop();
    b.replicator->Stop();
  }
  // Both copies' files have no region marked (the executor's kClearDirty); false at the deadline.
  bool Clear() {
    return WaitFor([&] { return a.SavedMarkedBytes() == 0 && b.SavedMarkedBytes() == 0; });
  }
  bool InPair() { return a.Status() == "primary PAIR" && b.Status() == "secondary PAIR"; }

  Site a;
  Site b;

 private:
  testing::TempDir dir_;
  Wire wire_;
};

TEST_CASE("executor: a create copies after its save, and the copy's end clears both sides' marks",
          "[replicator]") {
  TwoSites sites;
  sites.a.Write(0, 'p', 3 * kRegionBytes);  // before the pair: the copy must carry it
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
  sites.a.Write(5 * kRegionBytes, 'w', 2 * kRegionBytes);  // written alone: marked
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
