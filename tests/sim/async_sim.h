// What the async replication simulation (tests/sim/async_sim_test.cc) is built of: a model of the
// group's writes (bytes only, no product logic), a site holding a real node::AsyncGroup over a
// real journal file and its volumes over memory images, and the seeded link between the master's
// transfer thread and the restore side's Receive, which drops batches and acks, delivers twice,
// delivers an older batch again (reordering, also of acks), cuts entries off a batch's start (a
// sequence gap) and partitions.
//
// Thread-safety: AsyncLink is called from the master's transfer thread and the simulation thread
// (its own mutex); AsyncModel and AsyncSite belong to the simulation thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "node/async_group.h"
#include "node/block_file.h"
#include "node/volume.h"
#include "wire/journal_messages.h"
#include "wire/status.h"

namespace pairfs::sim {

// Small volumes and the smallest journal the product takes, so that the ring wraps and fills.
constexpr uint64_t kAsyncVolumeBytes = 256 * 1024;
constexpr uint64_t kAsyncVolumeCount = 2;  // "db" and "log", one consistency group "app"
constexpr const char* kAsyncGroup = "app";

// Checks inside a run throw (runs go on several threads; Catch2's assertions are not thread-safe).
#define ASYNC_SIM_ENSURE(condition, what)                                                \
  do {                                                                                   \
    if (!(condition)) throw std::runtime_error(std::string(what) + " (" #condition ")"); \
  } while (0)

std::string AsyncVolumeName(size_t index);

// One write of the group as the writer issued it: data, or a discard that reads back as zeros.
struct ModelWrite {
  size_t volume = 0;
  wire::WriteKind kind = wire::WriteKind::kData;
  uint64_t offset = 0;
  uint64_t length = 0;
  std::string data;  // kData only
};

// The group's writes in sequence order: the images after any prefix 1..k of them.
class AsyncModel {
 public:
  uint64_t last() const { return writes_.size(); }
  // The write the master journaled under `sequence` (must be last() + 1).
  void Add(uint64_t sequence, ModelWrite write);
  // Forgets writes after `sequence` (a crash lost them before any fsync acknowledged them).
  void TruncateTo(uint64_t sequence);
  // Each volume's bytes after writes 1..sequence, on zeroed volumes.
  std::vector<std::string> ImagesAfter(uint64_t sequence) const;
  const ModelWrite& write(uint64_t sequence) const { return writes_.at(sequence - 1); }

 private:
  std::vector<ModelWrite> writes_;
};

// The first byte where two sites' images (or an image and the model) differ, as text; empty when
// identical.
std::string FirstDifference(const std::vector<std::string>& left,
                            const std::vector<std::string>& right);

// One site of the pair: the group's journal in `dir` and its volumes. The volumes outlive the
// group's incarnations: a crash is Close() then CrashImages() (unsynced image writes lost, as at
// a power loss in which the journal file's pages did reach the disk), then Open again.
class AsyncSite {
 public:
  // `journal_bytes`: the size the journal is created with.
  AsyncSite(std::string dir, bool master, uint64_t journal_bytes);
  // Opens (or with `create` makes) the group's journal; `send` is the master's link.
  Status Open(bool create,
              std::function<Result<wire::JournalAckMessage>(const wire::JournalBatchMessage&)>
                  send = nullptr);
  // Stops the group's thread and drops the group, its counters added to past().
  void Close();
  // Every image forgets what was not synced; faults armed on them are cleared.
  void CrashImages();
  // With the group closed: the journal file loses every entry after `durable` (their headers
  // zeroed, as when none of the pages written after the last sync reached the disk).
  void LoseJournalEntriesAfter(uint64_t durable);
  // Each volume's bytes (read through node::Volume).
  std::vector<std::string> Images() const;

  bool master() const { return master_; }
  node::AsyncGroup& group() { return *group_; }
  bool open() const { return group_ != nullptr; }
  node::Volume& volume(size_t index) { return *volumes_.at(index); }
  node::MemoryBlockFile& image(size_t index) { return *images_.at(index); }
  // Counters of every incarnation so far, the open one included.
  node::AsyncGroupCounters counters() const;

 private:
  std::string dir_;
  bool master_;
  uint64_t journal_bytes_;
  std::vector<std::shared_ptr<node::Volume>> volumes_;
  std::vector<node::MemoryBlockFile*> images_;  // owned by volumes_
  std::shared_ptr<node::AsyncGroup> group_;
  node::AsyncGroupCounters past_;
};

// Per-batch fault probabilities of the link.
struct LinkFaults {
  double drop_batch = 0;    // lost on the way: Unreachable, the peer saw nothing
  double drop_ack = 0;      // delivered, the ack lost: Unreachable
  double duplicate = 0;     // delivered twice
  double stale_before = 0;  // an older batch delivered again just before this one
  double stale_after = 0;   // ... just after, and its ack answers this send (acks reordered)
  double gap = 0;           // this batch without its first entries delivered first (a gap)
};

// What the link did and saw, summed over a run.
struct LinkStats {
  uint64_t sends = 0;
  uint64_t deliveries = 0;
  uint64_t dropped_batches = 0;
  uint64_t dropped_acks = 0;
  uint64_t duplicates = 0;
  uint64_t stale = 0;
  uint64_t gaps = 0;      // deliveries that skipped the restore side's next sequence
  uint64_t refusals = 0;  // acks with a code
  uint64_t no_space = 0;  // ... of them: the restore journal was full
  uint64_t partitioned = 0;
  uint64_t max_in_flight = 0;  // the most sends inside Send at once (the master's window)
};

class AsyncLink {
 public:
  explicit AsyncLink(uint64_t seed) : random_(seed) {}
  // The master's hooks.send: the batch through the faults to the attached restore group.
  Result<wire::JournalAckMessage> Send(const wire::JournalBatchMessage& batch);
  // The restore group batches reach (null: the site is down, every send is Unreachable).
  void Attach(node::AsyncGroup* restore);
  void SetFaults(const LinkFaults& faults);
  void SetPartitioned(bool partitioned);
  LinkStats stats() const;
  // The first broken rule seen at a delivery (a gap accepted, an unexpected refusal), or empty.
  std::string failure() const;

 private:
  bool ChanceLocked(double probability);
  // Encodes and decodes the batch (the wire's checks), hands it to Receive and checks the ack.
  wire::JournalAckMessage DeliverLocked(const wire::JournalBatchMessage& batch);
  const wire::JournalBatchMessage& OlderBatchLocked();

  mutable std::mutex mutex_;  // guards everything; held across Receive (Attach waits for it)
  std::atomic<uint64_t> sending_{0};  // Send calls in progress (counted before mutex_)
  std::mt19937_64 random_;
  LinkFaults faults_;
  bool partitioned_ = false;
  node::AsyncGroup* restore_ = nullptr;
  std::vector<wire::JournalBatchMessage> history_;  // recent batches with entries
  LinkStats stats_;
  std::string failure_;
};

}  // namespace pairfs::sim
