#include "node/site.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "node/witness.h"
#include "node/witness_server.h"
#include "tests/unit/temp_dir.h"
#include "wire/link.h"

using namespace pairfs;
using namespace pairfs::node;

namespace {

// A config for site a with its data directory in `dir`; `extra` is appended ([peer], listen, ...).
Config ConfigIn(const std::string& dir, const std::string& site_extra = "",
                const std::string& tables = "") {
  const std::string text =
      "[site]\nname = \"a\"\ndata_dir = \"" + dir + "/data\"\n" + site_extra + tables;
  Result<Config> config = ParseConfig(text, dir + "/a.toml");
  REQUIRE(config.ok());
  return config.value();
}

// Asks the control endpoint for the volume list, as pairctl does.
Result<wire::Reply> ListVolumes(const Config& config) {
  wire::Context context;
  Result<std::unique_ptr<wire::Client>> client =
      wire::Client::Connect(context, config.site.control, "test");
  if (!client.ok()) return client.status();
  return client.value()->Call(wire::VolumeListRequest{}, 5000);
}

}  // namespace

TEST_CASE("a site without a peer starts, serves its control endpoint and stops") {
  testing::TempDir dir;
  const Config config = ConfigIn(dir.path());
  Result<std::unique_ptr<Site>> site = Site::Open(config, SiteOptions{});
  REQUIRE(site.ok());
  CHECK(site.value()->name() == "a");
  REQUIRE(site.value()->store().Create("vm1", 1 << 20).ok());
  REQUIRE(site.value()->Start().ok());
  Result<wire::Reply> listed = ListVolumes(config);
  REQUIRE(listed.ok());
  REQUIRE(listed->volumes.size() == 1);
  CHECK(listed->volumes[0].name == "vm1");
  CHECK(CheckEndpointFree(config.site.control, "control endpoint").code() == Code::kBusy);
  site.value()->Stop();
  CHECK(CheckEndpointFree(config.site.control, "control endpoint").ok());
  site.value()->Stop();  // idempotent
}

TEST_CASE("a site with an absent peer starts its link and stops") {
  testing::TempDir dir;
  const Config config =
      ConfigIn(dir.path(), "listen = \"ipc://" + dir.path() + "/a-peer.sock\"\n",
               "[peer]\nname = \"b\"\nendpoint = \"ipc://" + dir.path() + "/b-peer.sock\"\n");
  Result<std::unique_ptr<Site>> site = Site::Open(config, SiteOptions{});
  REQUIRE(site.ok());
  REQUIRE(site.value()->Start().ok());
  CHECK(ListVolumes(config).ok());
  site.value()->Stop();
}

TEST_CASE("a second site on the same data directory is refused until the first is gone") {
  testing::TempDir dir;
  const Config config = ConfigIn(dir.path());
  Result<std::unique_ptr<Site>> first = Site::Open(config, SiteOptions{});
  REQUIRE(first.ok());
  Result<std::unique_ptr<Site>> second = Site::Open(config, SiteOptions{});
  CHECK(second.status().code() == Code::kBusy);
  CHECK_THAT(second.status().message(),
             Catch::Contains("another pairfs is serving " + config.site.data_dir));
  first.value().reset();
  CHECK(Site::Open(config, SiteOptions{}).ok());
}

TEST_CASE("a site whose control endpoint another process serves is refused") {
  testing::TempDir dir;
  const Config config = ConfigIn(dir.path());
  REQUIRE(::mkdir(config.site.data_dir.c_str(), 0700) == 0);
  wire::Context context;
  Result<std::unique_ptr<wire::Server>> other = wire::Server::Bind(context, config.site.control);
  REQUIRE(other.ok());
  Result<std::unique_ptr<Site>> site = Site::Open(config, SiteOptions{});
  CHECK(site.status().code() == Code::kBusy);
  CHECK_THAT(site.status().message(),
             Catch::Contains("control endpoint " + config.site.control + " is in use"));
}

TEST_CASE("a site whose peer port is taken is refused, naming site.listen") {
  testing::TempDir dir;
  const std::string listen = "tcp://127.0.0.1:17941";
  wire::Context context;
  Result<std::unique_ptr<wire::Server>> other = wire::Server::Bind(context, listen);
  REQUIRE(other.ok());
  const Config config = ConfigIn(dir.path(), "listen = \"" + listen + "\"\n",
                                 "[peer]\nname = \"b\"\nendpoint = \"tcp://127.0.0.1:17942\"\n");
  Result<std::unique_ptr<Site>> site = Site::Open(config, SiteOptions{});
  CHECK_FALSE(site.ok());
  CHECK_THAT(site.status().message(),
             Catch::StartsWith("site.listen: ") && Catch::Contains("17941"));
}

TEST_CASE("a site refuses a data directory that others can write, and opens no store in it") {
  testing::TempDir dir;
  const Config config = ConfigIn(dir.path());
  REQUIRE(::mkdir(config.site.data_dir.c_str(), 0700) == 0);
  REQUIRE(::chmod(config.site.data_dir.c_str(), 0777) == 0);
  Result<std::unique_ptr<Site>> site = Site::Open(config, SiteOptions{});
  CHECK(site.status().code() == Code::kNotPermitted);
  CHECK(std::filesystem::is_empty(config.site.data_dir));
}

TEST_CASE("the replicator's link transport refuses to send before the link is up") {
  LinkTransport transport;
  Status sent = transport.Send("frame");
  CHECK(sent.code() == Code::kUnreachable);
  CHECK_THAT(sent.message(), Catch::Contains("peer link is not up"));
}

TEST_CASE("a witness refuses a data directory another witness serves") {
  testing::TempDir dir;
  const Config config = ConfigIn(dir.path(), "",
                                 "[witness]\nendpoint = \"ipc://" + dir.path() +
                                     "/witness.sock\"\n"
                                     "sites = [\"b\", \"c\"]\n");
  REQUIRE(CheckWitnessConfig(config).ok());
  Result<std::unique_ptr<Witness>> first = Witness::Open(config, SiteOptions{});
  REQUIRE(first.ok());
  Result<std::unique_ptr<Witness>> second = Witness::Open(config, SiteOptions{});
  CHECK(second.status().code() == Code::kBusy);
  CHECK_THAT(second.status().message(), Catch::Contains("another pairfs is serving"));
}
