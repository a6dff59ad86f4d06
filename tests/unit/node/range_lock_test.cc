#include "node/range_lock.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <random>
#include <thread>
#include <vector>

using namespace pairfs::node;
using namespace std::chrono_literals;

TEST_CASE("non-overlapping ranges are held at the same time") {
  RangeLock lock;
  RangeLock::Guard first = lock.Acquire(0, 4096);
  RangeLock::Guard second = lock.TryAcquire(4096, 4096);  // touches, does not overlap
  CHECK(second.held());
  CHECK(lock.held_count() == 2);
  // From another thread too, without waiting for the first to be released.
  auto third = std::async(std::launch::async, [&] { return lock.Acquire(1 << 20, 512).held(); });
  REQUIRE(third.wait_for(2s) == std::future_status::ready);
  CHECK(third.get());
}

TEST_CASE("an overlapping range waits until the holder releases it") {
  RangeLock lock;
  RangeLock::Guard first = lock.Acquire(1000, 100);
  CHECK_FALSE(lock.TryAcquire(1099, 10).held());
  CHECK_FALSE(lock.TryAcquire(900, 101).held());
  CHECK_FALSE(lock.TryAcquire(0, 1 << 20).held());
  CHECK(lock.TryAcquire(900, 100).held());  // ends where the held one starts
  std::atomic<bool> acquired{false};
  std::thread waiter([&] {
    RangeLock::Guard guard = lock.Acquire(1050, 10);
    acquired = true;
  });
  std::this_thread::sleep_for(50ms);
  CHECK_FALSE(acquired.load());
  first.Release();
  waiter.join();
  CHECK(acquired.load());
  CHECK(lock.held_count() == 0);
}

TEST_CASE("under many threads, overlapping holders never coexist and every thread finishes") {
  RangeLock lock;
  constexpr int kThreads = 8;
  constexpr int kRounds = 2000;
  constexpr uint64_t kSpan = 64;  // small space: many overlaps
  std::vector<std::atomic<int>> holders(kSpan);
  std::atomic<int> violations{0};
  std::atomic<int> max_parallel{0};
  std::atomic<int> parallel{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(t);
      for (int round = 0; round < kRounds; ++round) {
        const uint64_t offset = random() % kSpan;
        const uint64_t length = 1 + random() % std::min<uint64_t>(8, kSpan - offset);
        RangeLock::Guard guard = lock.Acquire(offset, length);
        const int now = ++parallel;
        int seen = max_parallel.load();
        while (now > seen && !max_parallel.compare_exchange_weak(seen, now)) {
        }
        for (uint64_t i = offset; i < offset + length; ++i) {
          if (holders[i].fetch_add(1) != 0) ++violations;
        }
        std::this_thread::yield();
        for (uint64_t i = offset; i < offset + length; ++i) holders[i].fetch_sub(1);
        --parallel;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(violations.load() == 0);
  CHECK(max_parallel.load() > 1);  // disjoint ranges did run in parallel
  CHECK(lock.held_count() == 0);
}

TEST_CASE("a moved guard releases once") {
  RangeLock lock;
  RangeLock::Guard a = lock.Acquire(0, 10);
  RangeLock::Guard b = std::move(a);
  CHECK_FALSE(a.held());
  CHECK(b.held());
  b = RangeLock::Guard();
  CHECK(lock.held_count() == 0);
}
