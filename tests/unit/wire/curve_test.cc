#include "wire/curve.h"

#include <sys/stat.h>

#include <fstream>

#include <catch2/catch.hpp>

#include "tests/unit/temp_dir.h"
#include "wire/link.h"

using namespace pairfs;
using namespace pairfs::wire;

namespace {

void WriteText(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

unsigned ModeOf(const std::string& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_mode & 0777;
}

}  // namespace

TEST_CASE("key files are one line of 40 Z85 characters; a public key file's site is its name") {
  CHECK(SiteOfPublicKeyFile("/etc/pairfs/b.pub") == "b");
  CHECK(SiteOfPublicKeyFile("w.pub") == "w");
  CHECK(SiteOfPublicKeyFile("/etc/pairfs/.pub") == "");
  CHECK(SiteOfPublicKeyFile("/etc/pairfs/b.key") == "");
  const KeyPair keys = GenerateKeyPair().value();
  CHECK(keys.public_key.size() == kCurveKeyTextBytes);
  CHECK(ParseKeyText("  " + keys.public_key + "\n").value() == keys.public_key);
  CHECK_THAT(ParseKeyText("").status().message(), Catch::Contains("empty"));
  CHECK_THAT(ParseKeyText(keys.public_key + "x").status().message(),
             Catch::Contains("41 characters"));
  CHECK_THAT(ParseKeyText(std::string(40, '~') + "\n").status().message(),
             Catch::Contains("not Z85"));
}

TEST_CASE("keygen writes SITE.key 0600 and SITE.pub, never over existing files") {
  testing::TempDir dir;
  const KeyPair keys = GenerateKeyPair().value();
  REQUIRE(WriteKeyFiles(dir.path(), "a", keys).ok());
  CHECK(ModeOf(dir.path() + "/a.key") == 0600);
  CHECK(ReadSecretKeyFile(dir.path() + "/a.key").value() == keys.secret_key);
  CHECK(ReadPublicKeyFile(dir.path() + "/a.pub").value() == keys.public_key);
  Status again = WriteKeyFiles(dir.path(), "a", GenerateKeyPair().value());
  CHECK(again.code() == Code::kAlreadyExists);
  CHECK(ReadSecretKeyFile(dir.path() + "/a.key").value() == keys.secret_key);
}

TEST_CASE(
    "loading keys: the secret key must be private, files must hold keys, sites must be distinct") {
  testing::TempDir dir;
  const std::string d = dir.path();
  for (const char* site : {"a", "b", "w"})
    REQUIRE(WriteKeyFiles(d, site, GenerateKeyPair().value()).ok());
  Result<CurveKeys> keys = LoadCurveKeys(d + "/a.key", {d + "/b.pub", d + "/w.pub"});
  INFO(keys.status().message());
  REQUIRE(keys.ok());
  CHECK(keys->public_key == ReadPublicKeyFile(d + "/a.pub").value());
  CHECK(keys->peer_public_keys.at("b") == ReadPublicKeyFile(d + "/b.pub").value());

  CHECK(LoadCurveKeys(d + "/none.key", {}).status().code() == Code::kNotFound);
  CHECK_THAT(LoadCurveKeys(d + "/a.key", {d + "/a.pub"}).status().message(),
             Catch::Contains("own key"));
  REQUIRE(::mkdir((d + "/other").c_str(), 0700) == 0);
  WriteText(d + "/other/b.pub", ReadPublicKeyFile(d + "/w.pub").value(), 0644);
  CHECK_THAT(LoadCurveKeys(d + "/a.key", {d + "/b.pub", d + "/other/b.pub"}).status().message(),
             Catch::Contains("two public key files are for site b"));
  WriteText(d + "/x.pub", "not a key\n", 0644);
  CHECK_THAT(LoadCurveKeys(d + "/a.key", {d + "/x.pub"}).status().message(),
             Catch::Contains("x.pub"));
  REQUIRE(::chmod((d + "/a.key").c_str(), 0644) == 0);
  Result<CurveKeys> open_secret = LoadCurveKeys(d + "/a.key", {d + "/b.pub"});
  CHECK(open_secret.status().code() == Code::kNotPermitted);
  CHECK_THAT(open_secret.status().message(), Catch::Contains("chmod 600"));
}

namespace {

// A CURVE server of site "a" admitting site "b", at an ipc endpoint in `dir`.
struct CurveServer {
  explicit CurveServer(const std::string& dir) : endpoint("ipc://" + dir + "/curve.sock") {
    for (const char* site : {"a", "b", "w", "stranger"})
      REQUIRE(WriteKeyFiles(dir, site, GenerateKeyPair().value()).ok());
    context.UseCurve(LoadCurveKeys(dir + "/a.key", {dir + "/b.pub", dir + "/w.pub"}).value());
    server = std::move(Server::Bind(context, endpoint, Reach::kSiteToSite).value());
  }
  Context context;
  std::string endpoint;
  std::unique_ptr<Server> server;
};

// Sends one volume-list request as `claimed` from a client holding `key` (none: plain) and
// returns what the server received within a short wait.
std::optional<Incoming> SendAs(CurveServer& at, const std::string& dir, const std::string& key,
                               const std::string& claimed) {
  Context context;
  if (!key.empty())
    context.UseCurve(LoadCurveKeys(dir + "/" + key + ".key", {dir + "/a.pub"}).value());
  auto client =
      std::move(Client::Connect(context, at.endpoint, claimed, key.empty() ? "" : "a").value());
  REQUIRE(client
              ->SendBytes(
                  EncodeFrame(MessageType::kVolumeList, 1, claimed, EncodeBody(VolumeListRequest{}))
                      .value())
              .ok());
  Result<std::optional<Incoming>> received = at.server->Receive(1000);
  REQUIRE(received.ok());
  return received.value();
}

}  // namespace

TEST_CASE(
    "a CURVE server admits only the configured keys and names each connection after its key's "
    "site") {
  testing::TempDir dir;
  CurveServer server(dir.path());
  std::optional<Incoming> from_b = SendAs(server, dir.path(), "b", "b");
  REQUIRE(from_b.has_value());
  CHECK(from_b->authenticated_site == "b");
  std::optional<Incoming> w_as_b = SendAs(server, dir.path(), "w", "b");
  REQUIRE(w_as_b.has_value());
  CHECK(w_as_b->authenticated_site == "w");  // what the receivers compare with the claimed "b"
  CHECK_FALSE(SendAs(server, dir.path(), "stranger", "b").has_value());
  CHECK_FALSE(SendAs(server, dir.path(), "", "b").has_value());
}

TEST_CASE("a local control socket is mode 0600 whatever the umask") {
  testing::TempDir dir;
  Context context;
  const mode_t umask_before = ::umask(0);
  auto server = Server::Bind(context, "ipc://" + dir.path() + "/control.sock");
  ::umask(umask_before);
  REQUIRE(server.ok());
  CHECK(ModeOf(dir.path() + "/control.sock") == 0600);
}
