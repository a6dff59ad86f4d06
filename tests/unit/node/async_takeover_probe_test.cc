// clusterd's failover of an async group whose old primary lives but answers late
// (node/async_takeover.cc, AsyncPairs::ProbePeerForTakeover): two real Replicators over the
// simulation's network (tests/sim/replicator_sites.h), every frame delayed 300 ms each way, so
// that the failover's 250 ms status ask (kFailoverProbeMs) cannot be answered in time however
// fast the machine is, while the peer's statuses keep arriving. The takeover must ask again and
// make the planned four-role swap, with the write the old primary journaled last; without the
// second ask it takes over alone (SSWS) and that write is lost at b.
#include <catch2/catch.hpp>

#include <filesystem>

#include "node/limits.h"
#include "tests/sim/replicator_sites.h"
#include "tests/unit/temp_dir.h"

namespace pairfs::sim {
namespace {

constexpr int kLateFrameMs = 300;

node::ReplicatorOptions LateProbeOptions(ReplicatorSite& site) {
  // peer_timeout_ms far above the 600 ms round trip: only the 250 ms ask is too short. The
  // daemon's status interval (500 ms): "heard within two intervals of the ask's end" then spans
  // a second, which a loaded machine's stalls stay well inside (with the simulations' 10 ms it
  // was 20 ms, and a busy machine made the takeover SSWS).
  node::ReplicatorOptions options = SimReplicatorOptions(site.name, kSiteRegionBytes, 10000, 100);
  options.status_interval_ms = 500;
  options.journal_dir = site.dir + "/journals";
  options.journal_size_bytes = 1 << 20;
  std::filesystem::create_directories(options.journal_dir);
  return options;
}

}  // namespace

TEST_CASE("a failover of an async pair whose live old primary answers late is the planned swap",
          "[async][takeover]") {
  static_assert(2 * kLateFrameMs > node::kFailoverProbeMs);
  testing::TempDir dir;
  SitePair sites(dir.path(), 3);
  for (ReplicatorSite* site : {&sites.a, &sites.b})
    site->Start(sites.wire, LateProbeOptions(*site), true);
  std::string note;
  Status created = sites.a.replicator->CreatePair({"v", "async", "", "never", "g"}, &note);
  INFO(created.message());
  REQUIRE(created.ok());
  REQUIRE(WaitFor([&] { return sites.InPair(); }));
  REQUIRE(sites.a.Write(0, std::string(kSiteRegionBytes, 'e')).ok());
  REQUIRE(WaitFor([&] { return sites.b.Image() == sites.a.Image(); }));

  // From now on every frame takes 300 ms; a journals one more write, which b has not yet.
  sites.wire.SetProfile({0.0, 0.0, kLateFrameMs, kLateFrameMs});
  REQUIRE(sites.a.Write(kSiteRegionBytes, std::string(kSiteRegionBytes, 'l')).ok());
  const std::string written = sites.a.Image();

  // clusterd's takeover at b (cluster: the short ask first).
  Status taken = sites.b.replicator->Takeover("v", false, true, false, &note);
  INFO(taken.message() << " / " << note);
  REQUIRE(taken.ok());
  CHECK(sites.b.Status() == "primary PAIR");  // SSWS: the ask was not repeated
  REQUIRE(WaitFor([&] { return sites.a.Status() == "secondary PAIR"; }, std::chrono::seconds(30)));
  CHECK(sites.b.Image() == written);  // the planned swap lost nothing
}

}  // namespace pairfs::sim
