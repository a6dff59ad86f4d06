// One consistency group of async pairs at one site (doc/design.md "Async pairs", "Consistency
// group"): its journal (node/journal.h) and the thread that moves its entries on. At the primary
// the journal is the master journal: writes are appended (Append, then ImageWritten once the
// image holds them), fsyncs wait for WaitDurable, and the transfer thread ships durable entries
// to the peer in batches (node/async_transfer.cc), checkpoints the images (fdatasync) and frees
// what the secondary has applied and the images hold durably. At the secondary it is the restore
// journal: Receive stores a batch (gaps, duplicates and bad data refused and counted) and the
// restore thread applies entries strictly in sequence order to the group's volumes
// (node/async_restore.cc), so they are always together a crash-consistent prefix.
//
// Thread-safe: Append/ImageWritten/WaitDurable from the mount's writer threads, Receive from the
// replicator's workers, Describe from the control thread, with the group's own thread running.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "node/journal.h"
#include "node/thread_starter.h"
#include "node/time_source.h"
#include "node/volume.h"
#include "wire/journal_messages.h"
#include "wire/status.h"

namespace pairfs::node {

// What the group needs from the replicator around it.
struct AsyncGroupHooks {
  // Master: sends a batch (or a probe: no entries) and returns the peer's checked ack, or
  // Unreachable/Corruption.
  std::function<Result<wire::JournalAckMessage>(const wire::JournalBatchMessage&)> send;
  // The local volume a journal entry names (master: its own name; restore: the primary's name,
  // a peer volume of one of the group's pairs), or null.
  std::function<std::shared_ptr<Volume>(const std::string& entry_volume)> volume_of;
  // The group's volumes here (checkpoints).
  std::function<std::vector<std::shared_ptr<Volume>>()> volumes;
  // The group's clock for ages and intervals (lag_ms, RPO times, checkpoints, probes): the
  // replicator's (ReplicatorOptions::clock, issue 12's Env seam); null = the steady clock. The
  // operators' waits (WaitPeerApplied, WaitShipped, WaitRestored) time out and pause on it too,
  // and so do the group's threads (AsyncGroup::WaitFor: the transfer's idle wait and its pacing
  // of small batches, the restore's pause and the reorder wait, the fill's pause).
  const TimeSource* clock = nullptr;
  // The group's threads (node/thread_starter.h); null: named std::threads.
  const ThreadStarter* threads = nullptr;
  // Master: a batch of less than kAsyncSmallPassBytes is sent at most this often; restore: a
  // pass that applied less is followed by a pause this long (kAsyncSmallPassMs in the product;
  // 0, no pacing: the simulation's seeds and the unit tests' waits).
  int pace_ms = 0;
  // The nice value the group's threads (transfer, restore, fill) give themselves at start
  // (kAsyncThreadNice in the product: below the mount's writers); 0 leaves them as started.
  int nice = 0;
};

// What display shows of the group (wire::VolumeInfo's async fields).
struct AsyncGroupProgress {
  uint64_t used_bytes = 0;
  uint64_t size_bytes = 0;
  uint64_t sent_sequence = 0;     // durable at the secondary (restore side: received here)
  uint64_t applied_sequence = 0;  // applied to the secondary's volumes
  uint64_t lag_ms = 0;            // master: age of the oldest entry not durable at the peer
  uint64_t lag_bytes = 0;         // master: data bytes not yet applied at the peer
};

struct AsyncGroupCounters {
  uint64_t batches_sent = 0;
  uint64_t batches_refused = 0;  // restore: batches with an entry refused (gap, checksum, ...)
  uint64_t entries_applied = 0;
  uint64_t checkpoints = 0;
};

// An async resync's regions go through the journal as one batch when the batch (entry headers and
// data, `batch_bytes`) takes at most 1/kAsyncResyncJournalShare of the ring (`capacity_bytes`,
// the restore journal must hold it whole), at most kMaxAsyncResyncBatchBytes (read into memory)
// and fits `free_bytes` with a wrap's slack. `capacity_bytes`: resync_capacity_bytes(), the
// smaller of both rings. Pure (node/async_resync.cc).
// `slack_bytes`: the largest entry (a wrap gap costs less).
bool AsyncResyncFits(uint64_t batch_bytes, uint64_t capacity_bytes, uint64_t free_bytes,
                     uint64_t slack_bytes);

class AsyncGroup {
 public:
  // Opens DIR/G.journal, or creates it `size_bytes` long (with `create`) in the role asked.
  // InvalidArgument if it holds the other role; NotFound without `create`; IoError/Corruption
  // from the journal.
  static Result<std::shared_ptr<AsyncGroup>> Open(const std::string& dir, const std::string& group,
                                                  bool master, bool create, uint64_t size_bytes,
                                                  AsyncGroupHooks hooks);
  ~AsyncGroup();
  AsyncGroup(const AsyncGroup&) = delete;
  AsyncGroup& operator=(const AsyncGroup&) = delete;

