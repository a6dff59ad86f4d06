#include "node/peer_calls.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "tests/sim/manual_clock.h"
#include "tests/unit/frames.h"

using namespace pairfs;
using namespace pairfs::node;
using namespace std::chrono_literals;

namespace {

// Long enough never to end a test that works; only a hang meets it.
constexpr int kHangMs = 10000;

wire::Frame AnswerTo(uint64_t id, const std::string& body) {
  return testing::RawFrame(wire::MessageType::kPeerAnswer, body, "", id);
}

}  // namespace

TEST_CASE("calls get ids counting up from the first one", "[peer_calls]") {
  PeerCalls calls(41);
  CHECK(calls.Begin() == 41);
  CHECK(calls.Begin() == 42);
}

TEST_CASE("an answer delivered before the wait is what the wait returns", "[peer_calls]") {
  PeerCalls calls(1);
  const uint64_t id = calls.Begin();
  CHECK(calls.Deliver(AnswerTo(id, "early")));
  std::optional<wire::Frame> answer = calls.Wait(id, kHangMs, 0, nullptr);
  REQUIRE(answer);
  CHECK(answer->body == "early");
}

TEST_CASE("an answer delivered while a call waits wakes it", "[peer_calls]") {
  PeerCalls calls(1);
  const uint64_t id = calls.Begin();
  std::thread peer([&] {
    std::this_thread::sleep_for(20ms);
    (void)calls.Deliver(AnswerTo(id, "late"));
  });
  std::optional<wire::Frame> answer = calls.Wait(id, kHangMs, 0, nullptr);
  peer.join();
  REQUIRE(answer);
  CHECK(answer->body == "late");
}

TEST_CASE("a call nobody answers ends at its deadline with nothing, and a late answer is dropped",
          "[peer_calls]") {
  PeerCalls calls(1);
  const uint64_t id = calls.Begin();
  CHECK_FALSE(calls.Wait(id, 30, 0, nullptr));
  CHECK_FALSE(calls.Deliver(AnswerTo(id, "too late")));
}

TEST_CASE("an unanswered call is resent until its answer arrives", "[peer_calls]") {
  PeerCalls calls(1);
  const uint64_t id = calls.Begin();
  int resent = 0;
  // The third resend is answered; the resend runs without the calls' lock (it may deliver).
  std::optional<wire::Frame> answer = calls.Wait(id, kHangMs, 1, [&] {
    if (++resent == 3) (void)calls.Deliver(AnswerTo(id, "third time"));
  });
  REQUIRE(answer);
  CHECK(answer->body == "third time");
  CHECK(resent == 3);
}

TEST_CASE("a cancelled call drops its answer and is not waited for", "[peer_calls]") {
  PeerCalls calls(1);
  const uint64_t id = calls.Begin();
  calls.Cancel(id);
  CHECK_FALSE(calls.Deliver(AnswerTo(id, "unwanted")));
  CHECK_FALSE(calls.Wait(id, kHangMs, 0, nullptr));  // at once: no such call
}

TEST_CASE("a cancel wakes the call waiting for that id: it returns nothing at once",
          "[peer_calls]") {
  PeerCalls calls(1);
  const uint64_t id = calls.Begin();
  std::future<std::optional<wire::Frame>> waited =
      std::async(std::launch::async, [&] { return calls.Wait(id, kHangMs, 0, nullptr); });
  // Cancelled before or during the wait: either way the wait ends without waiting its deadline.
  calls.Cancel(id);
  REQUIRE(waited.wait_for(std::chrono::milliseconds(kHangMs / 2)) == std::future_status::ready);
  CHECK_FALSE(waited.get());
  CHECK_FALSE(calls.Deliver(AnswerTo(id, "unwanted")));
}

