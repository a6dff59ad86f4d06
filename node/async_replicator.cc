// The replicator's side of async pairs (doc/design.md "Async pairs"): pairs joined to their
// consistency group's journal (node/async_group.h), the primary's journaled writes and fsyncs in
// PAIR and PFUL (no round trip: the journal is the write-ahead log), PFUL pacing and PFUS when the
// journal is full, the journal batches served at the secondary, and the async columns of display.
// In COPY an async pair replicates as a sync pair does (the initial copy); from PAIR on its writes
// go through the journal.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "node/activity_log.h"
#include "node/async_group.h"
#include "node/async_pairs.h"
#include "node/limits.h"
#include "node/replicator.h"
#include "node/replicator_internal.h"
#include "wire/journal_messages.h"
#include "wire/peer_messages.h"

namespace pairfs::node {

using namespace replicator_internal;
using wire::MessageType;

namespace {

// The group a volume's pair belongs to: the one it was created with, else its own name.
std::string GroupNameOf(const VolumeMetadata& metadata) {
  return metadata.group.empty() ? metadata.name : metadata.group;
}

// DATA_DIR/journals, made with the data directory's permissions (only the daemon's user).
Status MakeJournalDir(const std::string& dir) {
  struct stat info {};
  if (::stat(dir.c_str(), &info) == 0) return Status::Ok();
  mode_t mode = 0700;
  const std::string parent = dir.substr(0, dir.find_last_of('/'));
  if (!parent.empty() && ::stat(parent.c_str(), &info) == 0) mode = info.st_mode & 07777;
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    return Status::IoError("cannot make the journal directory " + dir, errno);
  }
  return Status::Ok();
}

}  // namespace

AsyncPairs::AsyncPairs(Replicator& replicator)
    : replicator_(replicator), store_(replicator.store_), options_(replicator.options_) {}

std::shared_ptr<AsyncGroup> AsyncPairs::FindGroup(const std::string& group) const {
  std::lock_guard<std::mutex> lock(groups_mutex_);
  auto it = groups_.find(group);
  return it == groups_.end() ? nullptr : it->second;
}

Result<std::shared_ptr<AsyncGroup>> AsyncPairs::OpenGroup(const std::string& group, bool master,
                                                          bool create) {
  std::lock_guard<std::mutex> lock(groups_mutex_);
  auto it = groups_.find(group);
  if (it != groups_.end()) {
    if (it->second->master() != master) {
      return Status::InvalidArgument(
          "group " + group + " has its " + (it->second->master() ? "primary" : "secondary") +
          " copies at this site: all pairs of a group have one primary site");
    }
    return it->second;
  }
  if (options_.journal_dir.empty())
    return Status::InvalidArgument("no journal directory is configured for async pairs");
  Status dir = MakeJournalDir(options_.journal_dir);
  if (!dir.ok()) return dir;
  AsyncGroupHooks hooks;
  hooks.clock = options_.clock;
  hooks.threads = options_.threads;
  hooks.pace_ms = kAsyncSmallPassMs;
  hooks.nice = kAsyncThreadNice;
  hooks.send =
      [this](const wire::JournalBatchMessage& unstamped) -> Result<wire::JournalAckMessage> {
    wire::JournalBatchMessage batch = unstamped;  // asyncswap: generation and RPO fields
    if (std::shared_ptr<AsyncGroup> group = FindGroup(batch.group)) StampBatch(*group, &batch);
    Result<std::string> body = SendJournalBatch(wire::EncodeBody(batch));
    if (!body.ok()) return body.status();
    wire::JournalAckMessage ack;
    Status decoded = wire::DecodePeerMessage(body.value(), &ack);
    if (decoded.ok() && ack.group != batch.group)
      decoded = Status::InvalidArgument("group names another group");
    if (!decoded.ok()) {
      replicator_.CountRefusal(MessageType::kJournalAck, decoded);
      return Status::Corruption("the peer's journal ack: " + decoded.message());
    }
    return ack;
  };
  hooks.volume_of = [this, group, master](const std::string& entry_volume) {
    return VolumeOfEntry(group, master, entry_volume);
  };
  hooks.volumes = [this, group] { return GroupVolumes(group); };
  Result<std::shared_ptr<AsyncGroup>> opened = AsyncGroup::Open(
      options_.journal_dir, group, master, create, options_.journal_size_bytes, std::move(hooks));
  if (!opened.ok()) return opened.status();
  groups_[group] = opened.value();
  return opened.value();
}

