// The async replication simulation's runs (tests/sim/async_sim_run.h; what they check:
// tests/sim/async_sim_test.cc): the writer, the crashes of either site, the partitions and the
// invariants' checks around the product's node::AsyncGroup at both sites.
#include "tests/sim/async_sim_run.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "node/limits.h"

namespace pairfs::sim {
namespace {

using namespace std::chrono_literals;

constexpr int kConcurrentSeeds = 16;  // a run mostly waits on the group's threads
// The simulation's activity-log region: the writes' alignment, so a re-journaled range is small.
constexpr uint64_t kSimRegionBytes = 512;
// The product's kAsyncMarkMinBytes at the simulation's scale: writes of at least this much are
// marked (within the bound), smaller ones wait for their entry.
constexpr uint64_t kSimMarkMinBytes = 4096;

template <class Predicate>
bool WaitFor(Predicate done, std::chrono::milliseconds limit) {  // only to catch hangs
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return done();
}

class AsyncSimRun {
 public:
  AsyncSimRun(const AsyncSimOptions& options, const std::string& dir)
      : options_(options),
        random_(options.seed),
        link_(options.seed * 7919 + 1),
        // The smallest journals; on odd seeds the master's is twice the secondary's, whose
        // journal then fills and refuses batches before it applies them.
        master_(dir + "/a", true, node::kMinJournalBytes * (options.seed % 2 + 1)),
        restore_(dir + "/b", false, node::kMinJournalBytes) {}

  AsyncSimResult Run() {
    try {
      RunChecked();
    } catch (const std::exception& e) {
      result_.failure = e.what();
    }
    master_.Close();
    link_.Attach(nullptr);
    restore_.Close();
    result_.link = link_.stats();
    return result_;
  }

 private:
  void RunChecked() {
    ASYNC_SIM_ENSURE(restore_.Open(true).ok(), "the restore journal was not created");
    ASYNC_SIM_ENSURE(master_.Open(true, Sender()).ok(), "the master journal was not created");
    link_.Attach(&restore_.group());
    master_.group().Start();
    restore_.group().Start();
    LinkFaults faults;
    faults.drop_batch = Percent(25);
    faults.drop_ack = Percent(25);
    faults.duplicate = Percent(25);
    faults.stale_before = Percent(25);
    faults.stale_after = Percent(25);
    faults.gap = Percent(25);
    link_.SetFaults(faults);
    for (int op = 0; op < options_.operations; ++op) Step();
    HealAndCheck();
  }

  double Percent(int below) { return static_cast<double>(random_() % below) / 100.0; }

  std::function<Result<wire::JournalAckMessage>(const wire::JournalBatchMessage&)> Sender() {
    return [this](const wire::JournalBatchMessage& batch) { return link_.Send(batch); };
  }

  void Note(const std::string& what) {
    if (options_.trace) result_.trace += what + "\n";
  }

  void Step() {
    const uint64_t choice = random_() % 100;
    if (choice < 50) {
      Write(0);
    } else if (choice < 53) {
      Write(1);  // the master crashes after the append, before the image write
    } else if (choice < 55) {
      Write(2);  // ... after the image write, before ImageWritten
    } else if (choice < 62) {
      Fsync();
    } else if (choice < 68) {
      partitioned_ = !partitioned_;
      Note(partitioned_ ? "partition" : "heal the partition");
      link_.SetPartitioned(partitioned_);
    } else if (choice < 72) {
      CrashMaster(random_() % 2 == 0);
    } else if (choice < 78) {
      CrashRestore();
    } else if (choice < 86) {
      CheckSecondaryPrefix();
    } else if (choice < 90) {
      // A slow secondary: its restore journal fills and refuses batches (NoSpace) until it applies.
      restore_paused_ = !restore_paused_;
      Note(restore_paused_ ? "pause the secondary's restore thread" : "resume it");
      restore_paused_ ? restore_.group().Stop() : restore_.group().Start();
    } else {
      Note("time passes");
      std::this_thread::sleep_for(std::chrono::microseconds(random_() % 3000));
    }
  }

