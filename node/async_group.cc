// AsyncGroup: opening the group's journal, the master's appends and the restore side's receipt of
// a batch, and what display shows. The threads: async_transfer.cc (master), async_restore.cc.
#include "node/async_group.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "node/journal_format.h"
#include "node/limits.h"
#include "node/time_source.h"

namespace pairfs::node {

const TimeSource& AsyncGroup::Clock() const { return ClockOrSteady(hooks_.clock); }

int64_t AsyncGroup::NowMs() const { return Clock().NowMs(); }

Result<std::shared_ptr<AsyncGroup>> AsyncGroup::Open(const std::string& dir,
                                                     const std::string& group, bool master,
                                                     bool create, uint64_t size_bytes,
                                                     AsyncGroupHooks hooks) {
  const std::string path = dir + "/" + group + ".journal";
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    if (!create) return Status::NotFound("the journal of group " + group + " is missing: " + path);
    JournalSetup setup;
    setup.group = group;
    setup.role = master ? JournalRole::kMaster : JournalRole::kRestore;
    Status made = Journal::CreateFile(path, size_bytes, setup);
    if (!made.ok()) return made;
    spdlog::info("group {}: {} journal created ({} bytes)", group, master ? "master" : "restore",
                 size_bytes);
  }
  Result<std::unique_ptr<Journal>> journal = Journal::OpenFile(path, group);
  if (!journal.ok()) return journal.status();
  const JournalRole want = master ? JournalRole::kMaster : JournalRole::kRestore;
  if (journal.value()->role() != want) {
    return Status::InvalidArgument("the journal of group " + group + " here is a " +
                                   (master ? "restore" : "master") +
                                   " journal: the group's pairs have one primary site");
  }
  if (journal.value()->recovery().lost_durable_entries()) {
    spdlog::error("group {}: the journal lost durable entries ({}): the copies may differ", group,
                  journal.value()->recovery().end_reason);
  }
  return std::shared_ptr<AsyncGroup>(
      new AsyncGroup(group, master, std::move(journal.value()), std::move(hooks)));
}

AsyncGroup::AsyncGroup(std::string group, bool master, std::unique_ptr<Journal> journal,
                       AsyncGroupHooks hooks)
    : group_(std::move(group)),
      master_(master),
      journal_(std::move(journal)),
      hooks_(std::move(hooks)) {
  next_send_ = journal_->first_sequence();
}

AsyncGroup::~AsyncGroup() { Stop(); }

void AsyncGroup::Start() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  const ThreadStarter& threads = ThreadsOrPlain(hooks_.threads);
  auto start = [&](const char* name, std::function<void()> body) {
    return threads.Start(name, [this, body = std::move(body)] {
      YieldToWriters();
      body();
    });
  };
  thread_ = start(master_ ? "journal-send" : "journal-restore",
                  [this] { master_ ? RunTransfer(0) : RunRestore(); });
  for (int lane = 1; master_ && lane < kAsyncBatchesInFlight; ++lane)
    lanes_.push_back(start("journal-send", [this, lane] { RunTransfer(lane); }));
  if (master_ && !filler_.joinable()) filler_ = start("journal-fill", [this] { RunFill(); });
}

void AsyncGroup::YieldToWriters() {
  // The group's own threads run at a lower priority (nice kAsyncThreadNice) than the mount's
  // writers: on a host short of CPU, the application's writes go first and the transfer, the
  // restore and the fill catch up when it idles (the journal holds what they owe; past its
  // high-water mark the writers are paced, which gives them the CPU back). A refusal (no
  // CAP_SYS_NICE is needed to lower one's own priority) changes nothing.
  if (hooks_.nice != 0)
    (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), hooks_.nice);
}

void AsyncGroup::RunFill() {
  for (;;) {
    Result<uint64_t> left = journal_->FillAhead(kJournalFillAheadStepBytes, kJournalFillLeadBytes);
    if (!left.ok()) {
      spdlog::warn(
          "group {}: the journal's first lap is not filled ahead ({}): appends there "
          "allocate as they go",
          group_, left.status().message());
      return;
    }
    if (left.value() == 0) return;
    std::unique_lock<std::mutex> lock(mutex_);
    if (WaitFor(paused_, lock, kJournalFillAheadPauseMs, [&] { return stopping_; })) return;
  }
}