std::shared_ptr<AsyncGroup> AsyncPairs::JoinedGroup(const Pair& pair) const {
  std::lock_guard<std::mutex> lock(groups_mutex_);
  return pair.async_group;
}

Status AsyncPairs::AttachAsync(Pair& pair, bool create) {
  const Pair::View view = pair.Snapshot();
  if (view.context.mode != PairMode::kAsync) return Status::Ok();
  const VolumeMetadata metadata = pair.volume->metadata();
  bool master = view.state.role == PairRole::kPrimary;
  if (!create) {
    // asyncswap: the journal's own role rules while a swap is unfinished (ResolveSwapsAtStart).
    Result<bool> on_disk = JournalIsMaster(GroupNameOf(metadata));
    if (on_disk.ok()) master = on_disk.value();
  }
  Result<std::shared_ptr<AsyncGroup>> group = OpenGroup(GroupNameOf(metadata), master, create);
  if (!group.ok()) return group.status();
  std::lock_guard<std::mutex> lock(groups_mutex_);
  pair.group_name = GroupNameOf(metadata);
  pair.async_group = group.value();
  return Status::Ok();
}

std::vector<std::shared_ptr<Volume>> AsyncPairs::GroupVolumes(const std::string& group) const {
  std::vector<std::shared_ptr<Volume>> volumes;
  std::lock_guard<std::mutex> lock(replicator_.pairs_mutex_);
  for (const auto& [name, pair] : replicator_.pairs_) {
    const VolumeMetadata metadata = pair->volume->metadata();
    if (metadata.pair_mode == "async" && GroupNameOf(metadata) == group)
      volumes.push_back(pair->volume);
  }
  return volumes;
}

std::shared_ptr<Volume> AsyncPairs::VolumeOfEntry(const std::string& group, bool master,
                                                  const std::string& entry_volume) const {
  std::vector<std::shared_ptr<Pair>> pairs;
  {
    std::lock_guard<std::mutex> lock(replicator_.pairs_mutex_);
    for (const auto& [name, pair] : replicator_.pairs_) pairs.push_back(pair);
  }
  for (const std::shared_ptr<Pair>& pair : pairs) {
    const VolumeMetadata metadata = pair->volume->metadata();
    if (metadata.pair_mode != "async" || GroupNameOf(metadata) != group) continue;
    const std::string& name = master ? metadata.name : metadata.peer_volume;
    if (name == entry_volume) return pair->volume;
  }
  // The master journal is the write-ahead log of its primary's volumes even after one of them
  // left the pair (dissolve): a replay still writes that volume.
  if (master) return store_.Find(entry_volume);
  return nullptr;
}

Status AsyncPairs::StartGroups() {
  std::vector<std::shared_ptr<Pair>> pairs;
  {
    std::lock_guard<std::mutex> lock(replicator_.pairs_mutex_);
    for (const auto& [name, pair] : replicator_.pairs_) pairs.push_back(pair);
  }
  for (const std::shared_ptr<Pair>& pair : pairs) {
    Status attached = AttachAsync(*pair, false);
    if (!attached.ok()) {
      // Served without its journal, the volume could be written past what the journal holds.
      store_.LeaveOut(pair->volume->name(),
                      "its group's journal cannot be opened: " + attached.message());
      std::lock_guard<std::mutex> lock(replicator_.pairs_mutex_);
      replicator_.pairs_.erase(pair->volume->name());
    }
  }
  Status resolved = ResolveSwapsAtStart();  // asyncswap
  if (!resolved.ok()) return resolved;
  SuspendGroupsOfSuspendedPairs();  // durable PFUS (node/async_resync.cc; issue 13 part 4)
  std::vector<std::shared_ptr<AsyncGroup>> groups;
  {
    std::lock_guard<std::mutex> lock(groups_mutex_);
    for (const auto& [name, group] : groups_) groups.push_back(group);
  }
  for (const std::shared_ptr<AsyncGroup>& group : groups) {
    if (GroupTakenOver(group->name())) continue;  // asyncswap: SSWS applies nothing more
    if (group->master()) {
      Status replayed = group->ReplayIntoImages();
      if (!replayed.ok()) {
        return Status(replayed.code(),
                      "group " + group->name() +
                          ": cannot replay the master journal into the "
                          "images: " +
                          replayed.message(),
                      replayed.error_number());
      }
      // Finding F1 as an older version fixed it: regions its activity log marked (journaled
      // writes mark nothing now) are journaled again (node/async_resync.cc).
      ReappendMarkedRegions(group);
    }
    group->Start();
  }
  return Status::Ok();
}

