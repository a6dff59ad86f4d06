// Two real node::Replicators over the simulation's network (tests/sim/replication_wire.h), each
// over its own VolumeStore: the harness shared by the replication simulation
// (replication_sim_test.cc), the disk-fault simulation (disk_fault_sim_test.cc), the executor's
// tests (tests/unit/node/replicator_actions_test.cc) and the async takeover's probe
// (tests/unit/node/async_takeover_probe_test.cc). Each test owns its directory and chooses the
// sites' options. A site's methods throw std::runtime_error on a failed step (Catch2's assertions
// are not thread-safe, and the replication simulation runs seeds on several threads); a test case
// reports the exception as a failure. Not thread-safe: one thread drives a SitePair.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "node/block_file.h"
#include "node/replicator.h"
#include "node/store.h"
#include "tests/sim/replication_wire.h"

namespace pairfs::sim {

// The volume "v" every harness test replicates, in regions of kSiteRegionBytes.
inline constexpr uint64_t kSiteVolumeBytes = 256 * 1024;
inline constexpr uint64_t kSiteRegionBytes = 4096;

// Polls `done` every 2 ms until it holds or `limit` passes; the limit only catches hangs, no test
// asserts timing. Returns whether `done` held.
template <class Predicate>
bool WaitFor(Predicate done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return done();
}

// Throws std::runtime_error("check failed: WHAT") unless `condition`.
void Ensure(bool condition, const char* what);

// One site: its transport into the Wire, its store, its Replicator (null while crashed).
struct ReplicatorSite {
  std::string name;  // "a" or "b"
  std::string dir;   // the store's directory; kept across crashes
  std::unique_ptr<SimTransport> transport;
  std::unique_ptr<node::VolumeStore> store;
  std::unique_ptr<node::Replicator> replicator;
  node::MemoryBlockFile* image = nullptr;  // "v"'s image, when Start made it

  // Opens the store in `dir`, starts a Replicator with `options` and attaches it to `wire`. With
  // `memory_volume`, the store first adopts "v" (kSiteVolumeBytes) over a MemoryBlockFile, whose
  // faults the test sets through `image`.
  void Start(Wire& wire, const node::ReplicatorOptions& options, bool memory_volume = false);
  // kill -9: the site vanishes from the network at once; its files stay as they were.
  void Crash(Wire& wire);
  node::Volume& volume();
  // "primary PAIR"; with `outdated`, " outdated" appended when the copy is marked outdated.
  std::string Status(bool outdated = false);
  std::string Image();  // every byte of "v"
  // A write at this site's mount (Replicator::WriteAsync, waited for).
  Result<size_t> Write(uint64_t offset, const std::string& data);
  uint64_t DirtyBytes();  // as Describe shows them
  // The marks in the region set's file, read by a second instance (safe while the replicator
  // runs: a page being rewritten fails its checksum and reads as all marked, never as clear).
  uint64_t SavedMarkedBytes();

 private:
  void AdoptMemoryVolume();
};

// Sites a and b in DIR/a and DIR/b over one Wire seeded by `seed`, not started. The destructor
// detaches and stops the replicators still running.
class SitePair {
 public:
  SitePair(const std::string& dir, uint64_t seed);
  ~SitePair();
  SitePair(const SitePair&) = delete;
  SitePair& operator=(const SitePair&) = delete;

  // "primary PAIR" at a and "secondary PAIR" at b.
  bool InPair() { return a.Status() == "primary PAIR" && b.Status() == "secondary PAIR"; }

  Wire wire;
  ReplicatorSite a;
  ReplicatorSite b;
};

}  // namespace pairfs::sim
