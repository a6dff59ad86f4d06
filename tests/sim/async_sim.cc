// The parts of the async replication simulation (tests/sim/async_sim.h): model, site, link.
#include "tests/sim/async_sim.h"

#include <algorithm>
#include <filesystem>

#include "node/journal_format.h"
#include "node/limits.h"
#include "wire/peer_messages.h"

namespace pairfs::sim {

std::string AsyncVolumeName(size_t index) { return index == 0 ? "db" : "log"; }

// ---- AsyncModel ----

void AsyncModel::Add(uint64_t sequence, ModelWrite write) {
  ASYNC_SIM_ENSURE(sequence == last() + 1, "the master journaled out of sequence order");
  writes_.push_back(std::move(write));
}

void AsyncModel::TruncateTo(uint64_t sequence) {
  if (sequence < writes_.size()) writes_.resize(sequence);
}

std::vector<std::string> AsyncModel::ImagesAfter(uint64_t sequence) const {
  std::vector<std::string> images(kAsyncVolumeCount, std::string(kAsyncVolumeBytes, '\0'));
  for (uint64_t i = 0; i < sequence && i < writes_.size(); ++i) {
    const ModelWrite& write = writes_[i];
    std::string& image = images[write.volume];
    if (write.kind == wire::WriteKind::kData) {
      image.replace(write.offset, write.length, write.data);
    } else {
      image.replace(write.offset, write.length, std::string(write.length, '\0'));
    }
  }
  return images;
}

std::string FirstDifference(const std::vector<std::string>& left,
                            const std::vector<std::string>& right) {
  for (size_t volume = 0; volume < left.size() && volume < right.size(); ++volume) {
    if (left[volume] == right[volume]) continue;
    size_t byte = 0;
    while (byte < left[volume].size() && left[volume][byte] == right[volume][byte]) ++byte;
    return "volume " + AsyncVolumeName(volume) + " differs from byte " + std::to_string(byte);
  }
  return left.size() == right.size() ? "" : "volume counts differ";
}

// ---- AsyncSite ----

AsyncSite::AsyncSite(std::string dir, bool master, uint64_t journal_bytes)
    : dir_(std::move(dir)), master_(master), journal_bytes_(journal_bytes) {
  std::filesystem::create_directories(dir_ + "/volumes");
  for (size_t i = 0; i < kAsyncVolumeCount; ++i) {
    node::VolumeMetadata metadata;
    metadata.name = AsyncVolumeName(i);
    metadata.size_bytes = kAsyncVolumeBytes;
    metadata.inode = 2 + i;
    auto image = std::make_unique<node::MemoryBlockFile>(kAsyncVolumeBytes);
    images_.push_back(image.get());
    volumes_.push_back(node::Volume::Attach(dir_ + "/volumes", metadata, std::move(image)));
  }
}

Status AsyncSite::Open(
    bool create,
    std::function<Result<wire::JournalAckMessage>(const wire::JournalBatchMessage&)> send) {
  node::AsyncGroupHooks hooks;
  hooks.send = std::move(send);
  // Both sites name the volumes alike: the restore side maps the primary's names to its own.
  std::vector<std::shared_ptr<node::Volume>> volumes = volumes_;
  hooks.volume_of = [volumes](const std::string& name) -> std::shared_ptr<node::Volume> {
    for (const std::shared_ptr<node::Volume>& volume : volumes)
      if (volume->name() == name) return volume;
    return nullptr;
  };
  hooks.volumes = [volumes] { return volumes; };
  Result<std::shared_ptr<node::AsyncGroup>> opened =
      node::AsyncGroup::Open(dir_, kAsyncGroup, master_, create, journal_bytes_, std::move(hooks));
  if (!opened.ok()) return opened.status();
  group_ = opened.value();
  return Status::Ok();
}

void AsyncSite::Close() {
  if (!group_) return;
  group_->Stop();
  const node::AsyncGroupCounters counted = group_->counters();
  past_.batches_sent += counted.batches_sent;
  past_.batches_refused += counted.batches_refused;
  past_.entries_applied += counted.entries_applied;
  past_.checkpoints += counted.checkpoints;
  group_.reset();
}

node::AsyncGroupCounters AsyncSite::counters() const {
  node::AsyncGroupCounters total = past_;
  if (group_) {
    const node::AsyncGroupCounters counted = group_->counters();
    total.batches_sent += counted.batches_sent;
    total.batches_refused += counted.batches_refused;
    total.entries_applied += counted.entries_applied;
    total.checkpoints += counted.checkpoints;
  }
  return total;
}

void AsyncSite::CrashImages() {
  for (node::MemoryBlockFile* image : images_) {
    image->Crash();
    image->FailWrites(0);
    image->FailSyncs(0);
  }
}

void AsyncSite::LoseJournalEntriesAfter(uint64_t durable) {
  Result<std::unique_ptr<node::BlockFile>> file =
      node::PosixBlockFile::Open(dir_ + "/" + kAsyncGroup + ".journal");
  ASYNC_SIM_ENSURE(file.ok(), "the journal file did not open");
  std::string ring(journal_bytes_, '\0');
  ASYNC_SIM_ENSURE(file.value()->ReadAt(0, ring.size(), ring.data(), false).ok(),
                   "the journal file was not read");
  // Entries (and wrap markers) start at multiples of 128 bytes: their header is 128 bytes and
  // the sim's data lengths are multiples of 512.
  const std::string zeros(node::kJournalEntryHeaderBytes, '\0');
  for (uint64_t at = node::kJournalDataStart; at + zeros.size() <= ring.size();
       at += zeros.size()) {
    Result<node::JournalEntryHeader> header = node::DecodeJournalEntryHeader(
        std::string_view(ring).substr(at, node::kJournalEntryHeaderBytes));
    if (!header.ok() || header->sequence <= durable) continue;
    ASYNC_SIM_ENSURE(file.value()->WriteAt(at, zeros.data(), zeros.size(), false).ok(),
                     "the journal file was not written");
  }
}

std::vector<std::string> AsyncSite::Images() const {
  std::vector<std::string> images;
  for (const std::shared_ptr<node::Volume>& volume : volumes_) {
    std::string bytes(kAsyncVolumeBytes, '\0');
    Result<size_t> read = volume->Read(0, kAsyncVolumeBytes, bytes.data(), false);
    ASYNC_SIM_ENSURE(read.ok() && read.value() == kAsyncVolumeBytes, "an image read failed");
    images.push_back(std::move(bytes));
  }
  return images;
}

// ---- AsyncLink ----

void AsyncLink::Attach(node::AsyncGroup* restore) {
  std::lock_guard<std::mutex> lock(mutex_);
  restore_ = restore;
}

void AsyncLink::SetFaults(const LinkFaults& faults) {
  std::lock_guard<std::mutex> lock(mutex_);
  faults_ = faults;
}

void AsyncLink::SetPartitioned(bool partitioned) {
  std::lock_guard<std::mutex> lock(mutex_);
  partitioned_ = partitioned;
}

LinkStats AsyncLink::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

std::string AsyncLink::failure() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failure_;
}