void AsyncPairs::StopGroups() {
  std::vector<std::shared_ptr<AsyncGroup>> groups;
  {
    std::lock_guard<std::mutex> lock(groups_mutex_);
    for (const auto& [name, group] : groups_) groups.push_back(group);
  }
  for (const std::shared_ptr<AsyncGroup>& group : groups) group->Stop();
}

Result<std::string> AsyncPairs::SendJournalBatch(const std::string& body) {
  // Resent only once, after half the timeout, not every retransmit_ms: a batch of the
  // transfer's window waits at the peer behind the ones before it (each stored and synced in
  // turn), often longer than retransmit_ms on a busy disk, and every resend carried its megabyte
  // across the WAN again (the peer answers it from its answered requests). A batch really lost
  // costs the timeout; the transfer then resends from what the peer holds.
  Result<wire::Frame> frame =
      replicator_.Exchange(MessageType::kJournalBatch, body, options_.peer_timeout_ms,
                           std::max(1, options_.peer_timeout_ms / 2));
  if (!frame.ok()) return frame.status();
  if (frame->type != MessageType::kJournalAck) {
    return Status::Corruption("the peer answered a journal batch with a " +
                              std::string(MessageTypeName(frame->type)));
  }
  return std::move(frame->body);
}

void AsyncPairs::ServeJournalBatch(const wire::Frame& frame) {
  wire::JournalBatchMessage batch;
  wire::JournalAckMessage ack;
  Status checked = wire::DecodePeerMessage(frame.body, &batch);
  ack.group = checked.ok() ? batch.group : "invalid";
  if (!checked.ok()) {
    replicator_.CountRefusal(frame.type, checked);
    ack.code = static_cast<uint8_t>(checked.code());
    ack.message = "journal batch refused: " + checked.message();
    return replicator_.Answer(frame, MessageType::kJournalAck, wire::EncodeBody(ack));
  }
  std::shared_ptr<AsyncGroup> group = FindGroup(batch.group);
  if (!group || group->master()) {
    const Status refused = Status::NotFound("no restore journal of group " + batch.group +
                                            " at site " + options_.site);
    replicator_.CountRefusal(frame.type, refused);
    ack.code = static_cast<uint8_t>(refused.code());
    ack.message = refused.message();
    return replicator_.Answer(frame, MessageType::kJournalAck, wire::EncodeBody(ack));
  }
  // asyncswap: a copy taken over or swapped refuses the old primary's batches (generation).
  Status fenced = CheckAndNoteBatch(batch);
  if (!fenced.ok()) {
    replicator_.CountRefusal(frame.type, fenced);
    ack.code = static_cast<uint8_t>(fenced.code());
    ack.message = fenced.message();
    ack.durable_sequence = group->journal().durable_sequence();
    ack.applied_sequence = std::min(group->journal().applied_sequence(), ack.durable_sequence);
    return replicator_.Answer(frame, MessageType::kJournalAck, wire::EncodeBody(ack));
  }
  ack = group->Receive(batch, kAsyncReorderWaitMs);  // the master sends a window of batches
  if (ack.code != 0)
    replicator_.CountRefusal(frame.type, Status(static_cast<Code>(ack.code), ack.message));
  replicator_.Answer(frame, MessageType::kJournalAck, wire::EncodeBody(ack));
}

