#include "tests/sim/network.h"

#include <catch2/catch.hpp>

using namespace pairfs::sim;

namespace {
// Sends `count` numbered messages a -> b one per ms and returns the order they arrive in.
std::vector<std::string> Run(uint64_t seed, FaultProfile profile, int count) {
  Network network(seed, profile);
  std::vector<std::string> arrived;
  for (int64_t now = 0; now < count + 1000; ++now) {
    if (now < count) network.Send(now, "a", "b", std::to_string(now));
    while (auto delivery = network.Deliver(now)) {
      REQUIRE(delivery->at_ms <= now);
      REQUIRE(delivery->to == "b");
      arrived.push_back(delivery->bytes);
    }
  }
  return arrived;
}
}  // namespace

TEST_CASE("a reliable network delivers everything once, in order") {
  std::vector<std::string> arrived = Run(1, {}, 100);
  REQUIRE(arrived.size() == 100);
  for (int i = 0; i < 100; ++i) CHECK(arrived[i] == std::to_string(i));
}

TEST_CASE("the same seed gives the same deliveries; another seed other ones") {
  const FaultProfile lossy{0.2, 0.1, 1, 50};
  CHECK(Run(42, lossy, 500) == Run(42, lossy, 500));
  CHECK(Run(42, lossy, 500) != Run(43, lossy, 500));
}

TEST_CASE("a lossy network drops, duplicates and reorders by its profile") {
  Network network(7, {0.2, 0.1, 1, 50});
  for (int i = 0; i < 2000; ++i) network.Send(i, "a", "b", std::to_string(i));
  CHECK(network.dropped() > 300);
  CHECK(network.dropped() < 500);
  CHECK(network.duplicated() > 100);
  std::vector<std::string> arrived = Run(7, {0.0, 0.0, 1, 50}, 200);
  CHECK(arrived.size() == 200);
  CHECK_FALSE(std::is_sorted(
      arrived.begin(), arrived.end(),
      [](const std::string& x, const std::string& y) { return std::stoi(x) < std::stoi(y); }));
}

TEST_CASE(
    "a cut link drops new messages one way only; messages in flight still arrive; heal restores "
    "it") {
  Network network(3, {0.0, 0.0, 10, 10});
  network.Send(0, "a", "b", "before the cut");
  network.Cut("a", "b");
  network.Send(1, "a", "b", "during the cut");
  network.Send(1, "b", "a", "the other way");
  std::vector<std::string> arrived;
  while (auto delivery = network.Deliver(100)) arrived.push_back(delivery->bytes);
  CHECK(arrived == std::vector<std::string>{"before the cut", "the other way"});
  network.Heal("a", "b");
  network.Send(200, "a", "b", "after healing");
  CHECK(network.Deliver(300)->bytes == "after healing");
}

TEST_CASE("a crashed site loses what was in flight to it") {
  Network network(3, {0.0, 0.0, 10, 10});
  network.Send(0, "a", "b", "lost");
  network.Send(0, "b", "a", "kept");
  network.DropInFlightTo("b");
  CHECK(network.NextDeliveryAt() == 10);
  CHECK(network.Deliver(10)->bytes == "kept");
  CHECK_FALSE(network.Deliver(1000));
}