TEST_CASE(
    "a cancelled scope ends every call in it at once, and cancels a call joined later; other "
    "calls go on",
    "[peer_calls]") {
  PeerCalls calls(1);
  const uint64_t scope = calls.OpenScope();
  const uint64_t first = calls.Begin(), second = calls.Begin(), outside = calls.Begin();
  CHECK(calls.Join(first, scope));
  CHECK(calls.Join(second, scope));
  std::future<std::optional<wire::Frame>> waited =
      std::async(std::launch::async, [&] { return calls.Wait(first, kHangMs, 0, nullptr); });
  calls.CancelScope(scope);
  REQUIRE(waited.wait_for(std::chrono::milliseconds(kHangMs / 2)) == std::future_status::ready);
  CHECK_FALSE(waited.get());
  CHECK_FALSE(calls.Wait(second, kHangMs, 0, nullptr));
  const uint64_t late = calls.Begin();
  CHECK_FALSE(calls.Join(late, scope));
  CHECK_FALSE(calls.Wait(late, kHangMs, 0, nullptr));
  // A call in no scope is not touched; a closed scope leaves its calls as they are.
  CHECK(calls.Deliver(AnswerTo(outside, "still wanted")));
  CHECK(calls.Wait(outside, kHangMs, 0, nullptr));
  const uint64_t other = calls.OpenScope();
  const uint64_t kept = calls.Begin();
  CHECK(calls.Join(kept, other));
  calls.CloseScope(other);
  calls.CancelScope(other);  // closed: nothing to cancel
  CHECK(calls.Deliver(AnswerTo(kept, "kept")));
  CHECK(calls.Wait(kept, kHangMs, 0, nullptr));
}

// ---- Await: waiting without a thread (the mount's replicated writes) ----

namespace {

// What an Await()ed call was told: how many times, its answer's body ("" for nothing), and on
// which thread.
struct Told {
  int times = 0;
  std::string body;
  bool answered = false;
  std::thread::id thread;
  PeerCalls::Completion Completion() {
    return [this](std::optional<wire::Frame> answer, PeerCalls::Clock::time_point) {
      ++times;
      answered = answer.has_value();
      body = answer ? answer->body : "";
      thread = std::this_thread::get_id();
    };
  }
};

}  // namespace

TEST_CASE("an awaited call completes once, on the thread that delivers its answer",
          "[peer_calls]") {
  PeerCalls calls(1);
  const uint64_t id = calls.Begin();
  Told told;
  calls.Await(id, kHangMs, 250, nullptr, told.Completion());
  CHECK(told.times == 0);
  std::thread link([&] { CHECK(calls.Deliver(AnswerTo(id, "acked"))); });
  const std::thread::id link_id = link.get_id();
  link.join();
  CHECK(told.times == 1);
  CHECK(told.answered);
  CHECK(told.body == "acked");
  CHECK(told.thread == link_id);
  CHECK_FALSE(calls.Deliver(AnswerTo(id, "again")));  // its slot is gone
  calls.Expire();
  CHECK(told.times == 1);
}

TEST_CASE("an answer delivered before the await completes the call at once, here", "[peer_calls]") {
  PeerCalls calls(1);
  const uint64_t id = calls.Begin();
  CHECK(calls.Deliver(AnswerTo(id, "early")));
  Told told;
  calls.Await(id, kHangMs, 250, nullptr, told.Completion());
  CHECK(told.times == 1);
  CHECK(told.body == "early");
  CHECK(told.thread == std::this_thread::get_id());
}

TEST_CASE("Expire resends an awaited call every retransmit and ends it at its deadline",
          "[peer_calls]") {
  sim::ManualClock clock;
  PeerCalls calls(1, &clock);
  const uint64_t id = calls.Begin();
  const uint64_t waited = calls.Begin();  // a Wait()ed call is not Expire()'s
  int resent = 0;
  Told told;
  calls.Await(
      id, 1000, 250, [&] { ++resent; }, told.Completion());
  calls.Expire();
  CHECK(resent == 0);  // not due yet
  clock.Advance(250);
  calls.Expire();
  CHECK(resent == 1);
  calls.Expire();
  CHECK(resent == 1);  // once per retransmit
  clock.Advance(600);
  calls.Expire();
  CHECK(resent == 2);
  CHECK(told.times == 0);
  clock.Advance(150);  // the deadline
  calls.Expire();
  CHECK(resent == 2);
  CHECK(told.times == 1);
  CHECK_FALSE(told.answered);
  CHECK_FALSE(calls.Deliver(AnswerTo(id, "too late")));
  calls.Expire();
  CHECK(told.times == 1);
  CHECK(calls.Deliver(AnswerTo(waited, "kept")));
}