void AsyncGroup::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  paused_.notify_all();
  received_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  if (filler_.joinable()) filler_.join();
  for (std::thread& lane : lanes_) {
    if (!lane.joinable()) continue;
    if (lane.get_id() == std::this_thread::get_id()) {
      lane.detach();  // Stop from a lane itself: it returns once it sees stopping_
    } else {
      lane.join();
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  lanes_.clear();
}

bool AsyncGroup::WaitForWork(int ms) {
  std::unique_lock<std::mutex> lock(mutex_);
  WaitFor(wake_, lock, ms, [&] { return stopping_ || work_; });
  work_ = false;
  return stopping_;
}

Result<uint64_t> AsyncGroup::Append(const JournalWrite& write) {
  Journal::Placement placement;
  {
    // Placed and counted under the lock, so that a checkpoint never sees a sequence placed and
    // not yet counted as missing from the image; written outside it, beside the other writers'
    // entries (with the write under the lock, qd32 writers took turns at the disk: issue 13).
    std::lock_guard<std::mutex> lock(mutex_);
    if (suspended_)
      return Status::NoSpace("the journal of group " + group_ + " filled: the group is suspended");
    Result<Journal::Placement> reserved = journal_->ReserveAppend(write);
    if (!reserved.ok()) {
      // Full: suspended at once, under the lock, so no later write of the group is journaled.
      if (reserved.status().code() == Code::kNoSpace) suspended_ = true;
      return reserved.status();
    }
    placement = reserved.value();
    in_image_pending_.insert(placement.sequence);
    not_applied_.push_back({placement.sequence, NowMs(), write.data.size()});
    not_applied_bytes_ += write.data.size();
  }
  Status written = journal_->WriteAppended(placement, write);
  if (!written.ok()) {
    ImageWritten(placement.sequence);  // never written to the image: the journal is failed
    return written;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    work_ = true;
  }
  wake_.notify_all();
  return placement.sequence;
}

bool AsyncGroup::Suspend() {
  std::lock_guard<std::mutex> lock(mutex_);
  const bool first = !suspended_;
  suspended_ = true;
  return first;
}

bool AsyncGroup::suspended() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return suspended_;
}

void AsyncGroup::ImageWritten(uint64_t sequence) {
  std::lock_guard<std::mutex> lock(mutex_);
  in_image_pending_.erase(sequence);
}

