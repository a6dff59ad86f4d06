#include "node/security.h"

#include <sys/stat.h>

#include <fstream>

#include <catch2/catch.hpp>

#include "tests/unit/temp_dir.h"

using namespace pairfs;
using namespace pairfs::node;

namespace {

// A two-site config at DIR/a.toml: `listen` for site a, and `security` as the [security] table.
Config PairConfig(const std::string& dir, const std::string& listen,
                  const std::string& security = "") {
  const std::string text = "[site]\nname = \"a\"\ndata_dir = \"a\"\nlisten = \"" + listen +
                           "\"\n[peer]\nname = \"b\"\nendpoint = \"tcp://127.0.0.1:7200\"\n" +
                           security;
  Result<Config> config = ParseConfig(text, dir + "/a.toml");
  INFO(config.status().message());
  REQUIRE(config.ok());
  return config.value();
}

void MakeKeys(const std::string& dir, const std::string& site) {
  REQUIRE(wire::WriteKeyFiles(dir, site, wire::GenerateKeyPair().value()).ok());
}

}  // namespace

TEST_CASE("loopback and ipc endpoints stay on the machine; everything else does not") {
  for (const char* local : {"tcp://127.0.0.1:7100", "tcp://127.1.2.3:1", "tcp://localhost:7100",
                            "tcp://[::1]:7100", "ipc:///var/lib/pairfs/a/peer.sock"}) {
    INFO(local);
    CHECK(IsLoopbackEndpoint(local));
  }
  for (const char* remote :
       {"tcp://0.0.0.0:7100", "tcp://*:7100", "tcp://10.0.0.1:7100", "tcp://eth0:7100",
        "tcp://[::]:7100", "tcp://128.0.0.1:7100", "tcp://127.0.0.1.evil:1", "udp://127.0.0.1:1"}) {
    INFO(remote);
    CHECK_FALSE(IsLoopbackEndpoint(remote));
  }
}

TEST_CASE(
    "secure by default: a non-loopback endpoint without keys is refused unless insecure = true") {
  testing::TempDir dir;
  Result<std::optional<wire::CurveKeys>> loopback =
      SiteToSiteKeys(PairConfig(dir.path(), "tcp://127.0.0.1:7100"));
  REQUIRE(loopback.ok());
  CHECK_FALSE(loopback.value().has_value());

  Result<std::optional<wire::CurveKeys>> exposed =
      SiteToSiteKeys(PairConfig(dir.path(), "tcp://0.0.0.0:7100"));
  REQUIRE_FALSE(exposed.ok());
  CHECK_THAT(exposed.status().message(),
             Catch::Contains("site.listen = tcp://0.0.0.0:7100 is not a loopback address"));
  CHECK_THAT(exposed.status().message(),
             Catch::Contains("secret_key") && Catch::Contains("insecure = true"));

  Config exposed_control = PairConfig(dir.path(), "tcp://127.0.0.1:7100");
  exposed_control.site.control = "tcp://0.0.0.0:7199";
  Result<std::optional<wire::CurveKeys>> control = SiteToSiteKeys(exposed_control);
  REQUIRE_FALSE(control.ok());
  CHECK_THAT(control.status().message(),
             Catch::Contains("site.control = tcp://0.0.0.0:7199 is not a loopback"));

  Result<std::optional<wire::CurveKeys>> insecure =
      SiteToSiteKeys(PairConfig(dir.path(), "tcp://0.0.0.0:7100", "[security]\ninsecure = true\n"));
  REQUIRE(insecure.ok());
  CHECK_FALSE(insecure.value().has_value());
}

TEST_CASE("with [security] the daemons load the keys, which must include the peer's") {
  testing::TempDir dir;
  MakeKeys(dir.path(), "a");
  MakeKeys(dir.path(), "b");
  MakeKeys(dir.path(), "w");
  const std::string security =
      "[security]\nsecret_key = \"a.key\"\npeer_public_keys = [\"b.pub\", \"w.pub\"]\n";
  Result<std::optional<wire::CurveKeys>> keys =
      SiteToSiteKeys(PairConfig(dir.path(), "tcp://0.0.0.0:7100", security));
  INFO(keys.status().message());
  REQUIRE(keys.ok());
  REQUIRE(keys.value().has_value());
  CHECK(keys.value()->peer_public_keys.size() == 2);
  CHECK(
      WitnessSite(PairConfig(dir.path(), "tcp://0.0.0.0:7100", security), *keys.value()).value() ==
      "w");

  Result<std::optional<wire::CurveKeys>> no_peer_key = SiteToSiteKeys(
      PairConfig(dir.path(), "tcp://0.0.0.0:7100",
                 "[security]\nsecret_key = \"a.key\"\npeer_public_keys = [\"w.pub\"]\n"));
  REQUIRE_FALSE(no_peer_key.ok());
  CHECK_THAT(no_peer_key.status().message(), Catch::Contains("has no key of site b"));

  REQUIRE(::chmod((dir.path() + "/a.key").c_str(), 0640) == 0);
  Result<std::optional<wire::CurveKeys>> open_secret =
      SiteToSiteKeys(PairConfig(dir.path(), "tcp://0.0.0.0:7100", security));
  REQUIRE_FALSE(open_secret.ok());
  CHECK_THAT(open_secret.status().message(), Catch::Contains("chmod 600"));
}
