// Making, opening and recovering a journal (node/journal.h); node/FORMAT.md, "Journal file",
// says why each check of the scan is there.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <random>

#include "node/atomic_file.h"
#include "node/journal.h"

namespace pairfs::node {
namespace {

// The ring read in chunks of kJournalScanChunkBytes, so recovery costs a few large reads.
class ScanReader {
 public:
  ScanReader(BlockFile& file, uint64_t size_bytes) : file_(file), size_bytes_(size_bytes) {}

  // The `length` bytes at `offset` (the caller keeps within the file), valid until the next
  // call; IoError from the file, Corruption if the file is shorter than it said.
  Result<std::string_view> Get(uint64_t offset, size_t length) {
    if (offset < start_ || offset + length > start_ + buffer_.size()) {
      const size_t want = static_cast<size_t>(
          std::min<uint64_t>(std::max(length, kJournalScanChunkBytes), size_bytes_ - offset));
      buffer_.resize(want);
      Result<size_t> read = file_.ReadAt(offset, want, buffer_.data(), false);
      if (!read.ok()) return read.status();
      if (read.value() != want) return Status::Corruption("the journal file is cut short");
      start_ = offset;
    }
    return std::string_view(buffer_).substr(offset - start_, length);
  }

 private:
  BlockFile& file_;
  const uint64_t size_bytes_;
  uint64_t start_ = 0;
  std::string buffer_;
};

Status CheckSetup(const JournalSetup& setup, uint64_t size_bytes) {
  if (setup.group.empty() || setup.group.size() > wire::kMaxGroupNameBytes ||
      setup.group.find('\0') != std::string::npos)
    return Status::InvalidArgument("a journal's group name is 1 to " +
                                   std::to_string(wire::kMaxGroupNameBytes) + " bytes");
  if (setup.first_sequence == 0 || setup.first_sequence == UINT64_MAX)
    return Status::InvalidArgument("a journal's sequences start at 1");
  if (size_bytes < kMinJournalBytes || size_bytes > kMaxJournalBytes ||
      size_bytes % kJournalSlotBytes != 0)
    return Status::InvalidArgument("a journal is " + std::to_string(kMinJournalBytes) + " to " +
                                   std::to_string(kMaxJournalBytes) +
                                   " bytes, a multiple of 4 KiB, not " +
                                   std::to_string(size_bytes));
  return Status::Ok();
}

uint64_t RandomJournalId() {
  std::random_device device;
  std::mt19937_64 random(
      (static_cast<uint64_t>(device()) << 32) ^ device() ^
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  uint64_t id = 0;
  while (id == 0) id = random();
  return id;
}

}  // namespace

Status Journal::Format(BlockFile& file, const JournalSetup& setup) {
  const uint64_t size_bytes = file.Stat().size_bytes;
  Status valid = CheckSetup(setup, size_bytes);
  if (!valid.ok()) return valid;
  JournalHeader header;  // the newest version: entries aligned (CheckSetup: so is the size)
  header.slot_counter = 1;
  header.size_bytes = size_bytes;
  header.journal_id = setup.journal_id != 0 ? setup.journal_id : RandomJournalId();
  header.epoch = header.floor_epoch = 1;
  header.role = setup.role;
  header.group = setup.group;
  header.head_sequence = setup.first_sequence;
  header.head_offset = kJournalDataStart;
  header.applied_sequence = header.durable_tail_sequence = setup.first_sequence - 1;
  // Slot 1 is zeroed: a slot of an earlier journal in this file must not outvote the new one.
  std::string slots(kJournalDataStart, '\0');
  slots.replace(0, kJournalSlotEncodedBytes, EncodeJournalHeader(header));
  Status written = file.WriteAt(0, slots.data(), slots.size(), false);
  if (!written.ok()) return written;
  return file.Sync();
}

namespace {

// Reserves the file's blocks (fallocate): a disk without room fails the create, not an append.
// A file system without fallocate (EOPNOTSUPP) keeps the sparse file: appends allocate.
Status ReserveBlocks(const std::string& path, uint64_t size_bytes) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Status::IoError("cannot open " + path, errno);
  const int reserved = ::posix_fallocate(fd, 0, static_cast<off_t>(size_bytes));
  ::close(fd);
  if (reserved == 0 || reserved == EOPNOTSUPP || reserved == EINVAL) return Status::Ok();
  return Status::IoError("cannot reserve " + std::to_string(size_bytes) + " bytes for " + path,
                         reserved);
}

}  // namespace

Status Journal::CreateFile(const std::string& path, uint64_t size_bytes,
                           const JournalSetup& setup) {
  Status valid = CheckSetup(setup, size_bytes);
  if (!valid.ok()) return valid;
  if (::access(path.c_str(), F_OK) == 0) return Status::AlreadyExists(path + " exists");
  const std::string temporary = path + ".tmp";
  ::unlink(temporary.c_str());  // a create a crash interrupted
  Status status = PosixBlockFile::Create(temporary, size_bytes);
  if (!status.ok()) return status;
  {
    Result<std::unique_ptr<BlockFile>> file = PosixBlockFile::Open(temporary);
    if (!file.ok()) status = file.status();
    if (status.ok()) status = ReserveBlocks(temporary, size_bytes);
    // The first blocks written once now, so that the first appends' fdatasyncs allocate none;
    // past the page cache, as the entries of this (version 2) file will be.
    const uint64_t prefill = std::min<uint64_t>(kJournalPrefillBytes, size_bytes);
    for (uint64_t offset = 0; status.ok() && offset < prefill; offset += kJournalFillChunkBytes) {
      const size_t length =
          static_cast<size_t>(std::min<uint64_t>(kJournalFillChunkBytes, prefill - offset));
      status = file.value()->WriteSectors(offset, JournalZeros(), length);
    }
    if (status.ok()) status = Format(*file.value(), setup);
  }
  if (status.ok() && std::rename(temporary.c_str(), path.c_str()) != 0)
    status = Status::IoError("cannot rename " + temporary + " to " + path, errno);
  if (!status.ok()) {
    ::unlink(temporary.c_str());
    return status;
  }
  const std::string parent = std::filesystem::path(path).parent_path().string();
  return SyncDirectory(parent.empty() ? "." : parent);
}

Result<std::unique_ptr<Journal>> Journal::OpenFile(const std::string& path,
                                                   const std::string& group) {
  Result<std::unique_ptr<BlockFile>> file = PosixBlockFile::Open(path);
  if (!file.ok()) return file.status();
  return Open(std::shared_ptr<BlockFile>(std::move(file.value())), group);
}

Result<std::unique_ptr<Journal>> Journal::Open(std::shared_ptr<BlockFile> file,
                                               const std::string& group) {
  const std::string what = "the journal of group " + group;
  if (!file) return Status::InvalidArgument(what + " has no file");
  const uint64_t size_bytes = file->Stat().size_bytes;
  if (size_bytes < kMinJournalBytes || size_bytes > kMaxJournalBytes)
    return Status::Corruption(what + " is " + std::to_string(size_bytes) +
                              " bytes long: not a journal");
  std::string slots(kJournalDataStart, '\0');
  Result<size_t> read = file->ReadAt(0, slots.size(), slots.data(), false);
  if (!read.ok()) return read.status();
  std::optional<JournalHeader> best;
  uint64_t best_slot = 0;
  std::string reasons;
  for (uint64_t slot = 0; slot < kJournalSlotCount; ++slot) {
    Result<JournalHeader> header = DecodeJournalHeader(
        std::string_view(slots).substr(slot * kJournalSlotBytes, kJournalSlotEncodedBytes));
    if (!header.ok()) {
      reasons += (reasons.empty() ? "slot " : "; slot ") + std::to_string(slot) + ": " +
                 header.status().message();
    } else if (!best || header->slot_counter > best->slot_counter) {
      best = header.value();
      best_slot = slot;
    }
  }
  if (!best) return Status::Corruption(what + ": neither header slot is valid (" + reasons + ")");
  if (best->size_bytes != size_bytes)
    return Status::Corruption(what + " was made " + std::to_string(best->size_bytes) +
                              " bytes long; the file is " + std::to_string(size_bytes));
  if (best->group != group) return Status::Corruption(what + " belongs to group " + best->group);
  std::unique_ptr<Journal> journal(new Journal(std::move(file), best.value(), best_slot));
  Status recovered = journal->Recover();
  if (!recovered.ok()) return recovered;
  // A new epoch before any append: entries the crash left past the recovered end are of an
  // older epoch than anything written from now on, so a later scan stops at them.
  {
    std::lock_guard<std::mutex> header_lock(journal->header_mutex_);
    JournalHeader next = journal->header_;
    ++next.epoch;
    next.durable_tail_sequence = journal->durable_sequence_;
    Status persisted = journal->PersistHeader(next, journal->durable_sequence_);
    if (!persisted.ok()) return persisted;
  }
  return journal;
}

// Recover's place in the ring and what its scan found so far; the ring is [kJournalDataStart,
// size_bytes_).
struct Journal::RecoveryScan {
  ScanReader reader;
  uint64_t position;
  uint64_t expected;
  uint64_t previous_epoch;
  uint64_t end_of_last;            // where the next entry goes
  uint64_t end_before_open_batch;  // where the last batch's begin entry went
  uint64_t scanned = 0;
  bool after_marker = false;
  std::string reason;  // why the scan ended
};

Status Journal::Recover() {
  std::lock_guard<std::mutex> lock(mutex_);
  const uint64_t end = size_bytes_;
  uint64_t position = header_.head_offset;
  if (end - position < kJournalEntryHeaderBytes) position = kJournalDataStart;
  RecoveryScan scan{.reader = ScanReader(*file_, end),
                    .position = position,
                    .expected = header_.head_sequence,
                    .previous_epoch = header_.floor_epoch,
                    .end_of_last = position,
                    .end_before_open_batch = position};
  index_first_ = scan.expected;
  for (;;) {
    Result<bool> more = ScanNextLocked(scan);
    if (!more.ok()) return more.status();  // a failing disk is not the end of the journal
    if (!more.value()) break;
  }
  DropUnfinishedBatchLocked(scan);
  const uint64_t expected = scan.expected;
  next_sequence_ = expected;
  tail_offset_ = scan.end_of_last;
  fill_seen_tail_ = tail_offset_;  // an open is no append: the fill's first look sees idle writers
  written_through_ = expected - 1;
  AdvanceDurableLocked(expected - 1);
  recovery_.first_sequence = header_.head_sequence;
  recovery_.last_sequence = expected - 1;
  recovery_.entries = index_.size();
  recovery_.ring_bytes = UsedBytesLocked();
  recovery_.expected_last_sequence = header_.durable_tail_sequence;
  recovery_.end_reason = scan.reason;
  return Status::Ok();
}

Result<bool> Journal::ScanNextLocked(RecoveryScan& scan) {
  const uint64_t start = kJournalDataStart;
  const uint64_t end = size_bytes_;
  if (scan.scanned >= end - start) {
    scan.reason = "the entries fill the whole ring";
    return false;
  }
  const std::string at = "offset " + std::to_string(scan.position) + ": ";
  Result<std::string_view> bytes = scan.reader.Get(scan.position, kJournalEntryHeaderBytes);
  if (!bytes.ok()) return bytes.status();
  Result<JournalEntryHeader> header = DecodeJournalEntryHeader(bytes.value());
  if (!header.ok()) {
    scan.reason = at + header.status().message();
    return false;
  }
  const uint64_t expected = scan.expected;
  if (header->journal_id != journal_id_) {
    scan.reason = at + "an entry of another journal";
    return false;
  }
  if (header->sequence != expected) {
    scan.reason =
        at + "sequence " + std::to_string(header->sequence) + ", not " + std::to_string(expected);
    return false;
  }
  if (header->epoch < scan.previous_epoch || header->epoch > header_.epoch) {
    scan.reason = at + "entry " + std::to_string(expected) + " of epoch " +
                  std::to_string(header->epoch) + " is stale";
    return false;
  }
  scan.previous_epoch = header->epoch;
  if ((header->flags & kJournalWrapMarker) != 0) {
    if (scan.after_marker) {
      scan.reason = at + "a wrap marker right after another";
      return false;
    }
    scan.after_marker = true;
    scan.scanned += end - scan.position;
    scan.position = start;
    return true;
  }
  return IndexScannedLocked(scan, at, header.value());
}

Result<bool> Journal::IndexScannedLocked(RecoveryScan& scan, const std::string& at,
                                         const JournalEntryHeader& header) {
  const uint64_t start = kJournalDataStart;
  const uint64_t end = size_bytes_;
  const uint64_t expected = scan.expected;
  const uint64_t ring_bytes = JournalEntryBytes(header.data_bytes(), entry_align_);
  const uint64_t data_bytes = header.data_bytes();
  const uint64_t checksum = header.data_checksum;
  const uint16_t flags = header.flags;
  if (ring_bytes > end - scan.position) {
    scan.reason = at + "entry " + std::to_string(expected) + " runs past the end of the ring";
    return false;
  }
  // `header` dangles after this read.
  Result<std::string_view> entry = scan.reader.Get(scan.position, ring_bytes);
  if (!entry.ok()) return entry.status();
  if (JournalDataChecksum(entry->substr(kJournalEntryHeaderBytes, data_bytes)) != checksum) {
    scan.reason = at + "entry " + std::to_string(expected) + " fails its data checksum";
    return false;
  }
  const bool open = !batches_.empty() && batches_.back().end == 0;
  if (((flags & kJournalBatchBegin) != 0 && open) ||
      ((flags & (kJournalBatchBegin | kJournalBatchEnd)) == kJournalBatchEnd && !open)) {
    scan.reason = at + "entry " + std::to_string(expected) + " breaks the batch rules";
    return false;
  }
  if ((flags & kJournalBatchBegin) != 0) {
    batches_.push_back(BatchRange{expected, 0});
    scan.end_before_open_batch = scan.end_of_last;
  }
  if ((flags & kJournalBatchEnd) != 0) batches_.back().end = expected;
  index_.push_back(IndexEntry{scan.position, checksum, scan.previous_epoch,
                              static_cast<uint32_t>(data_bytes), flags, true});
  ++scan.expected;
  scan.after_marker = false;
  scan.scanned += ring_bytes;
  scan.position += ring_bytes;
  if (end - scan.position < kJournalEntryHeaderBytes) {
    scan.scanned += end - scan.position;
    scan.position = start;
  }
  scan.end_of_last = scan.position;
  return true;
}

void Journal::DropUnfinishedBatchLocked(RecoveryScan& scan) {
  // A master journal never keeps a batch it did not finish appending (a resync's batch cut by a
  // crash): the restore side would wait for its end for ever. Its entries were never shipped as
  // a whole nor acknowledged (the resync keeps its regions marked until the batch is durable), so
  // they are dropped and the next entry takes the begin's sequence and place.
  if (header_.role != JournalRole::kMaster || batches_.empty() || batches_.back().end != 0) return;
  const uint64_t begin = batches_.back().begin;
  scan.reason += "; an unfinished batch from entry " + std::to_string(begin) + " dropped";
  index_.resize(begin - index_first_);
  batches_.pop_back();
  scan.expected = begin;
  scan.end_of_last = scan.end_before_open_batch;
  // A header written mid-batch may count its entries durable: not lost, dropped on purpose.
  header_.durable_tail_sequence = std::min(header_.durable_tail_sequence, begin - 1);
}

}  // namespace pairfs::node