Status AsyncGroup::ReplayIntoImages() {
  uint64_t from = journal_->first_sequence();
  uint64_t last = from - 1;
  std::vector<uint64_t> data_bytes;  // of each entry replayed: the lag display counts them
  for (;;) {
    Result<std::vector<JournalEntry>> entries = journal_->Read(from, kAsyncRestoreReadBytes);
    if (!entries.ok()) return entries.status();
    if (entries->empty()) break;
    for (const JournalEntry& entry : entries.value()) {
      data_bytes.push_back(entry.data.size());
      RecordReplayed(entry.volume, entry.offset, entry.length);
    }
    last = entries->back().sequence;
    Status applied = ApplyEntries(entries.value(), last, true);
    if (!applied.ok()) return applied;
    from = last + 1;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  checkpoint_sequence_ = std::max(checkpoint_sequence_, last);
  const int64_t now = NowMs();
  for (uint64_t sequence = journal_->first_sequence(); sequence <= last; ++sequence) {
    const uint64_t index = sequence - journal_->first_sequence();
    const uint64_t bytes = index < data_bytes.size() ? data_bytes[index] : 0;
    not_applied_.push_back({sequence, now, bytes});
    not_applied_bytes_ += bytes;
  }
  if (last >= journal_->first_sequence()) {
    spdlog::info("group {}: replayed entries {}..{} of the master journal into the images", group_,
                 journal_->first_sequence(), last);
  }
  return Status::Ok();
}

Status AsyncGroup::CheckApplicable(const wire::JournalEntryMessage& entry) const {
  std::shared_ptr<Volume> volume = hooks_.volume_of(entry.volume);
  if (!volume) {
    return Status::InvalidArgument("entry " + std::to_string(entry.sequence) + " names volume " +
                                   entry.volume + ", which is in no pair of group " + group_ +
                                   " here");
  }
  if (entry.offset >= volume->size_bytes() || entry.length > volume->size_bytes() - entry.offset) {
    return Status::InvalidArgument("entry " + std::to_string(entry.sequence) +
                                   " is past the end of volume " + volume->name());
  }
  return Status::Ok();
}

wire::JournalAckMessage AsyncGroup::Receive(const wire::JournalBatchMessage& batch,
                                            int reorder_wait_ms) {
  std::unique_lock<std::mutex> one_batch(receive_mutex_);
  if (reorder_wait_ms > 0 && !batch.entries.empty()) {
    // The master's window: the batch ahead of this one may be in another worker still.
    WaitFor(received_, one_batch, reorder_wait_ms, [&] {
      return batch.entries.front().sequence <= journal_->next_sequence() ||
             !journal_->health().ok();
    });
  }
  wire::JournalAckMessage ack;
  ack.group = group_;
  // An entry the restore thread could not apply would stop the group for good: refused before
  // it is stored (a volume of no pair of this group here, a range past that volume's end), with
  // the entries before it stored.
  std::vector<ReceivedEntry> entries;
  entries.reserve(batch.entries.size());
  Status refused;
  for (const wire::JournalEntryMessage& entry : batch.entries) {
    refused = CheckApplicable(entry);
    if (!refused.ok()) break;
    JournalWrite write;
    write.volume = entry.volume;
    write.kind = static_cast<wire::WriteKind>(entry.kind);
    write.offset = entry.offset;
    write.length = entry.length;
    write.data = std::string_view(entry.data.data(), entry.data.size());
    write.flags = entry.flags;
    entries.push_back(ReceivedEntry{entry.sequence, write, entry.data_checksum});
  }
  bool stored = false;
  Status appended = journal_->AppendReceivedRun(entries, &stored);
  if (!appended.ok()) refused = appended;
  if (!refused.ok()) {
    ack.code = static_cast<uint8_t>(refused.code());
    ack.message = refused.message();
    std::lock_guard<std::mutex> lock(mutex_);
    ++counters_.batches_refused;
  }
  // The sync outside the lock: the next batch of the master's window is appended meanwhile and
  // shares the sync (group commit) instead of waiting for this one's.
  one_batch.unlock();
  if (stored) received_.notify_all();
  if (!batch.entries.empty()) {
    // Also when nothing was stored: a duplicate of entries another worker appended is
    // acknowledged once they are durable, not as a step back.
    Status synced = journal_->Sync();
    if (!synced.ok() && ack.code == 0) {
      ack.code = static_cast<uint8_t>(synced.code());
      ack.message = synced.message();
    }
  }
  // Everything appended is durable after a successful Sync (or was before: nothing stored).
  ack.durable_sequence = journal_->health().ok() ? journal_->durable_sequence() : 0;
  ack.applied_sequence = std::min(journal_->applied_sequence(), ack.durable_sequence);
  ack.capacity_bytes = journal_->capacity_bytes();
  if (stored) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      work_ = true;
    }
    wake_.notify_all();
  }
  return ack;
}

AsyncGroupProgress AsyncGroup::Progress() const {
  AsyncGroupProgress progress;
  progress.used_bytes = journal_->used_bytes();
  progress.size_bytes = journal_->size_bytes();
  if (!master_) {
    progress.sent_sequence = journal_->durable_sequence();
    progress.applied_sequence = journal_->applied_sequence();
    return progress;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  progress.sent_sequence = peer_durable_;
  progress.applied_sequence = peer_applied_;
  progress.lag_bytes = not_applied_bytes_;
  for (const Pending& pending : not_applied_) {
    if (pending.sequence <= peer_durable_) continue;
    progress.lag_ms = static_cast<uint64_t>(std::max<int64_t>(0, NowMs() - pending.appended_ms));
    break;
  }
  return progress;
}

AsyncGroupCounters AsyncGroup::counters() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counters_;
}

}  // namespace pairfs::node

// ---- master: resync (issue 13 part 4; the replicator's side is node/async_resync.cc) ----------