  // What the product's write path does (node/async_replicator.cc WriteJournaled): mark its
  // regions or not (finding F1: JournaledWriteProtection), append, wait for the entry to be
  // durable when not marked, write the image, ImageWritten; `crash_point` 1 or 2 crashes the
  // master between those steps.
  void Write(int crash_point) {
    ModelWrite write;
    write.volume = random_() % kAsyncVolumeCount;
    const uint64_t kind = random_() % 10;
    write.kind = kind == 0   ? wire::WriteKind::kPunchHole
                 : kind == 1 ? wire::WriteKind::kZeroRange
                             : wire::WriteKind::kData;
    write.length = (1 + random_() % 16) * 512;
    write.offset = (random_() % ((kAsyncVolumeBytes - write.length) / 512 + 1)) * 512;
    if (write.kind == wire::WriteKind::kData) {
      write.data.resize(write.length);
      for (char& c : write.data) c = static_cast<char>(random_());
    }
    const std::string volume = AsyncVolumeName(write.volume);
    const bool marked = options_.durable_before_image && MarkIfProduct(write);
    const node::JournalWrite journaled{volume,       write.kind, write.offset,
                                       write.length, write.data, 0};
    Result<uint64_t> sequence = master_.group().Append(journaled);
    if (!sequence.ok()) {
      ASYNC_SIM_ENSURE(sequence.status().code() == Code::kNoSpace,
                       "an append failed: " + sequence.status().message());
      Note("write refused: the master journal is full (PFUS)");
      ++result_.journal_full;
      return;
    }
    Note("write " + std::to_string(sequence.value()) + ": " + volume + " at " +
         std::to_string(write.offset) + ", " + std::to_string(write.length) + " bytes");
    ++result_.writes;
    model_.Add(sequence.value(), write);
    if (crash_point == 1) return CrashMaster(false);
    if (options_.durable_before_image && !marked) {
      Status durable = master_.group().WaitDurable(sequence.value());
      ASYNC_SIM_ENSURE(durable.ok(),
                       "a write's entry did not become durable: " + durable.message());
    }
    Status written =
        master_.volume(write.volume)
            .WriteRaw(write.kind, write.offset,
                      write.kind == wire::WriteKind::kData ? write.data.data() : nullptr,
                      write.length, false);
    ASYNC_SIM_ENSURE(written.ok(), "the master's image write failed: " + written.message());
    if (crash_point == 2) return CrashMaster(false);
    master_.group().ImageWritten(sequence.value());
  }

  void Fsync() {
    if (model_.last() == 0) return;
    Status durable = master_.group().WaitDurable(model_.last());
    ASYNC_SIM_ENSURE(durable.ok(), "an fsync failed: " + durable.message());
    // The trim: every write issued so far has a durable entry (the writer is this thread).
    if (!suspended_) marked_.clear();
    acknowledged_ = model_.last();
    ++result_.acknowledged;
    Note("fsync acknowledged through " + std::to_string(acknowledged_));
  }

  // kill -9 of the master (with its images' unsynced writes lost), optionally while a checkpoint
  // fails to flush one image; then the restart: open the journal, replay it, check invariant 2.
  void CrashMaster(bool during_checkpoint) {
    ++result_.master_crashes;
    Note(std::string("crash the master") + (during_checkpoint ? " during a checkpoint" : ""));
    if (during_checkpoint) {
      master_.image(random_() % kAsyncVolumeCount).FailSyncs(EIO);
      std::this_thread::sleep_for(std::chrono::microseconds(random_() % 2000));
    }
    // With journal_power_loss, half the crashes lose what the journal had not synced.
    const bool power_loss = random_() % 2 == 0 && options_.journal_power_loss;
    master_.group().Stop();  // the transfer thread syncs the journal: read what is durable after
    const uint64_t durable = master_.group().journal().durable_sequence();
    master_.Close();
    master_.CrashImages();
    if (power_loss) {
      Note("the master's journal loses what follows " + std::to_string(durable));
      master_.LoseJournalEntriesAfter(durable);
    }
    Status opened = master_.Open(false, Sender());
    ASYNC_SIM_ENSURE(opened.ok(), "the master journal did not open: " + opened.message());
    const uint64_t recovered = master_.group().journal().last_sequence();
    ASYNC_SIM_ENSURE(recovered >= acknowledged_,
                     "invariant 2: the master journal recovered through " +
                         std::to_string(recovered) + ", an fsync acknowledged " +
                         std::to_string(acknowledged_));
    ASYNC_SIM_ENSURE(recovered <= model_.last(), "the master journal holds unknown entries");
    model_.TruncateTo(recovered);
    if (!options_.skip_replay) {
      Status replayed = master_.group().ReplayIntoImages();
      ASYNC_SIM_ENSURE(replayed.ok(), "the master's replay failed: " + replayed.message());
    }
    // Outside the marked ranges the images are exactly what the journal holds; inside them they
    // may hold a write whose entry the power loss took (finding F1), journaled again next.
    const std::string differs =
        FirstDifference(Masked(master_.Images()), Masked(model_.ImagesAfter(recovered)));
    ASYNC_SIM_ENSURE(differs.empty(),
                     "invariant 2: after the master's restart, its images are "
                     "not the writes 1.." +
                         std::to_string(recovered) + " its journal holds: " + differs);
    if (suspended_) {
      master_.group().Suspend();  // durable PFUS (the product derives it from the pairs' status)
    } else if (options_.durable_before_image) {
      Rejournal(false);
    }
    if (!suspended_) {
      const std::string now = FirstDifference(master_.Images(), model_.ImagesAfter(model_.last()));
      ASYNC_SIM_ENSURE(now.empty(),
                       "invariant 2: after the master's restart and re-journaling, its images are "
                       "not the writes 1.." +
                           std::to_string(model_.last()) + ": " + now);
    }
    master_.group().Start();
  }