  const std::string& name() const { return group_; }
  bool master() const { return master_; }
  Journal& journal() { return *journal_; }

  // Starts the transfer (master: kAsyncBatchesInFlight sending threads, the first also
  // checkpoints) or restore thread; Stop joins them. Idempotent.
  void Start();
  void Stop();

  // ---- master ----
  // Appends a write under the next sequence and counts it as not yet in the image (the
  // checkpoint never passes it). NoSpace when the journal is full (the pair goes PFUS).
  // A full journal suspends the whole group (PFUS): the NoSpace Append returns the first time is
  // returned for every later write too, so no volume of the group journals a write that comes
  // after one the journal could not take (the secondaries stay a prefix; the refused writes go
  // to the pairs' dirty bitmaps). A restart or (later) an async resync ends it.
  Result<uint64_t> Append(const JournalWrite& write);
  // Suspends the group as a full journal does. Idempotent; true the first time.
  bool Suspend();
  bool suspended() const;
  // The image holds the write `sequence` carries (its pwrite returned).
  void ImageWritten(uint64_t sequence);
  Status WaitDurable(uint64_t sequence) { return journal_->WaitDurable(sequence); }
  // Restart: writes every held entry into the images, in order, and flushes them (the journal
  // is the write-ahead log: what an fsync acknowledged is there). Before anything is served.
  Status ReplayIntoImages();
  // fdatasyncs the images, then frees what the peer applied and the images hold (one pass).
  Status CheckpointAndFree();

  // ---- master: resync (node/async_resync.cc; issue 13 part 4) ----
  // Appends `writes` (the regions' current contents, read by the caller with their writes held
  // off) as one batch that the restore side applies only whole: consecutive sequences, the first
  // flagged kJournalBatchBegin, the last kJournalBatchEnd, no other append in between; also while
  // the group is suspended (it is how a resync brings a suspended group back). Returns the last
  // sequence once every entry is durable. NoSpace before anything is appended when the batch
  // (with its largest entry again as a wrap's slack) does not fit the free space; InvalidArgument
  // when empty; IoError from the journal (an open batch is then closed by nothing: the journal is
  // sticky failed and must be reopened, which drops the unfinished batch with the crash rules).
  Result<uint64_t> AppendBatch(const std::vector<JournalWrite>& writes);
  // Ends the suspension (Suspend) once the resync brought every pair of the group back.
  void Resume();
  // Waits until the peer has applied every entry through `sequence` (acks of the transfer
  // thread), up to `timeout_ms` of the group's clock: Ok, or Unreachable saying how far it got.
  Status WaitPeerApplied(uint64_t sequence, int timeout_ms);
  // Journal bytes free for appends now (the ring less what is held).
  uint64_t free_bytes() const;
  // Restart (finding F1): whether the replay (ReplayIntoImages) wrote every byte of [offset,
  // offset+length) of `volume`: such a range of the image is what the journal holds, whatever
  // a lost entry wrote there before the crash. ForgetReplayed drops the record (after the start).
  bool ReplayCovered(const std::string& volume, uint64_t offset, uint64_t length) const;
  void ForgetReplayed();
  // The ring a whole batch must fit: this journal's, or the peer's restore journal when an ack
  // said it is smaller.
  uint64_t resync_capacity_bytes() const;