namespace pairfs::node {

Result<uint64_t> AsyncGroup::AppendBatch(const std::vector<JournalWrite>& writes) {
  if (writes.empty()) return Status::InvalidArgument("an empty resync batch");
  uint64_t bytes = 0;
  uint64_t data_bytes = 0;
  uint64_t largest = 0;
  for (const JournalWrite& write : writes) {
    bytes += JournalEntryBytes(write.data.size());
    data_bytes += write.data.size();
    largest = std::max<uint64_t>(largest, JournalEntryBytes(write.data.size()));
  }
  uint64_t last = 0;
  {
    // Held across every append: no write of another pair of the group falls inside the batch.
    std::lock_guard<std::mutex> lock(mutex_);
    // Slack of the batch's largest entry: a wrap gap at the ring's end costs less than that.
    if (bytes + largest > FreeBytesLocked()) {
      return Status::NoSpace("the resync batch of group " + group_ + " (" + std::to_string(bytes) +
                             " bytes) does not fit the journal's free space");
    }
    const int64_t now = NowMs();
    for (size_t i = 0; i < writes.size(); ++i) {
      JournalWrite write = writes[i];
      write.flags = 0;
      if (i == 0) write.flags |= kJournalBatchBegin;
      if (i + 1 == writes.size()) write.flags |= kJournalBatchEnd;
      Result<uint64_t> appended = journal_->Append(write);
      if (!appended.ok()) return appended.status();  // mid-batch only with a failed (sticky) file
      last = appended.value();
      // Already in the images (they are what was read): nothing to wait for before a checkpoint.
      not_applied_.push_back({last, now, write.data.size()});
    }
    not_applied_bytes_ += data_bytes;
    work_ = true;
  }
  wake_.notify_all();
  Status durable = journal_->WaitDurable(last);
  if (!durable.ok()) return durable;
  return last;
}

void AsyncGroup::Resume() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (suspended_) spdlog::info("group {}: resynced, journaling again", group_);
  suspended_ = false;
}

Status AsyncGroup::WaitPeerApplied(uint64_t sequence, int timeout_ms) {
  const int64_t deadline = NowMs() + timeout_ms;  // on the group's clock, as its pauses
  for (;;) {
    uint64_t applied = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      applied = peer_applied_;
      if (applied >= sequence || stopping_) break;
      work_ = true;  // the transfer thread asks the peer again at once
    }
    wake_.notify_all();
    if (NowMs() >= deadline) {
      return Status::Unreachable("the secondary of group " + group_ + " applied entries through " +
                                 std::to_string(applied) + ", not yet through " +
                                 std::to_string(sequence));
    }
    Clock().Pause(kAsyncIdleWaitMs);
  }
  return Status::Ok();
}

void AsyncGroup::RecordReplayed(const std::string& volume, uint64_t offset, uint64_t length) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (length == 0 || replayed_ranges_ >= kMaxReplayCoverRanges) return;
  std::map<uint64_t, uint64_t>& ranges = replayed_[volume];
  uint64_t start = offset;
  uint64_t end = offset + length;
  auto it = ranges.upper_bound(start);
  if (it != ranges.begin() && std::prev(it)->second >= start) {
    --it;
    start = it->first;
    end = std::max(end, it->second);
    it = ranges.erase(it);
    --replayed_ranges_;
  }
  while (it != ranges.end() && it->first <= end) {
    end = std::max(end, it->second);
    it = ranges.erase(it);
    --replayed_ranges_;
  }
  ranges[start] = end;
  ++replayed_ranges_;
}

bool AsyncGroup::ReplayCovered(const std::string& volume, uint64_t offset, uint64_t length) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = replayed_.find(volume);
  if (found == replayed_.end()) return false;
  auto it = found->second.upper_bound(offset);
  if (it == found->second.begin()) return false;
  --it;
  return it->second >= offset + length;
}

void AsyncGroup::ForgetReplayed() {
  std::lock_guard<std::mutex> lock(mutex_);
  replayed_.clear();
  replayed_ranges_ = 0;
}

uint64_t AsyncGroup::resync_capacity_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  const uint64_t own = journal_->capacity_bytes();
  return peer_capacity_ == 0 ? own : std::min(own, peer_capacity_);
}

uint64_t AsyncGroup::free_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return FreeBytesLocked();
}

uint64_t AsyncGroup::FreeBytesLocked() const {
  const uint64_t used = journal_->used_bytes();
  const uint64_t capacity = journal_->capacity_bytes();
  return used >= capacity ? 0 : capacity - used;
}

}  // namespace pairfs::node
