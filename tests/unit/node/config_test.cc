#include "node/config.h"

#include <catch2/catch.hpp>

using namespace pairfs;
using namespace pairfs::node;

namespace {
const char* kMinimal = R"([site]
name = "a"
data_dir = "/var/lib/pairfs/a"
)";

// doc/design.md's example: a site with a peer and a [cluster] table that passes every rule.
const char* kDesignExample = R"([site]
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
}  // namespace

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

TEST_CASE("the full example of doc/design.md loads") {
  Result<Config> config = ParseConfig(kDesignExample, "/etc/pairfs/a.toml");
  INFO(config.status().message());
  REQUIRE(config.ok());
  CHECK(config->peer.name == "b");
  CHECK(config->cluster.determining_volume == "quorum");
  CHECK(config->cluster.heartbeat_listen == std::vector<std::string>{"tcp://127.0.0.1:7101"});
  CHECK(config->cluster.volumes == std::vector<std::string>{"vm1"});
  CHECK(config->journal.size_bytes == 1ull << 30);
  CHECK(config->security.peer_public_keys.at(0) == "/etc/pairfs/b.pub");
}

TEST_CASE("relative paths are taken from the config file's directory") {
  Result<Config> config =
      ParseConfig("[site]\nname = \"a\"\ndata_dir = \"data/a\"\ncontrol = \"ipc://a.sock\"\n",
                  "/srv/pairfs/site.toml");
  REQUIRE(config.ok());
  CHECK(config->site.data_dir == "/srv/pairfs/data/a");
  CHECK(config->site.control == "ipc:///srv/pairfs/a.sock");
}

TEST_CASE("config errors name the file, the line, the key and the reason") {
  auto error = [](const std::string& text) {
    return ParseConfig(text, "x.toml").status().message();
  };
  CHECK_THAT(error("[site\nname = 1"), Catch::StartsWith("x.toml:1:"));
  CHECK_THAT(error("[site]\nname = \"a\"\n"), Catch::Contains("site.data_dir: missing"));
  CHECK_THAT(error("[site]\ndata_dir = \"/d\"\n"), Catch::Contains("site.name: missing"));
  CHECK_THAT(error(std::string(kMinimal) + "colour = \"red\"\n"),
             Catch::Contains("x.toml:4: site.colour: unknown key"));
  CHECK_THAT(error(std::string(kMinimal) + "[sight]\n"), Catch::Contains("sight: unknown table"));
  CHECK_THAT(error(std::string(kMinimal) + "peer_timeout_ms = \"2s\"\n"),
             Catch::Contains("x.toml:4: site.peer_timeout_ms: must be an integer"));
  CHECK_THAT(error(std::string(kMinimal) + "peer_timeout_ms = 5\n"),
             Catch::Contains("between 100"));
  CHECK_THAT(error(std::string(kMinimal) + "region_size = \"3K\"\n"),
             Catch::Contains("power of two"));
  CHECK_THAT(error(std::string(kMinimal) + "region_size = \"lots\"\n"),
             Catch::Contains("site.region_size"));
  CHECK_THAT(error("[site]\nname = \"a/b\"\ndata_dir = \"/d\"\n"), Catch::Contains("site.name"));
  CHECK_THAT(error(std::string(kMinimal) + "listen = \"127.0.0.1:7100\"\n"),
             Catch::Contains("site.listen"));
  CHECK_THAT(error(std::string(kMinimal) + "[peer]\nname = \"a\"\nendpoint = \"tcp://h:1\"\n"),
             Catch::Contains("peer.name: must differ"));
  CHECK_THAT(error(std::string(kMinimal) + "[peer]\nname = \"b\"\n"),
             Catch::Contains("peer.endpoint: missing"));
}

namespace {
// `text` with the line starting with `key` replaced by `line` ("" drops it).
std::string WithLine(const std::string& key, const std::string& line,
                     std::string text = kDesignExample) {
  const size_t at = text.find("\n" + key + " ");
  REQUIRE(at != std::string::npos);
  const size_t end = text.find('\n', at + 1);
  return text.replace(at + 1, end - at, line.empty() ? "" : line + "\n");
}

std::string ClusterError(const std::string& key, const std::string& line) {
  return ParseConfig(WithLine(key, line), "x.toml").status().message();
}
}  // namespace

TEST_CASE("cluster timings are checked together") {
  CHECK_THAT(ClusterError("interval_ms", "interval_ms = 600"),
             Catch::Contains("cluster.timeout_ms: must be at least twice interval_ms"));
  CHECK_THAT(ClusterError("standby_delay_ms", "standby_delay_ms = 100"),
             Catch::Contains("x.toml:23: cluster.standby_delay_ms: must be at least interval_ms"));
  CHECK_THAT(ClusterError("standby_delay_ms", "standby_delay_ms = 1000"),
             Catch::Contains("x.toml:23: cluster.standby_delay_ms: must be less than timeout_ms"));
  CHECK_THAT(ClusterError("heartbeat_listen", "heartbeat_listen = [\"tcp://a:1\", \"tcp://a:2\"]"),
             Catch::Contains("one entry per heartbeat_listen"));
  CHECK_THAT(ClusterError("volumes", "volumes = [\"ok\", \"not ok\"]"),
             Catch::Contains("cluster.volumes"));
  CHECK_THAT(ClusterError("auto_resync", "auto_resync = 1"), Catch::Contains("true or false"));
}

