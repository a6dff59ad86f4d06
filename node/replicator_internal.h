// Internals shared by the replicator's files (replicator.cc, replicator_reserve.cc,
// pair_commands.cc): the per-pair
// runtime and the gate that state changes close. Not part of the node's interface.
#pragma once

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "node/pair_state.h"
#include "node/region_set.h"
#include "node/replicator.h"
#include "node/volume.h"

namespace pairfs::node::replicator_internal {

using Clock = std::chrono::steady_clock;

inline std::chrono::milliseconds Ms(int ms) { return std::chrono::milliseconds(ms); }

inline Status StatusFromCode(uint8_t code, const std::string& message) {
  if (code == 0) return Status::Ok();
  if (code > static_cast<uint8_t>(Code::kUnsupported)) return Status::Corruption("unknown result code from the peer");
  return Status(static_cast<Code>(code), message.empty() ? CodeName(static_cast<Code>(code)) : message);
}

// The result code a site sends for a failed write of its copy: NoSpace when its disk is full
// (the writer then gets ENOSPC), the status's own code otherwise (IoError: EIO).
inline Code DiskFaultCode(const Status& status) {
  return status.code() == Code::kIoError && status.error_number() == ENOSPC ? Code::kNoSpace : status.code();
}

// A write refused because the peer's copy could not be written (not by role, status or
// reservation).
inline bool IsDiskFault(uint8_t code) {
  return code == static_cast<uint8_t>(Code::kIoError) || code == static_cast<uint8_t>(Code::kNoSpace);
}

// What the writer gets when the peer's copy could not be written (pairfs(8) ERRORS): ENOSPC for
// a full disk, EIO for any other failure.
inline Status PeerDiskFault(uint8_t code, const std::string& volume, const std::string& peer_site) {
  const bool full = code == static_cast<uint8_t>(Code::kNoSpace);
  return Status::IoError("volume " + volume + ": the write failed at site " + peer_site + " (" +
                             (full ? "disk full" : "I/O error") + ")",
                         full ? ENOSPC : EIO);
}

// A region marked when the node started may differ between the copies (a crash between the two
// writes); the activity-log trim never clears it: only a copy does.
constexpr uint32_t kPinnedEpoch = UINT32_MAX;

// Bits [first, first + count) of a dirty bitmap whose marked regions are `regions` (ascending),
// one bit per region, low bit first: what a kPeerBitmap answer carries.
inline std::vector<char> PackBitsChunk(const std::vector<uint64_t>& regions, uint64_t first, uint64_t count) {
  std::vector<char> bits((count + 7) / 8, 0);
  for (auto it = std::lower_bound(regions.begin(), regions.end(), first); it != regions.end() && *it < first + count;
       ++it) {
    const uint64_t bit = *it - first;
    bits[bit / 8] = static_cast<char>(bits[bit / 8] | (1 << (bit % 8)));
  }
  return bits;
}

// The regions a chunk's bits mark, numbered from `first`; bits beyond `count` are ignored.
inline std::vector<uint64_t> UnpackBitsChunk(const std::vector<char>& bits, uint64_t first, uint64_t count) {
  std::vector<uint64_t> regions;
  for (uint64_t bit = 0; bit < count && bit / 8 < bits.size(); ++bit) {
    if (bits[bit / 8] & (1 << (bit % 8))) regions.push_back(first + bit);
  }
  return regions;
}

inline bool IsReplicating(PairStatus status) {
  return status == PairStatus::kCOPY || status == PairStatus::kPAIR || status == PairStatus::kPFUL;
}

// Keeps new holders out while a state change runs, and waits for the holders already inside.
class Gate {
 public:
  void EnterShared() {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return !closed_; });
    ++inside_;
  }
  void LeaveShared() {
    std::lock_guard<std::mutex> lock(mutex_);
    --inside_;
    changed_.notify_all();
  }
  void Close() {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return !closed_; });
    closed_ = true;
    changed_.wait(lock, [&] { return inside_ == 0; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = false;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int inside_ = 0;
  bool closed_ = false;
};

class SharedGate {
 public:
  explicit SharedGate(Gate& gate) : gate_(gate) { gate_.EnterShared(); }
  ~SharedGate() { gate_.LeaveShared(); }

 private:
  Gate& gate_;
};

class ClosedGate {
 public:
  explicit ClosedGate(Gate& gate) : gate_(&gate) { gate_->Close(); }
  ~ClosedGate() { Open(); }
  void Open() {
    if (gate_ != nullptr) gate_->Open();
    gate_ = nullptr;
  }

 private:
  Gate* gate_;
};


}  // namespace pairfs::node::replicator_internal