TEST_CASE("a cancel completes an awaited call with nothing, also through its scope",
          "[peer_calls]") {
  PeerCalls calls(1);
  const uint64_t id = calls.Begin();
  Told told;
  calls.Await(id, kHangMs, 250, nullptr, told.Completion());
  calls.Cancel(id);
  CHECK(told.times == 1);
  CHECK_FALSE(told.answered);
  CHECK_FALSE(calls.Deliver(AnswerTo(id, "dropped")));

  const uint64_t scope = calls.OpenScope();
  const uint64_t scoped = calls.Begin();
  REQUIRE(calls.Join(scoped, scope));
  Told in_scope;
  calls.Await(scoped, kHangMs, 250, nullptr, in_scope.Completion());
  calls.CancelScope(scope);
  CHECK(in_scope.times == 1);
  CHECK_FALSE(in_scope.answered);

  // A completion may call back in (it runs without the lock): here it begins the next call.
  const uint64_t first = calls.Begin();
  uint64_t next = 0;
  calls.Await(
      first, kHangMs, 250, nullptr,
      [&](std::optional<wire::Frame>, PeerCalls::Clock::time_point) { next = calls.Begin(); });
  CHECK(calls.Deliver(AnswerTo(first, "go on")));
  CHECK(next == first + 1);
}

TEST_CASE("only the first answer to a call counts; an unknown id is dropped", "[peer_calls]") {
  PeerCalls calls(1);
  const uint64_t id = calls.Begin();
  CHECK(calls.Deliver(AnswerTo(id, "first")));
  CHECK_FALSE(calls.Deliver(AnswerTo(id, "second")));
  CHECK_FALSE(calls.Deliver(AnswerTo(id + 100, "nobody asked")));
  std::optional<wire::Frame> answer = calls.Wait(id, kHangMs, 0, nullptr);
  REQUIRE(answer);
  CHECK(answer->body == "first");
}

TEST_CASE("a registered id the peer chose receives its answer", "[peer_calls]") {
  PeerCalls confirms(0);
  confirms.Register(777);
  CHECK(confirms.Deliver(AnswerTo(777, "confirmed")));
  std::optional<wire::Frame> answer = confirms.Wait(777, kHangMs, 0, nullptr);
  REQUIRE(answer);
  CHECK(answer->body == "confirmed");
}

TEST_CASE("a request is served once: a retransmit is dropped while it runs, then answered again",
          "[peer_calls]") {
  AnsweredRequests answered;
  std::string cached;
  CHECK(answered.Take(5, &cached) == AnsweredRequests::Claim::kNew);
  CHECK(answered.Take(5, &cached) == AnsweredRequests::Claim::kInProgress);
  answered.Store(5, "the answer");
  CHECK(answered.Take(5, &cached) == AnsweredRequests::Claim::kDone);
  CHECK(cached == "the answer");
}

TEST_CASE("answers kept for retransmits are bounded in bytes, the oldest forgotten first",
          "[peer_calls]") {
  AnsweredRequests answered(100, 10);
  std::string cached;
  for (uint64_t id : {1, 2, 3})
    REQUIRE(answered.Take(id, &cached) == AnsweredRequests::Claim::kNew);
  answered.Store(1, "aaaa");
  answered.Store(2, "bbbb");
  answered.Store(3, "cccc");  // 12 bytes: the oldest (1) goes
  CHECK(answered.Take(3, &cached) == AnsweredRequests::Claim::kDone);
  CHECK(cached == "cccc");
  CHECK(answered.Take(2, &cached) == AnsweredRequests::Claim::kDone);
  CHECK(cached == "bbbb");
  CHECK(answered.Take(1, &cached) == AnsweredRequests::Claim::kNew);  // forgotten: served anew
}

TEST_CASE(
    "answers kept for retransmits are bounded in count, and the newest is kept even when too large",
    "[peer_calls]") {
  AnsweredRequests answered(2, 4);
  std::string cached;
  for (uint64_t id : {1, 2, 3})
    REQUIRE(answered.Take(id, &cached) == AnsweredRequests::Claim::kNew);
  // The third take forgot 1; taking 1 anew forgets 2.
  CHECK(answered.Take(1, &cached) == AnsweredRequests::Claim::kNew);
  CHECK(answered.Take(3, &cached) == AnsweredRequests::Claim::kInProgress);
  answered.Store(1, "far more than four bytes");
  CHECK(answered.Take(1, &cached) == AnsweredRequests::Claim::kDone);
  CHECK(cached == "far more than four bytes");
  CHECK(answered.Take(3, &cached) ==
        AnsweredRequests::Claim::kNew);  // older than 1: forgotten for the bytes
}