  // ---- restore ----
  // Stores a checked batch in order; the ack says what is durable and applied here. An entry
  // that is a gap, fails its checksum, differs from the one held, names no volume of the group
  // here or runs past its end is refused with the rest of the batch, and counted.
  // `reorder_wait_ms`: a batch that starts past the next sequence waits up to this long for the
  // batches before it (a window's batches served in parallel) before it is refused as a gap;
  // 0 refuses at once.
  wire::JournalAckMessage Receive(const wire::JournalBatchMessage& batch, int reorder_wait_ms = 0);

  AsyncGroupProgress Progress() const;
  AsyncGroupCounters counters() const;

  // ---- asyncswap (issue 13 part 5; node/async_swap.cc) ----
  // Master: returns once the peer holds every entry appended so far durably (its ack), or
  // Unreachable after `timeout_ms` of the group's clock. The caller stopped new appends (the
  // pairs are demoted).
  Status WaitShipped(int timeout_ms);
  // Restore: returns once every entry received is applied to the volumes, or Busy after
  // `timeout_ms` of the group's clock (applying is stuck: a missing volume, a full disk).
  Status WaitRestored(int timeout_ms);
  // Master: the RPO fields of a batch whose last entry is `through` (wire/journal_messages.h):
  // the latest appended sequence and its wall-clock time, the bytes and span of the entries
  // after `through` not yet applied at the peer.
  void FillRpo(uint64_t through, wire::JournalBatchMessage* batch) const;
  // ---- end asyncswap ----

 private:
  AsyncGroup(std::string group, bool master, std::unique_ptr<Journal> journal,
             AsyncGroupHooks hooks);

  // node/async_transfer.cc
  // `lane` 0 also checkpoints; the other lanes only send.
  void RunTransfer(int lane);
  // Ships one batch from next_send_ (or probes) if the window has room; false when there was
  // nothing to send, no room, or the link failed (wait).
  bool ShipOnce();
  // The durable entries from batch->first_sequence on, at most `room` data bytes (and the wire's
  // batch limits), into `*batch`, their data bytes added to `*bytes`; false (logged) when the
  // journal cannot be synced or read.
  bool ReadBatch(size_t room, wire::JournalBatchMessage* batch, size_t* bytes);
  // `first`, `count`: the batch this ack answers (its entries).
  void OnAck(const wire::JournalAckMessage& ack, uint64_t first, size_t count);
  // Lane 0's checkpoint when due (mutex_ not held).
  void CheckpointIfDue();
  // Lowers the calling group thread's priority to AsyncGroupHooks::nice.
  void YieldToWriters();
  // Waits until a small batch may go (AsyncGroupHooks::pace_ms; dispatch_mutex_ held, mutex_
  // not); true when stopping.
  bool PaceSmallBatch();
  // Whether a lane could send now (mutex_ held).
  bool SendableLocked() const;
  // node/async_restore.cc
  void RunRestore();
  // Applies what is applicable; the data bytes applied (an entry without data counts 1), 0 when
  // nothing was (wait).
  size_t ApplyOnce();
  // Restore: Ok if the restore thread can apply `entry` here (its volume is one of the group's,
  // the range within it); InvalidArgument otherwise.
  Status CheckApplicable(const wire::JournalEntryMessage& entry) const;
  // Writes one entry's data to `volume` (ApplyEntries): large ones mostly with O_DIRECT.
  static Status ApplyData(Volume& volume, uint64_t offset, std::string_view data);
  // Writes entries to their volumes in order and flushes the volumes touched.
  // `skip_missing` (the master's replay): an entry of a volume that no longer exists is skipped
  // (logged) instead of stopping the replay.
  Status ApplyEntries(const std::vector<JournalEntry>& entries, uint64_t through,
                      bool skip_missing = false);