  // ---- the activity log of finding F1 (the product: node/activity_log.h, async_resync.cc) ----

  // The product's JournaledWriteProtection: hot (every region marked), or a large write's
  // regions marked while the marks stay within 1/kAsyncMarkedJournalShare of the ring; true when
  // marked (the image write need not wait for the entry).
  bool MarkIfProduct(const ModelWrite& write) {
    std::set<std::pair<size_t, uint64_t>> regions;
    for (uint64_t at = write.offset / kSimRegionBytes;
         at * kSimRegionBytes < write.offset + write.length; ++at)
      regions.insert({write.volume, at * kSimRegionBytes});
    bool hot = true;
    for (const auto& region : regions) hot = hot && marked_.count(region) != 0;
    if (hot) return true;
    if (write.length < kSimMarkMinBytes) return false;
    if ((marked_.size() + regions.size()) * kSimRegionBytes >
        master_.group().journal().capacity_bytes() / node::kAsyncMarkedJournalShare)
      return false;
    Mark(write.volume, write.offset, write.length);
    return true;
  }

  void Mark(size_t volume, uint64_t offset, uint64_t length) {
    for (uint64_t at = offset / kSimRegionBytes; at * kSimRegionBytes < offset + length; ++at)
      marked_.insert({volume, at * kSimRegionBytes});
  }

  // `images` with every marked range zeroed (for a comparison that skips them).
  std::vector<std::string> Masked(std::vector<std::string> images) const {
    for (const auto& [volume, offset] : marked_)
      std::fill_n(images[volume].begin() + static_cast<std::ptrdiff_t>(offset), kSimRegionBytes,
                  '\0');
    return images;
  }

  // The marked ranges' current contents journaled as batches (the product's AppendBatch; the
  // model gets them as writes). At a restart: one batch, or the group suspended when it does not
  // fit. At the heal (`resync`, the link up): batches of what fits, each drained before the next.
  void Rejournal(bool resync) {
    const uint64_t entry_bytes = node::JournalEntryBytes(kSimRegionBytes);
    // The ring a whole batch must fit: the smaller of the two (the product learns the peer's
    // from its acks; the odd seeds' rings differ, so the run gives it the restore journal's).
    const uint64_t capacity = std::min(master_.group().resync_capacity_bytes(),
                                       restore_.open() ? restore_.group().journal().capacity_bytes()
                                                       : master_.group().resync_capacity_bytes());
    if (!resync) {
      // A range the replay wrote whole is what the journal holds (the product's ReplayCovered):
      // not journaled again; invariant 2's full comparison below checks that rule.
      for (auto it = marked_.begin(); it != marked_.end();) {
        const bool covered =
            master_.group().ReplayCovered(AsyncVolumeName(it->first), it->second, kSimRegionBytes);
        it = covered ? marked_.erase(it) : std::next(it);
      }
      master_.group().ForgetReplayed();
    }
    while (!marked_.empty()) {
      const std::vector<std::string> images = master_.Images();
      std::vector<std::string> names;
      std::vector<ModelWrite> writes;
      std::vector<node::JournalWrite> batch;
      uint64_t bytes = 0;
      for (const auto& [volume, offset] : marked_) {
        // At the heal (the resync): batches of what fits, each applied before the next.
        if (resync && !writes.empty() &&
            !node::AsyncResyncFits(bytes + entry_bytes, capacity, master_.group().free_bytes(),
                                   entry_bytes))
          break;
        ModelWrite write{volume, wire::WriteKind::kData, offset, kSimRegionBytes,
                         images[volume].substr(offset, kSimRegionBytes)};
        writes.push_back(std::move(write));
        bytes += node::JournalEntryBytes(kSimRegionBytes);
      }
      if (!resync &&
          !node::AsyncResyncFits(bytes, capacity, master_.group().free_bytes(), entry_bytes)) {
        Note("the marked regions do not fit the journal: the group is suspended (PFUS)");
        master_.group().Suspend();
        suspended_ = true;
        return;
      }
      for (const ModelWrite& write : writes) names.push_back(AsyncVolumeName(write.volume));
      for (size_t i = 0; i < writes.size(); ++i)
        batch.push_back(
            {names[i], writes[i].kind, writes[i].offset, writes[i].length, writes[i].data, 0});
      Result<uint64_t> last = master_.group().AppendBatch(batch);
      if (!last.ok()) {
        ASYNC_SIM_ENSURE(last.status().code() == Code::kNoSpace && !resync,
                         "re-journaling the marked regions failed: " + last.status().message());
        Note("the marked regions do not fit the journal: the group is suspended (PFUS)");
        master_.group().Suspend();
        suspended_ = true;
        return;
      }
      ASYNC_SIM_ENSURE(last.value() == model_.last() + writes.size(),
                       "the batch did not take the next sequences");
      Note("re-journaled " + std::to_string(writes.size()) + " marked regions through " +
           std::to_string(last.value()));
      for (size_t i = 0; i < writes.size(); ++i) {
        marked_.erase({writes[i].volume, writes[i].offset});
        model_.Add(model_.last() + 1, std::move(writes[i]));
      }
      acknowledged_ = model_.last();  // AppendBatch returns once the batch is durable
      if (!resync) return;
      const bool drained = master_.group().WaitPeerApplied(model_.last(), 20000).ok();
      ASYNC_SIM_ENSURE(drained, "invariant 3: a resync batch was not applied after the heal");
      ASYNC_SIM_ENSURE(master_.group().CheckpointAndFree().ok(), "the checkpoint failed");
    }
  }

