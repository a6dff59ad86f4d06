#include "tests/tools/wan_delay_line.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <string>

using namespace pairfs::tools;
using namespace std::chrono_literals;

namespace {
const WanClock::time_point kStart = WanClock::time_point{} + 1000s;
}

TEST_CASE("a delay line holds bytes until read time plus the delay, in order", "[wan]") {
  DelayLine line(10ms, 0);
  line.PushBytes("first", kStart);
  line.PushBytes("second", kStart + 3ms);
  CHECK(line.queued_bytes() == 11);
  CHECK_FALSE(line.HeadReady(kStart + 9ms));
  REQUIRE(line.HeadReadyAt() == kStart + 10ms);
  REQUIRE(line.HeadReady(kStart + 10ms));
  CHECK(line.HeadBytes() == "first");
  line.ConsumeBytes(2, kStart + 10ms);  // a short write keeps the rest at the head
  CHECK(line.HeadBytes() == "rst");
  line.ConsumeBytes(3, kStart + 10ms);
  CHECK(line.HeadReadyAt() == kStart + 13ms);  // the second keeps its own read time
  CHECK_FALSE(line.HeadReady(kStart + 12ms));
  CHECK(line.HeadBytes() == "second");
  line.ConsumeBytes(6, kStart + 13ms);
  CHECK(line.empty());
  CHECK(line.queued_bytes() == 0);
  CHECK_FALSE(line.HeadReadyAt().has_value());
}

TEST_CASE("an end of stream or a reset comes after the bytes before it, delayed like them",
          "[wan]") {
  auto kind = GENERATE(DelayLine::Kind::kEndOfStream, DelayLine::Kind::kReset);
  DelayLine line(5ms, 0);
  line.PushBytes("data", kStart);
  line.PushEnd(kind, kStart + 1ms);
  CHECK(line.ended());
  line.ConsumeBytes(4, kStart + 5ms);
  CHECK_FALSE(line.HeadReady(kStart + 5ms));
  REQUIRE(line.HeadReady(kStart + 6ms));
  CHECK(line.HeadKind() == kind);
  line.PopEnd();
  CHECK(line.empty());
}

TEST_CASE("a rate cap paces writes at count / rate, in pieces of at most kPacedWriteBytes",
          "[wan]") {
  DelayLine line(0ms, 1e6);  // 1 MB/s: 64 KiB take 65.536 ms
  line.PushBytes(std::string(3 * kPacedWriteBytes, 'x'), kStart);
  REQUIRE(line.HeadReady(kStart));
  CHECK(line.HeadBytes().size() == kPacedWriteBytes);
  // On time: after the burst credit of a late wake-up is spent, each piece waits its turn.
  WanClock::time_point now = kStart;
  line.ConsumeBytes(kPacedWriteBytes, now);
  CHECK(line.HeadReady(now));  // the credit allows a burst of kPacedBurstBytes
  line.ConsumeBytes(kPacedWriteBytes, now);
  CHECK(line.HeadReady(now));
  DelayLine capped(0ms, 1e6);
  capped.PushBytes(std::string(kPacedBurstBytes + 2 * kPacedWriteBytes, 'y'), kStart);
  size_t written = 0;
  while (capped.HeadReady(kStart)) {
    written += capped.HeadBytes().size();
    capped.ConsumeBytes(capped.HeadBytes().size(), kStart);
  }
  // At one instant no more than the burst credit (and the piece that spends it) goes out.
  CHECK(written <= kPacedBurstBytes + kPacedWriteBytes);
  REQUIRE(capped.HeadReadyAt().has_value());
  CHECK(*capped.HeadReadyAt() > kStart);
}

TEST_CASE("over a long run a rate cap never sends more than rate x time plus the burst", "[wan]") {
  const double rate = 20e6;
  DelayLine line(0ms, rate);
  line.PushBytes(std::string(8 << 20, 'z'), kStart);
  WanClock::time_point now = kStart;
  size_t written = 0;
  while (!line.empty()) {
    now = std::max(now, *line.HeadReadyAt()) + 700us;  // every wake-up 0.7 ms late
    written += line.HeadBytes().size();
    line.ConsumeBytes(line.HeadBytes().size(), now);
    double seconds = std::chrono::duration<double>(now - kStart).count();
    REQUIRE(written <= rate * seconds + kPacedBurstBytes + kPacedWriteBytes);
  }
  // ... and late wake-ups do not lower it much: 8 MiB at 20 MB/s take 0.42 s, not much more.
  CHECK(std::chrono::duration<double>(now - kStart).count() < 0.42 * 1.1);
}

TEST_CASE("a discarded line is empty and takes nothing more", "[wan]") {
  DelayLine line(1ms, 0);
  line.PushBytes("lost", kStart);
  line.Discard();
  CHECK(line.empty());
  CHECK(line.ended());
  CHECK(line.queued_bytes() == 0);
}