TEST_CASE("[cluster] needs heartbeat endpoints and a determining volume that it does not manage") {
  const std::string no_heartbeats = WithLine("heartbeat_peer", "heartbeat_peer = []",
                                             WithLine("heartbeat_listen", "heartbeat_listen = []"));
  CHECK(ParseConfig(no_heartbeats, "x.toml").status().message() ==
        "x.toml:14: cluster.heartbeat_listen: must name at least one endpoint (one per heartbeat "
        "network)");
  CHECK(ClusterError("determining_volume", "") ==
        "x.toml: cluster.determining_volume: missing (required)");
  CHECK_THAT(ClusterError("determining_volume", "determining_volume = \"../q\""),
             Catch::StartsWith("x.toml:18: cluster.determining_volume: "));
  CHECK(ClusterError("volumes", "volumes = [\"vm1\", \"quorum\"]") ==
        "x.toml:19: cluster.volumes: must not list the determining volume quorum (clusterd "
        "reserves it itself)");
  CHECK(ClusterError("volumes", "volumes = [\"vm1\", \"vm2\", \"vm1\"]") ==
        "x.toml:19: cluster.volumes: lists vm1 twice");
}

TEST_CASE(
    "[cluster] endpoints are tcp:// or ipc://, relative ipc:// paths from the file's directory") {
  CHECK(
      ClusterError("heartbeat_peer", "heartbeat_peer = [\"127.0.0.1:7201\"]") ==
      "x.toml:15: cluster.heartbeat_peer: \"127.0.0.1:7201\" must be a tcp:// or ipc:// endpoint");
  CHECK_THAT(ClusterError("heartbeat_listen", "heartbeat_listen = [\"udp://h:1\"]"),
             Catch::Contains("x.toml:14: cluster.heartbeat_listen: \"udp://h:1\" must be"));
  Result<Config> config = ParseConfig(
      WithLine("heartbeat_listen", "heartbeat_listen = [\"ipc://hb.sock\"]"), "/srv/a.toml");
  REQUIRE(config.ok());
  CHECK(config->cluster.heartbeat_listen.at(0) == "ipc:///srv/hb.sock");
}

TEST_CASE("[cluster] needs a peer, site.listen and a peer timeout of two heartbeats") {
  std::string no_peer = kDesignExample;
  no_peer.erase(no_peer.find("[peer]"), no_peer.find("[cluster]") - no_peer.find("[peer]"));
  CHECK(ParseConfig(no_peer, "x.toml").status().message() ==
        "x.toml: [peer]: missing (required with [cluster]: clusterd fails over pairs)");
  CHECK(ClusterError("listen", "") ==
        "x.toml: site.listen: missing (required with [cluster]: clusterd fails over pairs)");
  const std::string slow_heartbeats = WithLine(
      "interval_ms", "interval_ms = 300", WithLine("standby_delay_ms", "standby_delay_ms = 300"));
  CHECK(ParseConfig(slow_heartbeats, "x.toml").ok());
  CHECK(ParseConfig(WithLine("peer_timeout_ms", "peer_timeout_ms = 500", slow_heartbeats), "x.toml")
            .status()
            .message() ==
        "x.toml:6: site.peer_timeout_ms: must be at least twice cluster.interval_ms (a write must "
        "not give up on the "
        "peer faster than heartbeats can tell a hiccup from a loss)");
}

TEST_CASE("without [cluster] the cluster rules that need it are not applied") {
  Result<Config> config = ParseConfig(std::string(kMinimal) + "peer_timeout_ms = 100\n", "x.toml");
  INFO(config.status().message());
  CHECK(config.ok());
}

