// The replicator's time (ReplicatorOptions::clock, node/time_source.h): the first part of issue
// 12's Env seam. Two real Replicators over the simulation's network (tests/sim/replicator_sites.h),
// both reading one ManualClock that the test moves: while the test holds it, a cut link is never
// found silent, however long the wall clock runs; once it moves past peer_timeout_ms, both sides
// take the link as lost (PSUE, fence never). With the steady clock the held phase fails.
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <thread>

#include "tests/sim/manual_clock.h"
#include "tests/sim/replicator_sites.h"
#include "tests/unit/temp_dir.h"

namespace pairfs::sim {
namespace {

// A short peer_timeout_ms: the held phase waits several of them of real time.
constexpr int kClockTestPeerTimeoutMs = 250;
// The clock's move per poll (every 2 ms of real time or more) while the pair forms: slower than
// the wall's, so that a loaded machine does not time the copy's asks out.
constexpr int kClockTestStepMs = 1;

// Starts both sites on `clock` (peer_timeout_ms kClockTestPeerTimeoutMs); `trim_interval_ms` 0
// keeps the harness's.
void StartOnClock(SitePair& sites, ManualClock& clock, int trim_interval_ms = 0) {
  for (ReplicatorSite* site : {&sites.a, &sites.b}) {
    node::ReplicatorOptions options =
        SimReplicatorOptions(site->name, kSiteRegionBytes, kClockTestPeerTimeoutMs, 20);
    options.clock = &clock;
    if (trim_interval_ms != 0) options.trim_interval_ms = trim_interval_ms;
    site->Start(sites.wire, options, true);
  }
}

TEST_CASE("replicator clock: a cut link is found silent on the injected clock, not the wall's",
          "[replicator][clock]") {
  testing::TempDir dir;
  ManualClock clock;
  SitePair sites(dir.path(), 1);
  StartOnClock(sites, clock);
  // The pair forms with the clock moving (its statuses and trims run on it).
  auto while_moving = [&](auto done) {
    return WaitFor([&] {
      clock.Advance(kClockTestStepMs);
      return done();
    });
  };
  std::string note;
  REQUIRE(sites.a.replicator->CreatePair({"v", "sync", "", "never", ""}, &note).ok());
  REQUIRE(while_moving([&] { return sites.InPair(); }));
  // The copy's end has cleared both sides' marks: no ask of it is left in flight.
  REQUIRE(while_moving(
      [&] { return sites.a.SavedMarkedBytes() == 0 && sites.b.SavedMarkedBytes() == 0; }));

  sites.wire.Partition(true);
  // Held: three peer timeouts of real time, and nothing is silent on the replicators' clock.
  std::this_thread::sleep_for(std::chrono::milliseconds(3 * kClockTestPeerTimeoutMs));
  CHECK(sites.a.Status() == "primary PAIR");
  CHECK(sites.b.Status() == "secondary PAIR");

  clock.Advance(kClockTestPeerTimeoutMs + 1);
  CHECK(WaitFor([&] { return sites.a.Status() == "primary PSUE"; }));
  CHECK(WaitFor([&] { return sites.b.Status() == "secondary PSUE"; }));
  sites.wire.Partition(false);  // an ask left at the teardown is answered (the clock stays held)
}

// A primary stopped at the end of its copy: its last ask (PeerTrim) makes the peer ask it for a
// flush, which it serves while stopping, so Stop returns with no time passing on the clock. When
// a stopping site dropped that flush, the peer waited out peer_timeout_ms before answering, and
// on this held clock Stop never returned (the deadline below only catches that hang).
TEST_CASE("replicator clock: a primary stopped at its copy's end is not held by the peer's flush",
          "[replicator][clock]") {
  testing::TempDir dir;
  ManualClock clock;
  SitePair sites(dir.path(), 1);
  StartOnClock(sites, clock, 3600 * 1000);  // only the copy's end trims
  REQUIRE(sites.a.Write(0, std::string(8 * kSiteRegionBytes, 's')).ok());
  std::string note;
  REQUIRE(sites.a.replicator->CreatePair({"v", "sync", "", "never", ""}, &note).ok());
  // The primary commits PAIR after the secondary, then clears the marks at both (PeerTrim).
  REQUIRE(WaitFor([&] {
    clock.Advance(kClockTestStepMs);
    return sites.a.Status() == "primary PAIR";
  }));
  // Held from here on.
  auto stopped = std::async(std::launch::async, [&] { sites.a.replicator->Stop(); });
  const bool returned = stopped.wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  if (!returned) {  // held by the peer's timeout: let it pass, so that the test ends and says so
    clock.Advance(10 * kClockTestPeerTimeoutMs);
    stopped.wait();
  }
  REQUIRE(returned);
  CHECK(sites.a.SavedMarkedBytes() == 0);  // the copy's end cleared the primary's marks
}

}  // namespace
}  // namespace pairfs::sim
