// The replicator's threads (ReplicatorOptions::threads, node/thread_starter.h): the second part
// of issue 12's Env seam. Two real Replicators over the simulation's network
// (tests/sim/replicator_sites.h), both starting their threads through one CountingThreads: every
// thread the process gains at Start is one the seam saw (none started around it), a pair's copy
// runs on a thread of its own, and none outlives Stop.
#include <catch2/catch.hpp>

#include <filesystem>

#include "tests/sim/counting_threads.h"
#include "tests/sim/replicator_sites.h"
#include "tests/unit/temp_dir.h"

namespace pairfs::sim {
namespace {

// The threads this process runs now (Linux: one /proc/self/task entry each).
int ProcessThreads() {
  int count = 0;
  for ([[maybe_unused]] const auto& task : std::filesystem::directory_iterator("/proc/self/task"))
    ++count;
  return count;
}

TEST_CASE("replicator threads: every thread goes through the seam and none outlives Stop",
          "[replicator][threads]") {
  testing::TempDir dir;
  CountingThreads threads;
  SitePair sites(dir.path(), 1);
  const int before = ProcessThreads();
  node::ReplicatorOptions options;
  for (ReplicatorSite* site : {&sites.a, &sites.b}) {
    options = SimReplicatorOptions(site->name, kSiteRegionBytes, 2000, 20);
    options.threads = &threads;
    site->Start(sites.wire, options, true);
  }
  // Each site: its peer workers, its background thread, its write finisher and write timer,
  // nothing else, and nothing unseen.
  CHECK(threads.started("peer-worker") == 2 * options.workers);
  CHECK(threads.started("replicator") == 2);
  CHECK(threads.started("write-finisher") == 2);
  CHECK(threads.started("write-timer") == 2);
  CHECK(threads.running() == 2 * (options.workers + 3));
  CHECK(ProcessThreads() - before == threads.running());

  REQUIRE(sites.a.Write(0, std::string(3 * kSiteRegionBytes, 't')).ok());
  std::string note;
  REQUIRE(sites.a.replicator->CreatePair({"v", "sync", "", "never", ""}, &note).ok());
  REQUIRE(WaitFor([&] { return sites.InPair(); }));
  CHECK(threads.started("copy v") == 1);  // the create's copy, at the primary
  // The copy's end has cleared both sides' marks: its last asks are answered (stopped in the
  // middle of them, the primary's Stop waited out peer_timeout_ms: 2 s instead of 0.04 s).
  REQUIRE(
      WaitFor([&] { return sites.a.SavedMarkedBytes() == 0 && sites.b.SavedMarkedBytes() == 0; }));

  sites.a.replicator->Stop();
  sites.b.replicator->Stop();
  CHECK(threads.running() == 0);
}

}  // namespace
}  // namespace pairfs::sim