TEST_CASE("[witness] takes an endpoint and the two sites it serves") {
  auto witness = [](const std::string& table) {
    return ParseConfig(std::string(kMinimal) + "[witness]\n" + table, "x.toml");
  };
  Result<Config> config = witness("endpoint = \"tcp://127.0.0.1:7300\"\nsites = [\"a\", \"b\"]\n");
  REQUIRE(config.ok());
  CHECK(config->witness.present);
  CHECK(config->witness.sites == std::vector<std::string>{"a", "b"});
  CHECK(witness("endpoint = \"tcp://127.0.0.1:7300\"\n").ok());
  CHECK(
      ParseConfig(std::string(kMinimal) + "[witness]\nendpoint = \"ipc://w.sock\"\n", "/srv/w.toml")
          .value()
          .witness.endpoint == "ipc:///srv/w.sock");
  CHECK(witness("sites = [\"a\", \"b\"]\n").status().message() ==
        "x.toml: witness.endpoint: missing (required)");
  CHECK(witness("endpoint = \"127.0.0.1:7300\"\n").status().message() ==
        "x.toml:5: witness.endpoint: \"127.0.0.1:7300\" must be a tcp:// or ipc:// endpoint");
  CHECK(witness("endpoint = \"tcp://h:1\"\nsites = [\"a\"]\n").status().message() ==
        "x.toml:6: witness.sites: must name exactly two sites (the two data sites), not 1");
  CHECK(witness("endpoint = \"tcp://h:1\"\nsites = [\"a\", \"a\"]\n").status().message() ==
        "x.toml:6: witness.sites: names site a twice");
  CHECK_THAT(witness("endpoint = \"tcp://h:1\"\nsites = [\"a\", \"b/c\"]\n").status().message(),
             Catch::StartsWith("x.toml:6: witness.sites: "));
  CHECK_THAT(witness("endpoint = \"tcp://h:1\"\nsites = [\"a\", 2]\n").status().message(),
             Catch::Contains("witness.sites: must be an array of strings"));
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

TEST_CASE("[security] takes a secret key, public keys named SITE.pub and insecure") {
  const std::string site = std::string(kMinimal);
  Result<Config> config = ParseConfig(
      site +
          "[security]\nsecret_key = \"keys/a.key\"\npeer_public_keys = [\"keys/b.pub\", "
          "\"/etc/pairfs/w.pub\"]\n",
      "/srv/pairfs/a.toml");
  INFO(config.status().message());
  REQUIRE(config.ok());
  CHECK(config->security.present);
  CHECK_FALSE(config->security.insecure);
  CHECK(config->security.secret_key == "/srv/pairfs/keys/a.key");
  CHECK(config->security.peer_public_keys ==
        std::vector<std::string>{"/srv/pairfs/keys/b.pub", "/etc/pairfs/w.pub"});

  Result<Config> insecure = ParseConfig(site + "[security]\ninsecure = true\n", "x.toml");
  REQUIRE(insecure.ok());
  CHECK(insecure->security.insecure);
  CHECK(insecure->security.secret_key.empty());

  auto error = [&](const std::string& table) {
    return ParseConfig(site + "[security]\n" + table, "x.toml").status().message();
  };
  CHECK_THAT(error("peer_public_keys = [\"b.pub\"]\n"),
             Catch::Contains("security.secret_key: missing"));
  CHECK_THAT(error("secret_key = \"a.key\"\n"),
             Catch::Contains("security.peer_public_keys: missing"));
  CHECK_THAT(error("secret_key = \"a.key\"\npeer_public_keys = [\"b.key\"]\n"),
             Catch::Contains("must be named SITE.pub"));
  CHECK_THAT(error("secret_key = \"a.key\"\npeer_public_keys = [\"b.pub\", \"other/b.pub\"]\n"),
             Catch::Contains("names two keys of site b"));
  CHECK_THAT(error("secret_key = \"a.key\"\npeer_public_keys = [\"a.pub\"]\n"),
             Catch::Contains("this site's own key"));
  CHECK_THAT(error("insecure = \"yes\"\n"),
             Catch::Contains("security.insecure: must be true or false"));
  CHECK_THAT(error("secret = \"a.key\"\n"), Catch::Contains("security.secret: unknown key"));
}

TEST_CASE("a table header that toml++ asserts on is an error of the file, not an abort") {
  // Found by the config fuzzer (tests/unit/fuzz/node_fuzz_test.cc): toml++'s assert() aborted.
  Result<Config> config = ParseConfig("[{ite]\nname = \"a\"\n", "/etc/pairfs/a.toml");
  REQUIRE_FALSE(config.ok());
  CHECK(config.status().code() == Code::kInvalidArgument);
  CHECK_THAT(config.status().message(), Catch::Contains("/etc/pairfs/a.toml"));
}

TEST_CASE("toml++ never sees a non-ASCII character: escaped in strings, refused elsewhere") {
  // U+045E where toml++ looks for whitespace reached __builtin_unreachable (found by make fuzz).
  Result<Config> config = ParseConfig("[site]\nname = \"a\" \xd1\x9e\n", "/etc/pairfs/a.toml");
  REQUIRE_FALSE(config.ok());
  CHECK_THAT(config.status().message(), Catch::Contains("/etc/pairfs/a.toml:2: "));
  CHECK_FALSE(ParseConfig("[site]\nname = 66\"/d\xcf\x9e\"\n", "/etc/a.toml").ok());
  CHECK_FALSE(ParseConfig("[site]\nname = \"a\xff\"\n", "/etc/a.toml").ok());  // not UTF-8
  // In a quoted string or a comment it is text like any other.
  Result<Config> cafe = ParseConfig(
      "# caf\xc3\xa9 \"\n[site]\nname = \"a\"\ndata_dir = \"/var/lib/caf\xc3\xa9 \\\"x\\\" "
      "\xf0\x9f\x98\x80\"\n",
      "/etc/a.toml");
  REQUIRE(cafe.ok());
  CHECK(cafe->site.data_dir == "/var/lib/caf\xc3\xa9 \"x\" \xf0\x9f\x98\x80");
}
