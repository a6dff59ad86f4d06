// One volume's pair at run time (Replicator::Pair): its state as the metadata has it, the gate a
// state change closes, the copy thread, the activity log's epochs and the locks around them.
// Internal to the replicator's files; not part of the node's interface.
//
// LOCK ORDER, as the code takes them: a thread holding one of these takes only those listed
// after it, never one before. Two are waits rather than mutexes, but order the same way: a closed
// gate waits for the writers inside, and a range waits for its holder, who may be waiting for a
// peer's answer.
//
//   0. Replicator::serve_create_mutex_ (the peer's pair creates, one at a time): taken first.
//   1. Pair::gate: shared by a write at the mount and a forwarded write served at the primary;
//      closed by a state change from a command, Fence or FinishSwap. Held across round trips.
//      A group split (replicator_groups.cc) closes the gates of several pairs, in name order.
//   2. Volume::exclusive() ranges (node/range_lock.h): held across a replica write's round trip
//      and a copy chunk's. (WriteForwarded counts itself in flight, an Activity, before it takes
//      its range: an Activity is a count, not a lock.)
//   3. A managed pair's Pair::reserve_mutex (a reserve or release at its primary, held across
//      the mirror's round trip) -> Pair::reserve_ask_mutex (fence reserve after a link loss;
//      reached from a write holding 1 and 2) -> Replicator::determining_mutex_ (recursive:
//      reserves, releases and votes of the determining volume) -> the determining volume's
//      Pair::reserve_mutex.
//   4. Pair::al_mutex: shared while a write marks its regions (Activity::Begin), exclusive while
//      the trim clears them; never held across a round trip.
//   5. Pair::mutex (the state; Snapshot() takes it alone) -> Volume's metadata mutex (a state
//      change is saved under it). Never held across a round trip.
//   6. Pair::epoch_mutex (epochs, in-flight counts, last_epoch) -> RegionSet's flush_mutex_ ->
//      RegionSet's mutex_.
//   The executor (pair_actions.cc) follows this order: Commit runs under 5 (its caller holds
//      Pair::mutex) and never talks to the peer; RunAfterSave runs with 4 to 6 released:
//      kAskReserve takes 3 (also in a write that holds 1 and 2, as 3 says), kClearDirty trims
//      (4, 6) and asks the peer, kStartCopy takes copy_mutex and joins an earlier copy thread,
//      which takes 2, 4 and 6, so no range (2) is held there (the copy takes no gate).
//   Pair::copy_mutex guards copy_thread only: taken to start or join the copy thread with none of
//      the above held, never by the copy thread itself (DropPair checks the thread id).
//   Pair::flush_ahead_mutex (the flush ahead, node/flush_path.cc): taken by a write holding 1 and
//      2 or by a flush, with 3 to 6 released; only PeerCalls' mutex (a leaf) is taken inside it.
//   Leaves (nothing else is taken while they are held): Replicator::pairs_mutex_, work_mutex_,
//      the mutexes of PeerCalls, AnsweredRequests and DataWindow (node/peer_calls.h; PeerCalls
//      unlocks before it resends), the Gate's and RangeLock's own mutexes, VolumeStore's.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "node/pair_state.h"
#include "node/peer_status_rules.h"
#include "node/region_set.h"
#include "node/replicator.h"
#include "node/volume.h"

namespace pairfs::node::replicator_internal {

// Keeps new holders out while a state change runs, and waits for the holders already inside.
// Thread-safe.
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

// Made by make_shared only (LoadPair): the executor starts its copy thread from a Pair&
// (shared_from_this).
struct Replicator::Pair : std::enable_shared_from_this<Replicator::Pair> {
  std::shared_ptr<Volume> volume;
  std::unique_ptr<RegionSet> regions;
  replicator_internal::Gate gate;

  std::mutex mutex;  // guards the fields up to `unfinished_swap_logged`; held while a state
                     // change is saved
  PairState state;
  PairContext context;
  wire::Generation generation;
  std::string peer_volume;
  StatusWatch status_watch;             // the timed readings of the peer's status
  bool unfinished_swap_logged = false;  // FinishSwap left this copy as it is (said once)

