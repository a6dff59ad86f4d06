#include "wire/log_limit.h"

#include <catch2/catch.hpp>

#include <string>

using pairfs::wire::LogLimiter;

TEST_CASE("a refusal kind is logged at once, then once per interval with the count it skipped",
          "[log]") {
  LogLimiter limiter(1000);
  uint64_t suppressed = 99;
  REQUIRE(limiter.Allow("garbage", &suppressed, 1));
  CHECK(suppressed == 0);
  for (int i = 0; i < 500; ++i) CHECK_FALSE(limiter.Allow("garbage", &suppressed, 2 + i));
  REQUIRE(limiter.Allow("garbage", &suppressed, 1001));
  CHECK(suppressed == 500);
  CHECK(limiter.Count("garbage") == 502);
}

TEST_CASE("each refusal kind has its own interval", "[log]") {
  LogLimiter limiter(1000);
  uint64_t suppressed = 0;
  REQUIRE(limiter.Allow("garbage", &suppressed, 5));
  REQUIRE(limiter.Allow("wrong site", &suppressed, 6));
  CHECK_FALSE(limiter.Allow("garbage", &suppressed, 7));
  CHECK(limiter.Total() == 3);
}

TEST_CASE("a sender cannot grow the limiter by inventing kinds", "[log]") {
  LogLimiter limiter(1000);
  uint64_t suppressed = 0;
  for (size_t i = 0; i < LogLimiter::kMaxLogKinds + 1000; ++i)
    (void)limiter.Allow("kind " + std::to_string(i), &suppressed, 10);
  CHECK(limiter.Count("other") == 1000);
  CHECK(limiter.Total() == LogLimiter::kMaxLogKinds + 1000);
}