namespace pairfs::node {

struct Replicator::Pair {
  std::shared_ptr<Volume> volume;
  std::unique_ptr<RegionSet> regions;
  replicator_internal::Gate gate;

  std::mutex mutex;  // guards the fields up to `primary_apart_since`; held while a state change is saved
  PairState state;
  PairContext context;
  wire::Generation generation;
  std::string peer_volume;
  bool newer_seen = false;
  replicator_internal::Clock::time_point newer_since;
  bool unfinished_swap_logged = false;  // FinishSwap left this copy as it is (said once)
  bool primary_apart_seen = false;  // secondary: the primary said PSUE while this side replicates
  replicator_internal::Clock::time_point primary_apart_since;

  std::mutex copy_mutex;  // guards copy_thread
  std::thread copy_thread;
  std::atomic<bool> stop_copy{false};
  std::atomic<uint64_t> copy_total{0};
  std::atomic<uint64_t> copy_done{0};
  std::atomic<uint32_t> peer_progress{0};

  // Activity log: regions may be cleared only when no write that touched them is in flight.
  std::shared_mutex al_mutex;  // shared by writers while they mark; exclusive by the trim
  std::mutex epoch_mutex;      // guards the three below
  uint32_t epoch = 1;
  std::map<uint32_t, int> in_flight;  // epoch -> writes started in it and not finished
  std::vector<uint32_t> last_epoch;   // per region: the epoch of the last write that touched it

  std::mutex reserve_mutex;  // orders reserve and release at the primary
  std::mutex reserve_ask_mutex;  // fence reserve: one ask after a link loss; other writers wait

  using View = Replicator::PairView;
  View Snapshot() {
    std::lock_guard<std::mutex> lock(mutex);
    return {state, context, generation, peer_volume};
  }
};

// ---- waiting for answers ----------------------------------------------------------------------

class Replicator::Calls {
 public:
  explicit Calls(uint64_t first_id) : next_id_(first_id) {}

  uint64_t Begin() {
    std::lock_guard<std::mutex> lock(mutex_);
    const uint64_t id = next_id_++;
    slots_[id] = std::make_shared<Slot>();
    return id;
  }
  // Waits for an answer to an id the peer chose (a write confirm).
  void Register(uint64_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    slots_[id] = std::make_shared<Slot>();
  }
  bool Deliver(wire::Frame frame) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = slots_.find(frame.request_id);
    if (it == slots_.end() || it->second->answer) return false;
    it->second->answer = std::move(frame);
    it->second->ready.notify_all();
    return true;
  }
  // Waits up to `timeout_ms` for the answer to `id`, calling `resend` every `retransmit_ms`
  // (if given). The slot is gone afterwards either way.
  std::optional<wire::Frame> Wait(uint64_t id, int timeout_ms, int retransmit_ms,
                                  const std::function<void()>& resend) {
    std::unique_lock<std::mutex> lock(mutex_);
    auto it = slots_.find(id);
    if (it == slots_.end()) return std::nullopt;
    std::shared_ptr<Slot> slot = it->second;
    const auto deadline = replicator_internal::Clock::now() + replicator_internal::Ms(timeout_ms);
    auto next_resend = replicator_internal::Clock::now() + replicator_internal::Ms(retransmit_ms);
    while (!slot->answer && replicator_internal::Clock::now() < deadline) {
      const auto until = resend ? std::min(deadline, next_resend) : deadline;
      slot->ready.wait_until(lock, until);
      if (!slot->answer && resend && replicator_internal::Clock::now() >= next_resend && replicator_internal::Clock::now() < deadline) {
        lock.unlock();
        resend();
        lock.lock();
        next_resend = replicator_internal::Clock::now() + replicator_internal::Ms(retransmit_ms);
      }
    }
    slots_.erase(id);
    return std::move(slot->answer);
  }
  void Cancel(uint64_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    slots_.erase(id);
  }

 private:
  struct Slot {
    std::condition_variable ready;
    std::optional<wire::Frame> answer;
  };
  std::mutex mutex_;
  std::map<uint64_t, std::shared_ptr<Slot>> slots_;
  uint64_t next_id_;
};

}  // namespace pairfs::node