  std::mutex copy_mutex;  // guards copy_thread
  std::thread copy_thread;
  std::atomic<bool> stop_copy{false};
  // The running copy's calls (a PeerCalls scope; 0 while no copy sends) and the generation it
  // started in (guarded by `mutex`): a state change that outlives the copy (node/copy_engine.h)
  // cancels its calls, so that it stops at once instead of waiting out its chunks' answers.
  std::atomic<uint64_t> copy_scope{0};
  wire::Generation copy_generation;
  std::atomic<uint64_t> copy_total{0};
  std::atomic<uint64_t> copy_done{0};
  std::atomic<uint32_t> peer_progress{0};
  // The highest generation counter a status from the peer named since this node started. A
  // takeover counts on from it when the peer does not answer: the peer may have moved on alone
  // (a suspension under a short link cut bumps its generation) before it went silent.
  std::atomic<uint64_t> peer_counter_heard{0};

  // Activity log (node/activity_log.h): regions may be cleared only when no write that touched
  // them is in flight.
  std::shared_mutex al_mutex;  // shared by writers while they mark; exclusive by the trim
  std::mutex epoch_mutex;      // guards the three below
  uint32_t epoch = 1;
  std::map<uint32_t, int> in_flight;  // epoch -> writes started in it and not finished
  std::vector<uint32_t> last_epoch;   // per region: the epoch of the last write that touched it

  std::mutex reserve_mutex;      // orders reserve and release at the primary
  std::mutex reserve_ask_mutex;  // fence reserve: one ask after a link loss; other writers wait

  // Async pairs (issue 13): the consistency group's journal here (null for sync pairs) and the
  // sequence of this volume's last journaled write (what its fsync waits for).
  std::shared_ptr<AsyncGroup> async_group;
  std::string group_name;
  std::atomic<uint64_t> last_journal_sequence{0};

  // Flush ahead (node/flush_path.cc, FlushAhead): when the application fsyncs after each write,
  // the primary sends a flush right behind a lone write, so that the peer's fdatasync starts
  // before the fsync comes; the fsync then waits for that flush's answer instead of a new round
  // trip. Counted: replicated writes sent (and forwarded writes granted), and those in flight.
  std::atomic<uint64_t> writes_sent{0};
  std::atomic<int> writes_in_flight{0};
  std::mutex flush_ahead_mutex;  // guards the three below (lock order above)
  uint64_t writes_sent_at_last_flush = 0;
  int flushes_after_lone_writes = 0;  // in a row: flushes with at most one write since the last
  struct FlushAhead {
    uint64_t id;                               // its call (PeerCalls)
    std::shared_ptr<const std::string> frame;  // for retransmits
    uint64_t covers_writes_sent;               // writes_sent once its write was sent
    wire::Generation generation;
  };
  std::optional<FlushAhead> flush_ahead;  // the last one sent, not yet taken by a flush
  // At the secondary: the last replica write served was followed by a flush ahead (the
  // application fsyncs after each write). The next small aligned one is then written with
  // O_DIRECT (node/replica_server.cc): its fdatasync finds no page to write back.
  std::atomic<bool> flushes_follow_writes{false};
  // The local sync ahead (node/flush_path.cc SyncAhead): the write that sent a flush ahead also
  // fdatasyncs this copy while its answer travels; the fsync that follows skips its own when no
  // write was sent since, in the same generation. Guarded by flush_ahead_mutex.
  struct LocalSyncAhead {
    uint64_t covers_writes_sent;  // writes_sent once its write was sent
    wire::Generation generation;
  };
  std::optional<LocalSyncAhead> local_sync_ahead;  // the last one done, not yet taken by a flush

  // metrics (issue 15): the writes and bytes this site replicated in this pair since the pair
  // was loaded (node/metrics_counters.cc): acknowledged by the peer (sync, and a write forwarded
  // to the primary once granted) or taken into the group's journal (async). Relaxed atomics: one
  // add each per write; a scrape reads them without a lock.
  std::atomic<uint64_t> replicated_writes{0};
  std::atomic<uint64_t> replicated_bytes{0};
  void CountReplicated(uint64_t bytes) {
    replicated_writes.fetch_add(1, std::memory_order_relaxed);
    replicated_bytes.fetch_add(bytes, std::memory_order_relaxed);
  }

  using View = Replicator::PairView;
  View Snapshot() {
    std::lock_guard<std::mutex> lock(mutex);
    return {state, context, generation, peer_volume};
  }
};

}  // namespace pairfs::node