namespace {

// How a journaled write is protected: by activity-log marks, or its image write waits for its
// entry to be durable. Marks: when every region it writes is marked already (a hot region:
// no I/O), or when it is large (kAsyncMarkMinBytes: a sequential stream, one bitmap write per
// activity extent instead of a journal sync per write) and the pair's marks, with its extents,
// stay within 1/kAsyncMarkedJournalShare of the journal's ring: a restart re-journals what is
// marked as one batch, which must fit half the ring (AsyncResyncFits), so a kill -9 under load
// never suspends the group for it. Small cold writes (random write+fsync) wait for the journal:
// one sync per write+fsync instead of a bitmap write and a journal sync.
enum class F1Protection {
  kHotRegions,         // every region written is marked already: no I/O
  kExtents,            // its activity extents marked durably first
  kEntryDurableFirst,  // the image write waits for the entry to be durable
};

F1Protection JournaledWriteProtection(AsyncPairs::Pair& pair, AsyncGroup& group, uint64_t offset,
                                      uint64_t length) {
  if (length == 0) return F1Protection::kEntryDurableFirst;
  const RegionSet& regions = *pair.regions;
  const uint64_t region_bytes = regions.region_bytes();
  bool all_marked = true;
  for (uint64_t region = offset / region_bytes;
       all_marked && region <= (offset + length - 1) / region_bytes; ++region)
    all_marked = regions.IsMarked(region);
  if (all_marked) return F1Protection::kHotRegions;
  if (length < kAsyncMarkMinBytes) return F1Protection::kEntryDurableFirst;
  const uint64_t extent = std::max(kActivityExtentBytes, region_bytes);
  const uint64_t widened = ((offset + length - 1) / extent - offset / extent + 1) * extent;
  return regions.marked_bytes() + widened <=
                 group.journal().capacity_bytes() / kAsyncMarkedJournalShare
             ? F1Protection::kExtents
             : F1Protection::kEntryDurableFirst;
}

}  // namespace

Result<size_t> AsyncPairs::WriteJournaled(Pair& pair, wire::WriteKind kind, uint64_t offset,
                                          const char* data, size_t length, bool direct) {
  std::shared_ptr<AsyncGroup> group;
  {
    std::lock_guard<std::mutex> lock(groups_mutex_);
    group = pair.async_group;
  }
  if (!group) {
    return Status::IoError("volume " + pair.volume->name() + ": its group's journal is not open",
                           EIO);
  }
  bool journal_full = false;
  {
    // Finding F1 (issue 13 part 4): a power loss must never keep an image write whose journal
    // entry it took (the restart would reuse the lost entry's sequence for other data: the
    // copies would differ silently). Either the write's regions are in the activity log (marked
    // durably before the image write; a restart re-journals what is still marked,
    // ReappendMarkedRegions) or its image write waits for the entry to be durable: see
    // JournaledWriteProtection. An Activity that marks nothing costs no I/O.
    const F1Protection protection = JournaledWriteProtection(pair, *group, offset, length);
    const bool mark = protection != F1Protection::kEntryDurableFirst;
    Result<Activity> activity =
        mark ? Activity::Begin(pair, offset, length, protection == F1Protection::kExtents)
             : Result<Activity>(Activity());
    if (!activity.ok()) return activity.status();
    // The range is held from the append to the image write, so overlapping writes reach the
    // image in the journal's order (a replay or the secondary ends with the same bytes).
    RangeLock::Guard exclusive = pair.volume->exclusive().Acquire(offset, length);
    JournalWrite write;
    write.volume = pair.volume->name();
    write.kind = kind;
    write.offset = offset;
    write.length = length;
    if (kind == wire::WriteKind::kData) write.data = std::string_view(data, length);
    Result<uint64_t> sequence = group->Append(write);
    if (!sequence.ok()) {
      if (sequence.status().code() != Code::kNoSpace) return sequence.status();
      journal_full = true;
    } else {
      // Not marked: the entry durable first (group commit: concurrent writers share the sync,
      // and the fsync that usually follows finds the entry durable and costs nothing).
      Status durable = mark ? Status::Ok() : group->WaitDurable(sequence.value());
      if (!durable.ok()) {
        group->ImageWritten(sequence.value());
        return durable;  // the journal is failed (sticky): nothing is written to the image
      }
      Status written = pair.volume->WriteRaw(kind, offset, data, length, direct);
      group->ImageWritten(sequence.value());
      if (!written.ok()) return written;  // the journal holds it: a restart replays it
      uint64_t last = pair.last_journal_sequence.load();
      while (last < sequence.value() &&
             !pair.last_journal_sequence.compare_exchange_weak(last, sequence.value())) {
      }
      pair.CountReplicated(length);  // metrics: taken into the journal for the secondary
    }
  }
  if (journal_full) {
    // PFUS: the dirty bitmap takes over; the write is never failed for the peer's sake.
    SuspendGroup(group);
    return replicator_.WriteTracked(pair, kind, offset, data, length, direct);
  }
  PaceAtHighWater(pair, *group);
  return length;
}