  // hooks_.clock (or the steady clock): one place for the group's time and its waits' pauses.
  const TimeSource& Clock() const;
  // Clock() in milliseconds (lag, checkpoint intervals, the waits' deadlines).
  int64_t NowMs() const;
  // Waits on `ready` (`lock` holds its mutex) until `done()` or `ms` of the group's clock passed;
  // returns done(). The group's threads wait only through this: on the steady clock it is
  // ready.wait_for, and a test's held clock (tests/sim/manual_clock.h) keeps them waiting.
  template <typename Done>
  bool WaitFor(std::condition_variable& ready, std::unique_lock<std::mutex>& lock, int64_t ms,
               Done done) const {
    return WaitUntilMs(ready, lock, NowMs() + ms, done);
  }
  // The same until the group's clock reaches `deadline_ms`.
  template <typename Done>
  bool WaitUntilMs(std::condition_variable& ready, std::unique_lock<std::mutex>& lock,
                   int64_t deadline_ms, Done done) const {
    while (!done()) {
      if (NowMs() >= deadline_ms) return false;
      Clock().WaitUntil(ready, lock, deadline_ms);
    }
    return true;
  }
  // Waits up to `ms` for new work or Stop; true when stopping.
  bool WaitForWork(int ms);
  // The master's fill thread (asyncfix): the journal's first lap written with zeros in steps
  // (Journal::FillAhead, node/limits.h kJournalFillAhead*); ends when done, on Stop, or on a
  // file error (logged once; appends then pay the extent conversion as before).
  void RunFill();
  // free_bytes() with mutex_ held (nothing else is appended meanwhile).
  uint64_t FreeBytesLocked() const;
  // Adds [offset, offset+length) of `volume` to replayed_ (ReplayIntoImages).
  void RecordReplayed(const std::string& volume, uint64_t offset, uint64_t length);

  const std::string group_;
  const bool master_;
  const std::unique_ptr<Journal> journal_;
  const AsyncGroupHooks hooks_;

  mutable std::mutex mutex_;  // guards everything below
  // Work for the group's threads: an append, a received batch, room in the window, a wait for
  // the peer. Notified on every append, so only threads that wait for work wait on it.
  std::condition_variable wake_;
  // The pauses that only Stop ends (the fill's, the small-batch pace, the restore's): on wake_,
  // every append woke them for nothing, a futex wake and a context switch per write each.
  std::condition_variable paused_;
  bool stopping_ = false;
  bool suspended_ = false;  // Suspend: every Append is refused
  bool work_ = false;       // an append or a received batch since the thread last looked
  std::thread thread_;
  std::vector<std::thread> lanes_;  // master: the sending threads beyond thread_ (lane 0)
  std::thread filler_;  // master: Journal::FillAhead until the first lap is written (asyncfix)
  // Master: sequences appended whose image write has not returned yet.
  std::set<uint64_t> in_image_pending_;
  uint64_t checkpoint_sequence_ = 0;  // the images hold every entry through it durably
  bool peer_known_ = false;           // an ack since the link last failed: next_send_ is right
  uint64_t next_send_ = 1;
  uint64_t peer_durable_ = 0;
  uint64_t peer_applied_ = 0;
  uint64_t peer_capacity_ = 0;  // the peer's restore ring (its acks); 0 until one said
  // The window (node/async_transfer.cc): batches sent and not yet answered, and their data bytes.
  int in_flight_batches_ = 0;
  size_t in_flight_bytes_ = 0;
  // One lane at a time reads the next batch from next_send_ and moves next_send_ past it.
  std::mutex dispatch_mutex_;
  // Restart: the byte ranges the replay wrote, per volume, merged (start -> end), at most
  // kMaxReplayCoverRanges of them (beyond, a range reads as not covered: re-journaled).
  std::map<std::string, std::map<uint64_t, uint64_t>> replayed_;
  size_t replayed_ranges_ = 0;
  int64_t last_checkpoint_ms_ = 0;
  // Master: when the last batch with entries was dispatched, and its bytes (PaceSmallBatch).
  int64_t last_ship_ms_ = 0;  // NowMs()
  size_t last_ship_bytes_ = SIZE_MAX;
  // Master: appended entries not yet applied at the peer (sequence, when, data bytes).
  struct Pending {
    uint64_t sequence;
    int64_t appended_ms;
    uint64_t bytes;
  };
  std::deque<Pending> not_applied_;
  uint64_t not_applied_bytes_ = 0;
  // Restore: one batch appended at a time (its sync is outside, shared with the next batch's).
  std::mutex receive_mutex_;
  std::condition_variable received_;  // a batch was stored (Receive's reorder wait)
  AsyncGroupCounters counters_;
};

}  // namespace pairfs::node