  // kill -9 of the secondary, optionally while its restore thread fails to write or flush an image
  // (a crash in the middle of applying); then the restart.
  void CrashRestore() {
    ++result_.restore_crashes;
    const uint64_t mode = random_() % 3;
    Note("crash the secondary" + std::string(mode == 1   ? " while applying"
                                             : mode == 2 ? " while flushing"
                                                         : ""));
    node::MemoryBlockFile& image = restore_.image(random_() % kAsyncVolumeCount);
    if (mode == 1) image.FailWrites(EIO, random_() % 4);
    if (mode == 2) image.FailSyncs(EIO);
    if (mode != 0) std::this_thread::sleep_for(std::chrono::microseconds(random_() % 2000));
    link_.Attach(nullptr);
    restore_.Close();
    restore_.CrashImages();
    Status opened = restore_.Open(false);
    ASYNC_SIM_ENSURE(opened.ok(), "the restore journal did not open: " + opened.message());
    link_.Attach(&restore_.group());
    // The restart applies what the journal holds (one pass) even when the sim pauses it next.
    restore_.group().Start();
    if (restore_paused_) restore_.group().Stop();
  }

  // Invariant 1, between two passes of the restore thread (a pass always runs after a start).
  void CheckSecondaryPrefix() {
    ++result_.prefix_checks;
    restore_.group().Stop();
    const uint64_t applied = restore_.group().journal().applied_sequence();
    Note("the secondary applied through " + std::to_string(applied));
    ASYNC_SIM_ENSURE(applied <= model_.last(), "the secondary applied more than was written");
    const std::string differs = FirstDifference(restore_.Images(), model_.ImagesAfter(applied));
    ASYNC_SIM_ENSURE(differs.empty(), "invariant 1: the secondary is not the prefix 1.." +
                                          std::to_string(applied) + ": " + differs);
    if (!restore_paused_) restore_.group().Start();
  }