TEST_CASE("the window holds a write until the data in flight leaves room for it", "[peer_calls]") {
  DataWindow window(100);
  window.Acquire(60);
  std::atomic<bool> acquired{false};
  auto second = std::async(std::launch::async, [&] {
    window.Acquire(60);
    acquired = true;
  });
  CHECK(second.wait_for(50ms) == std::future_status::timeout);
  CHECK_FALSE(acquired.load());
  window.Release(60);
  REQUIRE(second.wait_for(std::chrono::milliseconds(kHangMs)) == std::future_status::ready);
  CHECK(acquired.load());
}

TEST_CASE("a write larger than the window goes alone, and a share releases on leaving its scope",
          "[peer_calls]") {
  DataWindow window(100);
  window.Acquire(500);  // nothing in flight: it goes
  { WindowShare share(window, 500); }
  // All released: a full-window write fits at once (a leak would hang here).
  auto next = std::async(std::launch::async, [&] { window.Acquire(100); });
  REQUIRE(next.wait_for(std::chrono::milliseconds(kHangMs)) == std::future_status::ready);
}

TEST_CASE("a wait says when its answer was delivered, not when the waiter woke", "[peer_calls]") {
  PeerCalls calls(1);
  const uint64_t id = calls.Begin();
  const PeerCalls::Clock::time_point before = PeerCalls::Clock::now();
  REQUIRE(calls.Deliver(AnswerTo(id, "answer")));
  const PeerCalls::Clock::time_point after = PeerCalls::Clock::now();
  std::this_thread::sleep_for(5ms);
  PeerCalls::Clock::time_point delivered_at;
  REQUIRE(calls.Wait(id, kHangMs, 0, nullptr, &delivered_at));
  CHECK(delivered_at >= before);
  CHECK(delivered_at <= after);
}

TEST_CASE("a request counts as answered only once its answer is kept", "[peer_calls]") {
  AnsweredRequests answered(100, 10);
  std::string cached;
  CHECK_FALSE(answered.Answered(9));  // never seen
  REQUIRE(answered.Take(9, &cached) == AnsweredRequests::Claim::kNew);
  CHECK_FALSE(answered.Answered(9));  // being served
  answered.Store(9, "ack");
  CHECK(answered.Answered(9));
  for (uint64_t id : {10, 11, 12}) {
    REQUIRE(answered.Take(id, &cached) == AnsweredRequests::Claim::kNew);
    answered.Store(id, "acks");
  }
  CHECK_FALSE(answered.Answered(9));  // forgotten (over 10 bytes): not known to be applied
}

TEST_CASE("a call's deadline and resends run on the injected clock, not the wall's",
          "[peer_calls][clock]") {
  sim::ManualClock clock;
  PeerCalls calls(1, &clock);
  const uint64_t id = calls.Begin();
  std::atomic<int> resent{0};
  std::atomic<bool> returned{false};
  auto waiter = std::async(std::launch::async, [&] {
    std::optional<wire::Frame> answer = calls.Wait(id, 100, 20, [&] { ++resent; });
    returned = true;
    return answer;
  });
  // Held: three deadlines of real time pass, and the call neither ends nor resends.
  std::this_thread::sleep_for(300ms);
  CHECK_FALSE(returned.load());
  CHECK(resent.load() == 0);
  clock.Advance(25);  // past one retransmit interval: one resend
  const auto hang = std::chrono::steady_clock::now() + std::chrono::milliseconds(kHangMs);
  while (resent.load() == 0 && std::chrono::steady_clock::now() < hang)
    std::this_thread::sleep_for(1ms);
  CHECK(resent.load() == 1);
  CHECK_FALSE(returned.load());
  clock.Advance(100);  // past the deadline: the call ends with nothing
  REQUIRE(waiter.wait_for(std::chrono::milliseconds(kHangMs)) == std::future_status::ready);
  CHECK_FALSE(waiter.get().has_value());
  CHECK(resent.load() == 1);
}
