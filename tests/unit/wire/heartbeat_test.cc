#include "wire/heartbeat.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include "tests/unit/temp_dir.h"

using namespace pairfs;
using namespace pairfs::wire;

namespace {

using std::chrono::milliseconds;

// Whether nothing holds `port` on 127.0.0.1 (probed the way ZeroMQ binds: with SO_REUSEADDR).
bool PortIsFree(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const int one = 1;
  (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return free;
}

// A tcp endpoint on a port nothing holds now. Each process starts at a random port between 20000
// and 31000 (below the kernel's ephemeral range) and moves on from there, so test processes
// running side by side rarely probe the same ports; TwoSites retries if one was taken meanwhile.
std::string FreeEndpoint() {
  static int next_port = 20000 + static_cast<int>(std::random_device{}() % 11000);
  for (int tries = 0; tries < 200; ++tries) {
    const int port = next_port++;
    if (next_port >= 32000) next_port = 20000;
    if (PortIsFree(port)) return "tcp://127.0.0.1:" + std::to_string(port);
  }
  FAIL("no free port on 127.0.0.1");
  return "";
}

// The state a test site announces; the test changes it while the heartbeat thread reads it.
class Announced {
 public:
  explicit Announced(std::string state) : state_(std::move(state)) {}
  void Set(std::string state) {
    std::lock_guard<std::mutex> lock(mutex_);
    state_ = std::move(state);
  }
  HeartbeatLinks::StateFunction Function() {
    return [this] {
      std::lock_guard<std::mutex> lock(mutex_);
      return state_;
    };
  }

 private:
  std::mutex mutex_;
  std::string state_;
};

// Two sites, a (incarnation 11) and b (incarnation 22), joined by `link_count` heartbeat networks:
// a's listen endpoints are b's peer endpoints and the other way round. Each site starts when the
// test says and announces what its Announced holds.
struct TwoSites {
  explicit TwoSites(size_t link_count) : a_links(link_count), b_links(link_count) {
    for (size_t link = 0; link < link_count; ++link) {
      MoveListen(a_links, b_links, link);
      MoveListen(b_links, a_links, link);
    }
  }
  void StartA(int interval_ms) {
    a = Start(a_links, b_links, b != nullptr, "a", "b", 11, interval_ms, a_state);
  }
  void StartB(int interval_ms) {
    b = Start(b_links, a_links, a != nullptr, "b", "a", 22, interval_ms, b_state);
  }
  void StartBoth(int interval_ms) {
    StartA(interval_ms);
    StartB(interval_ms);
  }

  Context context;  // first, so that it outlives every socket
  std::vector<HeartbeatEndpoints> a_links;
  std::vector<HeartbeatEndpoints> b_links;
  Announced a_state{"STANDBY"};
  Announced b_state{"STANDBY"};
  std::unique_ptr<HeartbeatLinks> a;
  std::unique_ptr<HeartbeatLinks> b;

 private:
  // Gives `own` a new listen endpoint on `link`, which is where `other` sends.
  static void MoveListen(std::vector<HeartbeatEndpoints>& own,
                         std::vector<HeartbeatEndpoints>& other, size_t link) {
    own[link].listen = FreeEndpoint();
    other[link].peer = own[link].listen;
  }

  std::unique_ptr<HeartbeatLinks> Start(std::vector<HeartbeatEndpoints>& own,
                                        std::vector<HeartbeatEndpoints>& other, bool other_running,
                                        const std::string& site, const std::string& peer_site,
                                        uint64_t incarnation, int interval_ms, Announced& state) {
    for (int attempt = 1;; ++attempt) {
      Result<std::unique_ptr<HeartbeatLinks>> started = HeartbeatLinks::Start(
          context, own, site, peer_site, incarnation, interval_ms, state.Function());
      // Another process may have bound a probed port since. Until the other site runs, which
      // sends to these ports, they can still move.
      if (!started.ok() && started.status().error_number() == EADDRINUSE && !other_running &&
          attempt < 4) {
        for (size_t link = 0; link < own.size(); ++link) MoveListen(own, other, link);
        continue;
      }
      INFO(started.status().ToString());
      REQUIRE(started.ok());
      return std::move(started.value());
    }
  }
};

// Polls `condition` every 5 ms for up to `timeout_ms`; returns whether it came true.
template <class Condition>
bool WaitUntil(Condition condition, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(timeout_ms);
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

bool HeardOnEveryLink(const HeartbeatLinks& links) {
  for (const HeartbeatSnapshot& link : links.Snapshot()) {
    if (!link.heard) return false;
  }
  return true;
}

// The bytes of a heartbeat frame; `envelope_site` is the sender the header claims.
std::string HeartbeatFrame(const std::string& envelope_site, HeartbeatMessage beat) {
  return EncodeFrame(MessageType::kHeartbeat, beat.counter, envelope_site, EncodeBody(beat))
      .value();
}

// How long a test waits for something that takes a few intervals and perhaps one reconnect
// (kHeartbeatReconnectMs): a deadline that only catches a hang, never a slow, loaded machine.
constexpr int kHearWithinMs = 5000;

}  // namespace

TEST_CASE("two sites hear each other on every link and see the state the other announces") {
  TwoSites sites(2);
  sites.b_state.Set("ACTIVE");
  sites.StartBoth(20);
  HeartbeatLinks& a = *sites.a;

  REQUIRE(
      WaitUntil([&] { return HeardOnEveryLink(a) && HeardOnEveryLink(*sites.b); }, kHearWithinMs));
  for (const HeartbeatSnapshot& link : a.Snapshot()) {
    CHECK(link.peer_state == "ACTIVE");
    CHECK(link.peer_incarnation == 22);
    CHECK(link.last_heard_ms_ago >= 0);
    CHECK(link.dropped == 0);
  }
  // Beats keep coming (20 ms apart): each link is heard again, lately, not only once.
  CHECK(WaitUntil(
      [&] {
        for (const HeartbeatSnapshot& link : a.Snapshot()) {
          if (link.last_heard_ms_ago < 0 || link.last_heard_ms_ago >= 100) return false;
        }
        return true;
      },
      kHearWithinMs));
  for (const HeartbeatSnapshot& link : sites.b->Snapshot()) {
    CHECK(link.peer_state == "STANDBY");
    CHECK(link.peer_incarnation == 11);
    CHECK(link.dropped == 0);
  }
  std::optional<HeartbeatMessage> latest = a.Latest();
  REQUIRE(latest.has_value());
  CHECK(latest->site == "b");
  CHECK(latest->incarnation == 22);
  CHECK(latest->counter >= 1);
  CHECK(latest->state == "ACTIVE");

  sites.b_state.Set("FENCED");
  sites.b->BeatNow();
  CHECK(WaitUntil([&] { return a.Latest()->state == "FENCED"; }, kHearWithinMs));
  CHECK(WaitUntil(
      [&] {
        return a.Snapshot()[0].peer_state == "FENCED" && a.Snapshot()[1].peer_state == "FENCED";
      },
      kHearWithinMs));
}

TEST_CASE("a beat asked for sends the new state without waiting for the interval") {
  // The interval is longer than every deadline below: what arrives was sent by BeatNow.
  constexpr int kLongIntervalMs = 600'000;
  TwoSites sites(1);
  sites.StartBoth(kLongIntervalMs);
  HeartbeatLinks& a = *sites.a;
  // The first interval's beats may have gone out before the connection was up; ask until heard.
  REQUIRE(WaitUntil(
      [&] {
        sites.b->BeatNow();
        return a.Latest().has_value();
      },
      kHearWithinMs));

  sites.b_state.Set("ACTIVE");
  sites.b->BeatNow();
  CHECK(WaitUntil([&] { return a.Latest()->state == "ACTIVE"; }, kHearWithinMs));
}

TEST_CASE("when the peer goes away every link falls silent") {
  TwoSites sites(2);
  sites.StartBoth(20);
  HeartbeatLinks& a = *sites.a;
  REQUIRE(WaitUntil([&] { return HeardOnEveryLink(a); }, kHearWithinMs));

  sites.b.reset();
  REQUIRE(WaitUntil(
      [&] {
        for (const HeartbeatSnapshot& link : a.Snapshot()) {
          if (link.last_heard_ms_ago <= 100) return false;
        }
        return true;
      },
      kHearWithinMs));
  for (const HeartbeatSnapshot& link : a.Snapshot()) CHECK(link.heard);
}

TEST_CASE("beats sent while nothing listens are never delivered later") {
  TwoSites sites(1);
  sites.StartA(100);
  // Beats 1 to 5 leave at 0, 100, ... 400 ms, while b is not there; a queue would keep the first
  // few (kHeartbeatQueueMessages) and deliver them when b comes.
  std::this_thread::sleep_for(milliseconds(450));
  sites.StartB(100);
  REQUIRE(WaitUntil([&] { return sites.b->Latest().has_value(); }, kHearWithinMs));
  CHECK(sites.b->Latest()->counter >= 5);
}

TEST_CASE("a link whose peer endpoint leads nowhere is never heard while the other link is") {
  TwoSites sites(2);
  sites.a_links[1].peer = FreeEndpoint();  // nothing listens there: b never hears a on link 1
  sites.StartBoth(20);
  HeartbeatLinks& b = *sites.b;

  REQUIRE(WaitUntil([&] { return b.Snapshot()[0].heard && HeardOnEveryLink(*sites.a); },
                    kHearWithinMs));
  std::this_thread::sleep_for(milliseconds(200));
  // Link 0 keeps being heard (beats 20 ms apart), while link 1 never was.
  CHECK(WaitUntil(
      [&] {
        return b.Snapshot()[0].last_heard_ms_ago >= 0 && b.Snapshot()[0].last_heard_ms_ago < 100;
      },
      kHearWithinMs));
  const std::vector<HeartbeatSnapshot> links = b.Snapshot();
  CHECK(links[0].heard);
  CHECK_FALSE(links[1].heard);
  CHECK(links[1].last_heard_ms_ago == -1);
}

TEST_CASE(
    "garbage, foreign, crossed and stale heartbeats are dropped and the real peer is still heard") {
  TwoSites sites(2);
  sites.StartA(20);
  HeartbeatLinks& a = *sites.a;
  auto sender = std::move(Client::Connect(sites.context, sites.a_links[0].listen, "test").value());

  std::mt19937 random(7);
  std::string noise(300, '\0');
  for (char& byte : noise) byte = static_cast<char>(random());
  const std::vector<std::string> refused = {
      noise,
      EncodeFrame(MessageType::kDisplay, 1, "b", EncodeBody(DisplayRequest{})).value(),
      EncodeFrame(MessageType::kHeartbeat, 1, "b", "\xc1 not msgpack").value(),
      HeartbeatFrame("c", {"c", 5, 1, "ACTIVE", 0}),  // a foreign site
      HeartbeatFrame("b", {"c", 5, 2, "ACTIVE", 0}),  // the body names a foreign site
      HeartbeatFrame("c", {"b", 5, 3, "ACTIVE", 0}),  // the envelope names a foreign site
      HeartbeatFrame("b", {"b", 5, 4, "ACTIVE", 1}),  // sent on link 0, claims link 1
  };
  for (const std::string& bytes : refused) REQUIRE(sender->SendBytes(bytes).ok());
  REQUIRE(WaitUntil([&] { return a.Snapshot()[0].dropped == refused.size(); }, kHearWithinMs));
  CHECK_FALSE(a.Snapshot()[0].heard);
  CHECK_FALSE(a.Latest().has_value());

  // An oversized message: ZeroMQ drops it and the sender's connection before a sees it.
  auto flooder = std::move(Client::Connect(sites.context, sites.a_links[0].listen, "test").value());
  REQUIRE(flooder->SendBytes(std::string(64 * 1024, 'x')).ok());

  // A beat from "b" is accepted once; a replay of it and an older one are not signs of life.
  REQUIRE(sender->SendBytes(HeartbeatFrame("b", {"b", 5, 10, "ACTIVE", 0})).ok());
  REQUIRE(WaitUntil([&] { return a.Snapshot()[0].heard; }, kHearWithinMs));
  std::this_thread::sleep_for(milliseconds(60));
  REQUIRE(sender->SendBytes(HeartbeatFrame("b", {"b", 5, 10, "ACTIVE", 0})).ok());
  REQUIRE(sender->SendBytes(HeartbeatFrame("b", {"b", 5, 3, "FENCED", 0})).ok());
  REQUIRE(WaitUntil([&] { return a.Snapshot()[0].dropped == refused.size() + 2; }, kHearWithinMs));
  CHECK(a.Snapshot()[0].last_heard_ms_ago >= 50);
  CHECK(a.Snapshot()[0].peer_state == "ACTIVE");
  CHECK(a.Latest()->counter == 10);
  CHECK_FALSE(a.Snapshot()[1].heard);

  // The real peer, another incarnation whose counter starts again at 1, is heard on both links.
  sites.StartB(20);
  REQUIRE(WaitUntil(
      [&] {
        for (const HeartbeatSnapshot& link : a.Snapshot()) {
          if (link.peer_incarnation != 22 || link.last_heard_ms_ago > 50) return false;
        }
        return true;
      },
      kHearWithinMs));
  CHECK(a.Latest()->incarnation == 22);
  CHECK(a.Latest()->state == "STANDBY");
}

TEST_CASE("starting fails with an I/O error when a listen endpoint is already bound") {
  Context context;
  const std::string taken = FreeEndpoint();
  auto holder = std::move(Server::Bind(context, taken).value());
  Announced state("STANDBY");
  Result<std::unique_ptr<HeartbeatLinks>> started =
      HeartbeatLinks::Start(context, {{FreeEndpoint(), FreeEndpoint()}, {taken, FreeEndpoint()}},
                            "a", "b", 1, 20, state.Function());
  REQUIRE_FALSE(started.ok());
  CHECK(started.status().code() == Code::kIoError);
  CHECK_THAT(started.status().message(), Catch::Contains(taken));
}

TEST_CASE(
    "starting refuses no links, a zero interval, no state function and a site name that cannot "
    "travel") {
  Context context;
  Announced state("STANDBY");
  const std::vector<HeartbeatEndpoints> one_link = {{FreeEndpoint(), FreeEndpoint()}};
  auto code_of = [&](std::vector<HeartbeatEndpoints> links, std::string site, std::string peer_site,
                     int interval_ms, HeartbeatLinks::StateFunction function) {
    return HeartbeatLinks::Start(context, std::move(links), std::move(site), std::move(peer_site),
                                 1, interval_ms, std::move(function))
        .status()
        .code();
  };
  CHECK(code_of({}, "a", "b", 20, state.Function()) == Code::kInvalidArgument);
  CHECK(code_of(one_link, "a", "b", 0, state.Function()) == Code::kInvalidArgument);
  CHECK(code_of(one_link, "a", "b", 20, nullptr) == Code::kInvalidArgument);
  CHECK(code_of(one_link, "a/1", "b", 20, state.Function()) == Code::kInvalidArgument);
  CHECK(code_of(one_link, "a", std::string(40, 'b'), 20, state.Function()) ==
        Code::kInvalidArgument);
  CHECK(code_of(one_link, "a", "", 20, state.Function()) == Code::kInvalidArgument);
}

TEST_CASE(
    "with CURVE keys the links hear the peer, and a beat from another site's key is dropped") {
  testing::TempDir keys;
  for (const char* site : {"a", "b", "w", "x"})
    REQUIRE(WriteKeyFiles(keys.path(), site, GenerateKeyPair().value()).ok());
  auto load = [&](const std::string& site, std::vector<std::string> peers) {
    std::vector<std::string> files;
    for (const std::string& peer : peers) files.push_back(keys.path() + "/" + peer + ".pub");
    return LoadCurveKeys(keys.path() + "/" + site + ".key", files).value();
  };
  Context context_a, context_b, context_w, context_x, context_plain;
  context_a.UseCurve(load("a", {"b", "w"}));
  context_b.UseCurve(load("b", {"a"}));
  context_w.UseCurve(load("w", {"a"}));
  context_x.UseCurve(load("x", {"a"}));
  const HeartbeatEndpoints a_link{FreeEndpoint(), FreeEndpoint()};
  Announced state("STANDBY");
  auto a = std::move(
      HeartbeatLinks::Start(context_a, {a_link}, "a", "b", 11, 20, state.Function()).value());
  CHECK(a->Snapshot()[0].authenticated);

  // Site w's valid key claiming b, a key nobody lists, and no key: nothing counts as life.
  auto impostor = std::move(Client::Connect(context_w, a_link.listen, "b", "a").value());
  auto stranger = std::move(Client::Connect(context_x, a_link.listen, "b", "a").value());
  auto plain = std::move(Client::Connect(context_plain, a_link.listen, "b").value());
  for (uint64_t counter = 1; counter <= 3; ++counter) {
    for (Client* client : {impostor.get(), stranger.get(), plain.get()}) {
      REQUIRE(client->SendBytes(HeartbeatFrame("b", {"b", 99, counter, "FENCED", 0})).ok());
    }
  }
  // The impostor's three.
  REQUIRE(WaitUntil([&] { return a->Snapshot()[0].dropped == 3; }, kHearWithinMs));
  CHECK_FALSE(a->Snapshot()[0].heard);

  // The real b, with its key, is heard.
  auto b = std::move(HeartbeatLinks::Start(context_b, {{a_link.peer, a_link.listen}}, "b", "a", 22,
                                           20, state.Function())
                         .value());
  REQUIRE(WaitUntil([&] { return a->Snapshot()[0].peer_incarnation == 22; }, kHearWithinMs));
  CHECK(a->Snapshot()[0].dropped == 3);
  CHECK(a->Latest()->state == "STANDBY");
}