void AsyncPairs::PaceAtHighWater(Pair& pair, AsyncGroup& group) {
  const PairStatus status = pair.Snapshot().state.status;
  if (group.journal().AboveHighWater(options_.journal_high_water_percent)) {
    if (status == PairStatus::kPAIR) {
      spdlog::info("pair {}: the journal of group {} is over {}%: PFUL, writes paced",
                   pair.volume->name(), group.name(), options_.journal_high_water_percent);
      (void)replicator_.Change(pair, PairEvent::kJournalHighWater, nullptr, nullptr);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kAsyncPaceMs));
  } else if (status == PairStatus::kPFUL) {
    (void)replicator_.Change(pair, PairEvent::kJournalBelowHighWater, nullptr, nullptr);
  }
}

void AsyncPairs::SuspendGroup(const std::shared_ptr<AsyncGroup>& group) {
  (void)group->Suspend();  // Append has already, when it found the journal full
  std::vector<std::shared_ptr<Pair>> pairs;
  {
    std::lock_guard<std::mutex> lock(replicator_.pairs_mutex_);
    for (const auto& [name, pair] : replicator_.pairs_) pairs.push_back(pair);
  }
  for (const std::shared_ptr<Pair>& member : pairs) {
    {
      std::lock_guard<std::mutex> lock(groups_mutex_);
      if (member->async_group != group) continue;
    }
    const PairStatus before = member->Snapshot().state.status;
    (void)replicator_.Change(*member, PairEvent::kJournalFull, nullptr, nullptr);
    if (before != PairStatus::kPFUS && member->Snapshot().state.status == PairStatus::kPFUS) {
      spdlog::warn("pair {}: the journal of group {} is full: suspended (PFUS), changes tracked",
                   member->volume->name(), group->name());
    }
  }
}

Status AsyncPairs::FlushJournaled(Pair& pair) {
  std::shared_ptr<AsyncGroup> group;
  {
    std::lock_guard<std::mutex> lock(groups_mutex_);
    group = pair.async_group;
  }
  if (!group) return pair.volume->Flush();
  const uint64_t last = pair.last_journal_sequence.load();
  if (last == 0) return Status::Ok();
  return group->WaitDurable(last);
}

void AsyncPairs::DescribeAsync(Pair& pair, const PairView& view, wire::VolumeInfo* info) {
  if (view.context.mode != PairMode::kAsync) return;
  std::shared_ptr<AsyncGroup> group;
  {
    std::lock_guard<std::mutex> lock(groups_mutex_);
    group = pair.async_group;
    if (!pair.group_name.empty()) info->group = pair.group_name;
  }
  info->mode = "async";
  if (!group) return;
  const AsyncGroupProgress progress = group->Progress();
  info->journal_used_bytes = progress.used_bytes;
  info->journal_size_bytes = progress.size_bytes;
  info->sent_sequence = progress.sent_sequence;
  info->applied_sequence = progress.applied_sequence;
  info->lag_ms = progress.lag_ms;
  info->journal_lag_bytes = progress.lag_bytes;
}

}  // namespace pairfs::node
