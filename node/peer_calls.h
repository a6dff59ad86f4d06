// Request and answer plumbing between two sites, knowing nothing of pairs: waiting for the answer
// to a request (with retransmits and a deadline), remembering the answers already sent (so that a
// retransmitted request is answered again and never applied twice), and bounding the write data
// in flight. The replicator (node/replicator.h) owns one of each; the messages themselves are
// wire/'s.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "node/limits.h"
#include "node/time_source.h"
#include "wire/envelope.h"

namespace pairfs::node {

// Requests waiting for their answers, by request id. Thread-safe: any thread may Begin, Wait,
// Deliver or Cancel at once; each id is waited for by one thread.
class PeerCalls {
 public:
  using Clock = std::chrono::steady_clock;

  // Ids handed out by Begin() count up from `first_id`. Deadlines and retransmits run on `clock`
  // (not owned; null: the steady clock).
  explicit PeerCalls(uint64_t first_id, const TimeSource* clock = nullptr)
      : next_id_(first_id), clock_(ClockOrSteady(clock)) {}

  // A new id whose answer Wait() can wait for (an answer may arrive before the wait starts).
  uint64_t Begin();
  // Waits for an answer to an id the peer chose (a write confirm).
  void Register(uint64_t id);
  // Hands the answer to the waiter of `frame.request_id`. False (the frame is dropped) when nobody
  // waits for that id (unknown, timed out, cancelled) or it was answered already.
  bool Deliver(wire::Frame frame);
  // Waits up to `timeout_ms` for the answer to `id`, calling `resend` every `retransmit_ms` (if
  // given; never with the lock held). The answer, or nullopt on timeout or for an id not begun or
  // registered. The slot is gone afterwards either way. With `delivered_at`, the time the answer
  // was delivered (the waiter may wake later: the write path's latency stages).
  std::optional<wire::Frame> Wait(uint64_t id, int timeout_ms, int retransmit_ms,
                                  const std::function<void()>& resend,
                                  Clock::time_point* delivered_at = nullptr);
  // Forgets `id`: a later answer is dropped, and a Wait() for it returns nullopt at once (also
  // one already waiting: it wakes; an Await()ed call completes with nullopt).
  void Cancel(uint64_t id);

  // Waiting without a thread (speed, issue 14: the mount's replicated writes). Instead of a
  // Wait() for `id`, `done` is called once: with the answer, on the thread that delivers it (at
  // once, here, when it was delivered before), or with nullopt, on the thread that calls Expire()
  // once `timeout_ms` passed, or that cancels the call. Expire() also calls `resend` every
  // `retransmit_ms` until then. `done` runs without the lock held and may call back in.
  using Completion = std::function<void(std::optional<wire::Frame> answer, Clock::time_point)>;
  void Await(uint64_t id, int timeout_ms, int retransmit_ms, std::function<void()> resend,
             Completion done);
  // Resends the awaited calls that are due and completes those past their deadline (nullopt).
  void Expire();

  // Scopes: the calls of one long operation (a copy), cancelled together when the operation is
  // abandoned (doc/design.md "Pairs": a copy outlived by its pair's generation or role stops at
  // once, its waits not waited out). OpenScope hands out a new scope; Join puts a begun id in it
  // and says true, or cancels the id at once and says false when the scope was cancelled already;
  // CancelScope cancels every id in it and every id joined later; CloseScope forgets it (its ids
  // stay as they are). An id never joined, or a scope closed or never opened, is left alone.
  uint64_t OpenScope();
  bool Join(uint64_t id, uint64_t scope);
  void CancelScope(uint64_t scope);
  void CloseScope(uint64_t scope);

 private:
  struct Slot {
    std::condition_variable ready;
    std::optional<wire::Frame> answer;
    Clock::time_point delivered_at;
    bool cancelled = false;
    uint64_t scope = 0;  // 0: in none
    // An Await()ed call: what completes it, and its schedule (ms of clock_).
    Completion done;
    std::function<void()> resend;
    int64_t deadline_ms = 0;
    int64_t next_resend_ms = 0;
    int retransmit_ms = 0;
  };
  struct Scope {
    bool cancelled = false;
    std::set<uint64_t> ids;  // joined and not over yet
  };
  // Forgets the slot of `it` (caller holds mutex_) and wakes its waiter; an awaited call's
  // completion is added to `*complete`, for the caller to run once it has let go of the lock.
  using Pending = std::vector<std::function<void()>>;
  void EraseSlot(std::map<uint64_t, std::shared_ptr<Slot>>::iterator it, bool cancelled,
                 Pending* complete = nullptr);
  std::mutex mutex_;  // a leaf: nothing else is locked while it is held
  std::map<uint64_t, std::shared_ptr<Slot>> slots_;
  std::map<uint64_t, Scope> scopes_;
  uint64_t next_id_;
  uint64_t next_scope_ = 1;
  const TimeSource& clock_;
};

// Requests from the peer already served (or being served), by request id, with the answer sent,
// so that a retransmit is answered again and never applied twice. Bounded in count and in bytes,
// oldest first. Thread-safe.
class AnsweredRequests {
 public:
  enum class Claim {
    kNew,         // first seen: serve it, then Store() the answer
    kInProgress,  // being served now: its answer follows, drop the retransmit
    kDone,        // answered: send the stored answer again
  };
  // The bounds are node/limits.h's; tests pass small ones.
  explicit AnsweredRequests(size_t max_requests = kAnsweredRequestsKept,
                            size_t max_bytes = kAnsweredBytesKept)
      : max_requests_(max_requests), max_bytes_(max_bytes) {}

  // Claims `id`; for kDone, `*answer` is the answer stored for it.
  Claim Take(uint64_t id, std::string* answer);
  // True if `id` was served and its answer kept (not forgotten yet): a replica write applied here.
  bool Answered(uint64_t id);
  // Keeps `answer` for an id taken as kNew (ignored when the id was forgotten meanwhile). The
  // oldest answers are forgotten while the bytes exceed the bound, never the newest.
  void Store(uint64_t id, const std::string& answer);

 private:
  void Forget();  // the oldest answer; caller holds mutex_
  const size_t max_requests_;
  const size_t max_bytes_;
  std::mutex mutex_;  // a leaf
  std::map<uint64_t, std::string> answers_;
  std::deque<uint64_t> order_;
  size_t bytes_ = 0;  // of the answers kept
};

// Bytes of write data in flight to the peer, at most `capacity` (one write larger than that
// still goes, alone). Thread-safe.
class DataWindow {
 public:
  explicit DataWindow(size_t capacity) : capacity_(capacity) {}
  // Blocks until `bytes` fit (or nothing is in flight), then counts them in flight.
  void Acquire(size_t bytes);
  // Counts `bytes` out of flight and wakes the waiters.
  void Release(size_t bytes);

 private:
  const size_t capacity_;
  std::mutex mutex_;  // a leaf
  std::condition_variable released_;
  size_t used_ = 0;
};

// Releases a share of a DataWindow (acquired by the caller) when it goes out of scope.
class WindowShare {
 public:
  WindowShare(DataWindow& window, size_t bytes) : window_(window), bytes_(bytes) {}
  ~WindowShare() { window_.Release(bytes_); }
  WindowShare(const WindowShare&) = delete;
  WindowShare& operator=(const WindowShare&) = delete;

 private:
  DataWindow& window_;
  size_t bytes_;
};

}  // namespace pairfs::node