  void HealAndCheck() {
    Note("heal everything and drain");
    link_.SetFaults(LinkFaults{});
    link_.SetPartitioned(false);
    restore_.group().Start();
    // Restarting the transfer thread ships at once instead of after its retry wait.
    master_.group().Stop();
    master_.group().Start();
    if (suspended_) {
      // The way back from PFUS: the journal drained and freed, the marked regions resynced
      // through it, the group resumed.
      Note("resync the suspended group");
      ASYNC_SIM_ENSURE(master_.group().WaitPeerApplied(model_.last(), 20000).ok(),
                       "invariant 3: the journal did not drain after the heal");
      ASYNC_SIM_ENSURE(master_.group().CheckpointAndFree().ok(), "the checkpoint failed");
      Rejournal(true);
      suspended_ = false;
      master_.group().Resume();
    }
    const uint64_t last = model_.last();
    const bool drained = WaitFor(
        [&] {
          return master_.group().Progress().applied_sequence >= last &&
                 restore_.group().journal().applied_sequence() >= last;
        },
        20000ms);
    ASYNC_SIM_ENSURE(drained, "invariant 3: not drained after the heal: the master saw " +
                                  std::to_string(master_.group().Progress().applied_sequence) +
                                  " applied, the secondary applied " +
                                  std::to_string(restore_.group().journal().applied_sequence()) +
                                  " of " + std::to_string(last));
    restore_.group().Stop();
    ASYNC_SIM_ENSURE(restore_.group().journal().applied_sequence() == last,
                     "invariant 3: the secondary applied past the last write");
    const std::vector<std::string> expected = model_.ImagesAfter(last);
    std::string differs = FirstDifference(master_.Images(), expected);
    ASYNC_SIM_ENSURE(differs.empty(), "invariant 3: the master's images: " + differs);
    differs = FirstDifference(restore_.Images(), expected);
    ASYNC_SIM_ENSURE(differs.empty(), "invariant 3: the secondary's images: " + differs);
    ASYNC_SIM_ENSURE(link_.failure().empty(), link_.failure());
    const LinkStats stats = link_.stats();
    ASYNC_SIM_ENSURE(restore_.counters().batches_refused == stats.refusals,
                     "invariant 4: the secondary counted " +
                         std::to_string(restore_.counters().batches_refused) +
                         " refused batches, the link saw " + std::to_string(stats.refusals));
  }

  const AsyncSimOptions options_;
  std::mt19937_64 random_;
  AsyncLink link_;
  AsyncSite master_;
  AsyncSite restore_;
  AsyncModel model_;
  uint64_t acknowledged_ = 0;
  bool partitioned_ = false;
  bool restore_paused_ = false;
  // The activity log (durable: it survives the master's crashes) and the group's suspension.
  std::set<std::pair<size_t, uint64_t>> marked_;
  bool suspended_ = false;
  AsyncSimResult result_;
};

}  // namespace

AsyncSimResult RunAsyncSim(const AsyncSimOptions& options, const std::string& dir) {
  return AsyncSimRun(options, dir).Run();
}

AsyncSweep RunSeeds(uint64_t first, uint64_t count, AsyncSimOptions base) {
  std::string root = std::filesystem::exists("/dev/shm")
                         ? "/dev/shm"
                         : std::filesystem::temp_directory_path().string();
  root += "/pairfs-async-sim." + std::to_string(::getpid());
  std::mutex mutex;  // guards next, sweep and caught
  uint64_t next = first;
  AsyncSweep sweep;
  bool caught = false;  // a failure has base.stop_at_failure_with
  std::vector<std::thread> runners;
  for (int i = 0; i < kConcurrentSeeds; ++i) {
    runners.emplace_back([&] {
      for (;;) {
        AsyncSimOptions options = base;
        {
          std::lock_guard<std::mutex> lock(mutex);
          if (next >= first + count) return;
          if (caught) return;
          options.seed = next++;
        }
        const std::string dir = root + "/" + std::to_string(options.seed);
        AsyncSimResult result = RunAsyncSim(options, dir);
        std::filesystem::remove_all(dir);
        std::lock_guard<std::mutex> lock(mutex);
        if (!result.failure.empty()) {
          sweep.failures[options.seed] =
              result.failure + (result.trace.empty() ? "" : "\n") + result.trace;
          caught = caught || (!base.stop_at_failure_with.empty() &&
                              result.failure.find(base.stop_at_failure_with) != std::string::npos);
        }
        AsyncSimResult& totals = sweep.totals;
        totals.writes += result.writes;
        totals.acknowledged += result.acknowledged;
        totals.journal_full += result.journal_full;
        totals.master_crashes += result.master_crashes;
        totals.restore_crashes += result.restore_crashes;
        totals.prefix_checks += result.prefix_checks;
        totals.link.gaps += result.link.gaps;
        totals.link.stale += result.link.stale;
        totals.link.duplicates += result.link.duplicates;
        totals.link.dropped_batches += result.link.dropped_batches;
        totals.link.dropped_acks += result.link.dropped_acks;
        totals.link.no_space += result.link.no_space;
        totals.link.partitioned += result.link.partitioned;
        totals.link.max_in_flight = std::max(totals.link.max_in_flight, result.link.max_in_flight);
      }
    });
  }
  for (std::thread& runner : runners) runner.join();
  std::filesystem::remove_all(root);
  return sweep;
}

}  // namespace pairfs::sim
