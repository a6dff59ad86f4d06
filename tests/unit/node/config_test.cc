#include "node/config.h"

#include <catch2/catch.hpp>

using namespace pairfs;
using namespace pairfs::node;

namespace {
const char* kMinimal = R"([site]
name = "a"
data_dir = "/var/lib/pairfs/a"
)";
}

TEST_CASE("a minimal config gets the documented defaults") {
  Result<Config> config = ParseConfig(kMinimal, "/etc/pairfs/a.toml");
  REQUIRE(config.ok());
  CHECK(config->site.name == "a");
  CHECK(config->site.control == "ipc:///var/lib/pairfs/a/control.sock");
  CHECK(config->site.peer_timeout_ms == 2000);
  CHECK(config->site.region_size_bytes == 64 * 1024);
  CHECK_FALSE(config->peer.present);
  CHECK(config->cluster.interval_ms == 200);
  CHECK(config->journal.high_water_percent == 80);
}

TEST_CASE("the full example of DESIGN.md loads") {
  const char* text = R"([site]
name = "a"
data_dir = "/var/lib/pairfs/a"
listen = "tcp://127.0.0.1:7100"
control = "ipc:///var/lib/pairfs/a/control.sock"
peer_timeout_ms = 2000
region_size = "64K"

[peer]
name = "b"
endpoint = "tcp://127.0.0.1:7200"

[cluster]
heartbeat_listen = ["tcp://127.0.0.1:7101"]
heartbeat_peer   = ["tcp://127.0.0.1:7201"]
interval_ms = 200
timeout_ms = 1000
determining_volume = "quorum"
volumes = ["vm1"]
on_start = "/etc/pairfs/start.sh"
on_stop  = "/etc/pairfs/stop.sh"
hook_timeout_ms = 60000
standby_delay_ms = 200
auto_resync = false

[witness]
endpoint = "tcp://127.0.0.1:7300"

[journal]
size = "1G"
high_water_percent = 80

[security]
secret_key = "/etc/pairfs/a.key"
peer_public_keys = ["/etc/pairfs/b.pub"]
)";
  Result<Config> config = ParseConfig(text, "/etc/pairfs/a.toml");
  INFO(config.status().message());
  REQUIRE(config.ok());
  CHECK(config->peer.name == "b");
  CHECK(config->cluster.volumes == std::vector<std::string>{"vm1"});
  CHECK(config->journal.size_bytes == 1ull << 30);
  CHECK(config->security.peer_public_keys.at(0) == "/etc/pairfs/b.pub");
}

TEST_CASE("relative paths are taken from the config file's directory") {
  Result<Config> config = ParseConfig("[site]\nname = \"a\"\ndata_dir = \"data/a\"\ncontrol = \"ipc://a.sock\"\n",
                                      "/srv/pairfs/site.toml");
  REQUIRE(config.ok());
  CHECK(config->site.data_dir == "/srv/pairfs/data/a");
  CHECK(config->site.control == "ipc:///srv/pairfs/a.sock");
}

TEST_CASE("config errors name the file, the line, the key and the reason") {
  auto error = [](const std::string& text) { return ParseConfig(text, "x.toml").status().message(); };
  CHECK_THAT(error("[site\nname = 1"), Catch::StartsWith("x.toml:1:"));
  CHECK_THAT(error("[site]\nname = \"a\"\n"), Catch::Contains("site.data_dir: missing"));
  CHECK_THAT(error("[site]\ndata_dir = \"/d\"\n"), Catch::Contains("site.name: missing"));
  CHECK_THAT(error(std::string(kMinimal) + "colour = \"red\"\n"), Catch::Contains("x.toml:4: site.colour: unknown key"));
  CHECK_THAT(error(std::string(kMinimal) + "[sight]\n"), Catch::Contains("sight: unknown table"));
  CHECK_THAT(error(std::string(kMinimal) + "peer_timeout_ms = \"2s\"\n"),
             Catch::Contains("x.toml:4: site.peer_timeout_ms: must be an integer"));
  CHECK_THAT(error(std::string(kMinimal) + "peer_timeout_ms = 5\n"), Catch::Contains("between 100"));
  CHECK_THAT(error(std::string(kMinimal) + "region_size = \"3K\"\n"), Catch::Contains("power of two"));
  CHECK_THAT(error(std::string(kMinimal) + "region_size = \"lots\"\n"), Catch::Contains("site.region_size"));
  CHECK_THAT(error("[site]\nname = \"a/b\"\ndata_dir = \"/d\"\n"), Catch::Contains("site.name"));
  CHECK_THAT(error(std::string(kMinimal) + "listen = \"127.0.0.1:7100\"\n"), Catch::Contains("site.listen"));
  CHECK_THAT(error(std::string(kMinimal) + "[peer]\nname = \"a\"\nendpoint = \"tcp://h:1\"\n"),
             Catch::Contains("peer.name: must differ"));
  CHECK_THAT(error(std::string(kMinimal) + "[peer]\nname = \"b\"\n"), Catch::Contains("peer.endpoint: missing"));
}

TEST_CASE("cluster timings are checked together") {
  auto error = [](const std::string& cluster) {
    return ParseConfig(std::string(kMinimal) + "[cluster]\n" + cluster, "x.toml").status().message();
  };
  CHECK_THAT(error("interval_ms = 600\n"), Catch::Contains("cluster.timeout_ms: must be at least twice interval_ms"));
  CHECK_THAT(error("standby_delay_ms = 100\n"), Catch::Contains("standby_delay_ms"));
  CHECK_THAT(error("heartbeat_listen = [\"tcp://a:1\"]\n"), Catch::Contains("one entry per heartbeat_listen"));
  CHECK_THAT(error("volumes = [\"ok\", \"not ok\"]\n"), Catch::Contains("cluster.volumes"));
  CHECK_THAT(error("auto_resync = 1\n"), Catch::Contains("true or false"));
}

TEST_CASE("a missing config file is reported with its path") {
  Result<Config> config = LoadConfig("/nonexistent/pairfs.toml");
  CHECK(config.status().code() == Code::kNotFound);
  CHECK_THAT(config.status().message(), Catch::Contains("/nonexistent/pairfs.toml"));
}

TEST_CASE("the config path comes from the flag, then PAIRFS_CONFIG, then /etc") {
  ::unsetenv("PAIRFS_CONFIG");
  CHECK(ResolveConfigPath("") == "/etc/pairfs/pairfs.toml");
  ::setenv("PAIRFS_CONFIG", "/tmp/env.toml", 1);
  CHECK(ResolveConfigPath("") == "/tmp/env.toml");
  CHECK(ResolveConfigPath("/x.toml") == "/x.toml");
  ::unsetenv("PAIRFS_CONFIG");
}