bool AsyncLink::ChanceLocked(double probability) {
  return std::uniform_real_distribution<double>(0, 1)(random_) < probability;
}

const wire::JournalBatchMessage& AsyncLink::OlderBatchLocked() {
  return history_[random_() % history_.size()];
}

Result<wire::JournalAckMessage> AsyncLink::Send(const wire::JournalBatchMessage& batch) {
  const uint64_t sending = ++sending_;
  struct Done {
    std::atomic<uint64_t>& count;
    ~Done() { --count; }
  } done{sending_};
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.max_in_flight = std::max(stats_.max_in_flight, sending);
  ++stats_.sends;
  if (partitioned_ || restore_ == nullptr) {
    ++stats_.partitioned;
    return Status::Unreachable("partitioned or the restore site is down");
  }
  if (ChanceLocked(faults_.drop_batch)) {
    ++stats_.dropped_batches;
    return Status::Unreachable("the batch was lost");
  }
  if (!history_.empty() && ChanceLocked(faults_.stale_before)) {
    ++stats_.stale;
    (void)DeliverLocked(OlderBatchLocked());
  }
  if (batch.entries.size() > 1 && ChanceLocked(faults_.gap)) {
    wire::JournalBatchMessage cut = batch;
    const size_t skipped = 1 + random_() % (batch.entries.size() - 1);
    cut.entries.erase(cut.entries.begin(), cut.entries.begin() + skipped);
    cut.first_sequence = cut.entries.front().sequence;
    (void)DeliverLocked(cut);
  }
  wire::JournalAckMessage ack = DeliverLocked(batch);
  if (ChanceLocked(faults_.duplicate)) {
    ++stats_.duplicates;
    ack = DeliverLocked(batch);
  }
  if (!history_.empty() && ChanceLocked(faults_.stale_after)) {
    ++stats_.stale;
    ack = DeliverLocked(OlderBatchLocked());
  }
  if (!batch.entries.empty()) {
    history_.push_back(batch);
    if (history_.size() > 8) history_.erase(history_.begin());
  }
  if (ChanceLocked(faults_.drop_ack)) {
    ++stats_.dropped_acks;
    return Status::Unreachable("the ack was lost");
  }
  return ack;
}

wire::JournalAckMessage AsyncLink::DeliverLocked(const wire::JournalBatchMessage& batch) {
  ++stats_.deliveries;
  wire::JournalBatchMessage received;
  Status decoded = wire::DecodePeerMessage(wire::EncodeBody(batch), &received);
  if (!decoded.ok() && failure_.empty())
    failure_ = "a batch failed the wire's checks: " + decoded.message();
  const uint64_t expected = restore_->journal().next_sequence();
  const bool gap = !received.entries.empty() && received.entries.front().sequence > expected;
  const wire::JournalAckMessage ack = restore_->Receive(received);
  if (gap) ++stats_.gaps;
  if (ack.code != 0) ++stats_.refusals;
  const Code code = static_cast<Code>(ack.code);
  if (gap && code != Code::kInvalidArgument && failure_.empty()) {
    failure_ = "invariant 4: entries from " + std::to_string(received.entries.front().sequence) +
               " were not refused when " + std::to_string(expected) + " was expected";
  } else if (!gap && code == Code::kNoSpace) {
    ++stats_.no_space;  // the restore journal is full until it applies: the master resends
  } else if (!gap && code != Code::kOk && failure_.empty()) {
    failure_ = "invariant 4: a batch from " + std::to_string(received.first_sequence) +
               " was refused without a fault: " + ack.message;
  }
  return ack;
}

}  // namespace pairfs::sim
