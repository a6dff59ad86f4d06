// One consistency group's journal: a ring file of checksummed entries, each one write (or
// discard) of one of the group's volumes under the group's sequence number. At the primary it is
// the master journal (the primary's write-ahead log, shipped to the secondary); at the secondary
// the restore journal (what arrived, applied to the volumes in sequence order). Format and
// crash rules: node/FORMAT.md, "Journal file"; encoding: node/journal_format.h.
//
// What is durable: the header (two alternating checksummed slots) holds the head (oldest entry
// still needed), the restore side's applied sequence and the role; entries become durable by
// WaitDurable/Sync (group commit: concurrent callers share BlockFile::Syncs). After a crash,
// Open scans forward from the durable head while entries verify and sequences are consecutive:
// every entry WaitDurable confirmed is found again, and the recovered entries are a gap-free run.
//
// Thread-safe: Append (many writer threads), WaitDurable, Read, the pointer updates and the
// accessors may be called at once. SetRole and Reset expect the caller to have stopped appends
// (Reset refuses with Busy while any is in flight).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "node/block_file.h"
#include "node/journal_format.h"
#include "wire/messages.h"
#include "wire/status.h"

namespace pairfs::node {

class RecentEntries;  // node/recent_entries.h

// One write as the journal carries it. Views of the caller's bytes: Append copies them once,
// into the write that puts header and data on disk together.
struct JournalWrite {
  std::string_view volume;                        // a volume name, 1..64 bytes
  wire::WriteKind kind = wire::WriteKind::kData;  // a write, or a discard of `length` bytes
  uint64_t offset = 0;                            // in the volume
  uint64_t length = 0;                            // kData: data.size(); discards: the range
  std::string_view data;                          // kData only, ≤ kMaxJournalEntryDataBytes
  uint16_t flags = 0;  // kJournalBatchBegin and/or kJournalBatchEnd, else 0
};

// InvalidArgument unless `write` is one the journal can carry and read back.
Status CheckJournalWrite(const JournalWrite& write);

// An entry read back from the journal, data verified against its checksum.
struct JournalEntry {
  uint64_t sequence = 0;
  std::string volume;
  wire::WriteKind kind = wire::WriteKind::kData;
  uint64_t offset = 0;
  uint64_t length = 0;
  uint16_t flags = 0;
  uint64_t data_checksum = 0;  // JournalDataChecksum(data): ship it with the entry
  std::string data;

  // A view of this entry (valid while it lives), e.g. for AppendReceived.
  JournalWrite AsWrite() const;
};

// Who a journal file is made for.
struct JournalSetup {
  std::string group;  // the consistency group, 1..64 bytes
  JournalRole role = JournalRole::kMaster;
  uint64_t first_sequence = 1;  // the sequence the first entry gets (or must have, restore)
  uint64_t journal_id = 0;      // 0: random (tests and the simulation may fix it)
};

// What Open found.
struct JournalRecovery {
  uint64_t first_sequence = 0;  // the durable head
  uint64_t last_sequence = 0;   // the last entry recovered; first_sequence - 1 when none
  uint64_t entries = 0;
  uint64_t ring_bytes = 0;  // bytes the recovered entries (and wrap gaps) take
  // The header said every entry through this was durable when it was written: a smaller
  // last_sequence means entries were lost to damage, not to a crash.
  uint64_t expected_last_sequence = 0;
  std::string end_reason;  // why the scan stopped, e.g. "offset 81920: no entry magic"

  bool lost_durable_entries() const { return last_sequence < expected_last_sequence; }
};

// What AppendReceived did with an entry.
enum class Receipt { kStored, kAlreadyHeld };

// An entry the master sent: its sequence, the write, and the checksum of its data.
struct ReceivedEntry {
  uint64_t sequence = 0;
  JournalWrite write;
  uint64_t data_checksum = 0;
};

struct JournalCounters {
  uint64_t appended = 0;       // entries stored by Append and AppendReceived
  uint64_t syncs = 0;          // BlockFile::Sync calls for entries (group commit: ≤ waits)
  uint64_t header_writes = 0;  // durable pointer updates
  uint64_t refused_gaps = 0;   // AppendReceived: a sequence beyond the next one
  uint64_t duplicates = 0;     // AppendReceived: already held, acknowledged, not stored again
  uint64_t conflicting_duplicates = 0;  // already held with other data: refused
  uint64_t bad_checksums = 0;           // AppendReceived: data that fails its checksum
};

class Journal {
 public:
  // Writes an empty journal's header into `file` (its whole size is the ring) and syncs it.
  // InvalidArgument for a bad group name, a first sequence of 0 or a size outside
  // [kMinJournalBytes, kMaxJournalBytes] or not a multiple of 4 KiB; IoError from the file.
  static Status Format(BlockFile& file, const JournalSetup& setup);

  // Creates `path` (DATA_DIR/journals/G.journal) `size_bytes` long, every byte written once (so
  // that fdatasync of an append never allocates), formatted, renamed into place and the
  // directory synced: a crash leaves no file or a complete one. AlreadyExists if `path` exists;
  // InvalidArgument as Format; IoError from the disk.
  static Status CreateFile(const std::string& path, uint64_t size_bytes, const JournalSetup& setup);

  // Opens a formatted journal and recovers it (recovery() says what was found), then makes a new
  // epoch durable (a header write), so entries left past the recovered end by the crash can never
  // be mistaken for later ones. Corruption if the file's size is not the header's, neither
  // header slot is valid, or the journal is another group's; IoError from the file.
  static Result<std::unique_ptr<Journal>> Open(std::shared_ptr<BlockFile> file,
                                               const std::string& group);
  // Open over PosixBlockFile::Open(path).
  static Result<std::unique_ptr<Journal>> OpenFile(const std::string& path,
                                                   const std::string& group);

  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;
  ~Journal();

  // ---- master ----

  // Appends `write` under the next sequence and returns that sequence once the entry is written
  // (not yet durable: see WaitDurable). Never waits for space: NoSpace when the entry does not
  // fit before the head (the caller suspends the group, PFUS). InvalidArgument for a bad write
  // or batch flags (a begin inside an open batch, an end without one) or at a restore journal;
  // Busy during Reset; IoError from the file, after which every call fails with it (the journal
  // must be reopened: what reached the disk is unknown).
  Result<uint64_t> Append(const JournalWrite& write);

  // Where an appended entry goes: its sequence, its offset (and that of the wrap marker written
  // first when it wraps to the start of the ring; 0: none), its epoch and data checksum.
  struct Placement {
    uint64_t sequence = 0;
    uint64_t offset = 0;
    uint64_t marker_offset = 0;
    uint64_t epoch = 0;
    uint64_t checksum = 0;
  };
  // Append in two steps, for a caller that records each entry under a lock of its own and must
  // not hold it across the disk write (AsyncGroup::Append): ReserveAppend checks and places the
  // entry as Append does; WriteAppended puts it (and its wrap marker) on disk, with Append's
  // errors, and records that it is written (AppendReceived's entries too). Every placement is
  // written exactly once, or the journal is failed (entries after it never become durable).
  Result<Placement> ReserveAppend(const JournalWrite& write);
  Status WriteAppended(const Placement& placement, const JournalWrite& write);

  // Returns once every entry through `sequence` is durable. Group commit: a sync covers every
  // entry written when it starts, and a caller whose entry a running sync covers waits for that
  // one (others start their own, up to kJournalSyncsInFlight at once); a sequence already
  // durable costs nothing. InvalidArgument for a sequence never appended; IoError (sticky, as
  // Append) if a write or the sync failed.
  Status WaitDurable(uint64_t sequence);

  // WaitDurable(every entry appended so far).
  Status Sync();

  // asyncfix (issue 13 speed): the first lap's fill. A new file is written whole only for its
  // first kJournalPrefillBytes; the rest is reserved (unwritten extents), and an append there
  // makes its fdatasync convert an extent (about a fifth of an async 4 KiB write+fsync).
  // Writes zeros over up to `max_bytes` of the free ring ahead of the tail, in chunks of
  // kJournalFillAheadChunkBytes, each under mutex_ (no entry is there, and none can be placed
  // there meanwhile), then syncs the file. Does nothing once the tail has wrapped (every block
  // was written once) or while the journal is failed or being reset. Returns the bytes still to
  // fill (0: done), or the file's error (which does not fail the journal: appends still work).
  // With `lead_while_appending` > 0, writes nothing while the writers are busy and the filled
  // part already reaches that far past the tail: busy means an append moved the tail since the
  // previous call (the fill thread calls every kJournalFillAheadPauseMs). Busy writers then pay
  // for zeros only as their own appends come near unwritten space, and the rest of the lap is
  // filled while they idle. Thread-safe.
  Result<uint64_t> FillAhead(uint64_t max_bytes, uint64_t lead_while_appending = 0);

  // ---- restore ----

  // Stores an entry the master sent, under its own sequence (then WaitDurable(sequence) before
  // acknowledging it). Exactly the next sequence is stored (kStored); one already held is
  // acknowledged (kAlreadyHeld) and not stored again. Refused and counted: a gap
  // (InvalidArgument naming the sequence expected), data that fails `data_checksum` or an
  // already-held sequence with other data (Corruption). Otherwise as Append.
  Result<Receipt> AppendReceived(uint64_t sequence, const JournalWrite& write,
                                 uint64_t data_checksum);
  // A batch's entries in order, each as AppendReceived, until the first one refused (its
  // status is returned; those before it are stored). `*stored`: whether any entry was new.
  // Entries placed one after the other in the ring go to disk together, in writes of up to
  // kJournalReceiveRunBytes (one pwrite for a batch of small writes instead of one each:
  // issue 13, the secondary's share of the CPU and of the disk's requests).
  Status AppendReceivedRun(const std::vector<ReceivedEntry>& entries, bool* stored);

  // The last sequence the restore path may apply: entries are durable here through it and no
  // batch is open before it (a batch applies only once its end is durable).
  uint64_t ApplicableThrough() const;

  // Records durably that entries through `sequence` are applied to the volumes. Ok and nothing
  // written if not beyond the current one; InvalidArgument at a master journal or beyond
  // ApplicableThrough(); IoError (sticky). `free`: the caller synced the volumes, and the same
  // header write frees the entries too, as FreeThrough(sequence) would (one sync, not two).
  Status MarkApplied(uint64_t sequence, bool free = false);

  // ---- both ----

  // Entries from `from_sequence` on, consecutive: those the journal wrote last from memory
  // (recent_, the bytes it wrote), the rest from the file, their data verified; as many as fit
  // `max_bytes` of data but at least one if any is there. Only durable entries are read (the
  // master ships nothing it could still lose in a crash: its transfer thread calls Sync first,
  // which costs nothing when every entry is durable already). Empty when none is durable past it;
  // NotFound if `from_sequence` was freed; Corruption naming the sequence if an entry fails
  // its checks (never returned); IoError from the file.
  Result<std::vector<JournalEntry>> Read(uint64_t from_sequence, size_t max_bytes) const;

  // Frees entries through `sequence` durably (header write and sync) before their space is
  // reused. Master: the secondary applied them and this image holds them durably. Restore: they
  // are applied (≤ applied_sequence) and the volumes synced. Inside a batch, frees only through
  // the entry before the batch (the head stays at a batch boundary: recovery needs the begin).
  // Ok and nothing written if already freed; InvalidArgument beyond the durable (restore:
  // applied) sequence; IoError (sticky).
  Status FreeThrough(uint64_t sequence);

  // Makes every appended entry durable, then the new role with the pointers in one header
  // write (the four-role swap). IoError (sticky).
  Status SetRole(JournalRole role);

  // Drops every entry and makes `next_sequence` the next one, durably (a new epoch: nothing
  // written before can be recovered after it). Busy while appends are in flight; InvalidArgument
  // for 0; IoError (sticky).
  Status Reset(uint64_t next_sequence);
  // asyncswap: Reset and SetRole in one header write (the four-role swap of a journal whose
  // entries are applied or marked dirty): after a crash the journal is the old one or the new,
  // never an emptied journal of the old role. Errors as Reset.
  Status ResetAs(uint64_t next_sequence, JournalRole role);

  // ---- accessors ----
  const std::string& group() const { return group_; }
  JournalRole role() const;
  uint64_t size_bytes() const { return size_bytes_; }  // the file
  uint64_t capacity_bytes() const;                     // the ring: size - headers
  uint64_t used_bytes() const;                         // head to tail, wrap gaps too
  bool AboveHighWater(int percent) const;              // used > percent% of capacity
  uint64_t first_sequence() const;  // the oldest held; next_sequence() when empty
  uint64_t next_sequence() const;   // what the next entry gets (or must have, restore)
  uint64_t last_sequence() const { return next_sequence() - 1; }
  uint64_t durable_sequence() const;  // every entry through it is durable
  uint64_t applied_sequence() const;  // restore: applied to the volumes
  JournalCounters counters() const;
  const JournalRecovery& recovery() const { return recovery_; }
  // Ok, or the sticky IoError after which the journal must be reopened.
  Status health() const;

 private:
  // One held entry in memory: sequence index_first_ + its index in index_.
  struct IndexEntry {
    uint64_t offset;
    uint64_t data_checksum;
    uint64_t epoch;
    uint32_t data_bytes;  // the ring holds JournalEntryBytes(data_bytes, entry_align_)
    uint16_t flags;
    bool written;  // the pwrite completed (in order of sequence: written_through_)
  };
  static_assert(sizeof(IndexEntry) <= 32, "kMaxJournalBytes counts 32 bytes of index per entry");

  Journal(std::shared_ptr<BlockFile> file, const JournalHeader& header, uint64_t slot);

  // journal_recovery.cc: rebuilds the index from the durable head.
  Status Recover();
  struct RecoveryScan;  // journal_recovery.cc: Recover's place in the ring and its findings
  // One step of Recover's scan: checks the entry or wrap marker at the scan's position and
  // indexes an entry. True to go on; false with `scan.reason` set where the journal ends; the
  // file's IoError or Corruption (cut short). Caller holds mutex_.
  Result<bool> ScanNextLocked(RecoveryScan& scan);
  // ScanNextLocked's part for an entry (not a marker) whose decoded header is `header`; `at`
  // names its offset for `scan.reason`. Caller holds mutex_.
  Result<bool> IndexScannedLocked(RecoveryScan& scan, const std::string& at,
                                  const JournalEntryHeader& header);
  // A master journal drops the batch a crash left open (noted in `scan.reason`), so that the
  // next entry takes the begin's sequence and place. Caller holds mutex_.
  void DropUnfinishedBatchLocked(RecoveryScan& scan);

  // A batch that must apply whole: its first sequence and its last (0 while still open).
  struct BatchRange {
    uint64_t begin;
    uint64_t end;
  };

  // Checks the state, space and batch flags and reserves the entry's place under `sequence`
  // (the next one). Caller holds mutex_.
  Result<Placement> ReserveLocked(uint64_t sequence, const JournalWrite& write, uint64_t checksum);
  // Where an entry of `ring_bytes` goes, or NoSpace. Caller holds mutex_.
  Result<Placement> PlaceLocked(uint64_t ring_bytes) const;
  // The wrap marker a placement needs first, if any (marker_offset), for an entry of `kind`.
  Status WriteMarker(const Placement& placement, wire::WriteKind kind);
  // AppendReceived's checks and the entry's place, under mutex_: nullopt for one already held.
  // `intact`: its data matches `checksum`.
  Result<std::optional<Placement>> ReceiveLocked(uint64_t sequence, const JournalWrite& write,
                                                 uint64_t checksum, bool intact);
  // Records that the entries of `placements` are on disk (or, with an error, fails the journal);
  // `recent` (copies of those of them recent_ holds, made by the caller outside mutex_) are moved
  // into recent_ meanwhile.
  Status RecordWritten(std::span<const Placement> placements, const Status& written,
                       std::span<JournalEntry> recent = {});
  // The entry that `write` became at `placement`, as Read returns it.
  static JournalEntry EntryOf(const Placement& placement, const JournalWrite& write);
  // The header of the entry a placement holds (flags, kind, volume, range, checksum).
  JournalEntryHeader EntryHeader(const Placement& placement, const JournalWrite& write) const;
  // Entries (headers[i] with data[i], in their JournalEntryBytes) one after the other from
  // `offset`, in one write: buffered in a version 1 file, whole sectors
  // (BlockFile::WriteSectors) in a version 2 one.
  Status WriteRun(uint64_t offset, std::span<const JournalEntryHeader> headers,
                  std::span<const std::string_view> data);
  // Writes `next` into the other slot and syncs; on success it is the durable header. Caller
  // holds header_mutex_ (not mutex_); `written_through` is what the sync makes durable too.
  Status PersistHeader(JournalHeader next, uint64_t written_through);
  // Where Read finds an entry in the ring.
  struct ReadSpan {
    uint64_t sequence;
    uint64_t offset;
    uint64_t ring_bytes;
  };
  // Bytes read at once: `size` bytes from ring offset `first`, at `at` in `buffer` (aligned
  // there for BlockFile::ReadSectors; not zeroed first: the read fills it).
  struct ReadRun {
    uint64_t first = 0;
    std::unique_ptr<char[]> buffer;
    size_t at = 0;
    size_t size = 0;
    std::string_view bytes() const { return std::string_view(buffer.get() + at, size); }
  };
  // Read's spans from `from_sequence` on (which the index holds): durable entries up to
  // `max_bytes` of data, and (`at_least_one`) at least one if there is one. Caller holds mutex_.
  void SpansToReadLocked(uint64_t from_sequence, size_t max_bytes, bool at_least_one,
                         std::vector<ReadSpan>* spans) const;
  // Where the run of spans from `begin` ends (one past its last): spans side by side in the ring,
  // up to kJournalReadRunBytes in all (a longer entry is a run of its own).
  static size_t RunEnd(const std::vector<ReadSpan>& spans, size_t begin);
  // Reads spans [begin, end), side by side, in one read: IoError, or Corruption if the file is
  // short.
  Result<ReadRun> ReadRunOf(const std::vector<ReadSpan>& spans, size_t begin, size_t end) const;
  // Checks and decodes `span`'s entry in `run` (which holds it): Corruption names the entry that
  // fails its header or data checksum, or where another entry is.
  Result<JournalEntry> DecodeSpan(const ReadSpan& span, const ReadRun& run) const;
  // Drops index entries before the durable head. Caller holds mutex_.
  void DropFreedLocked();
  // Entries through `sequence` are durable. Caller holds mutex_.
  void AdvanceDurableLocked(uint64_t sequence);
  uint64_t ApplicableThroughLocked() const;
  // FreeThrough's new head in `*next` (at a batch boundary at or before `sequence`); false when
  // that frees nothing.
  bool MoveHeadLocked(uint64_t sequence, JournalHeader* next) const;
  // The last sequence ≤ `sequence` after which no batch is open (from the head on): where the
  // head may move. Caller holds mutex_.
  uint64_t BatchBoundaryAtOrBeforeLocked(uint64_t sequence) const;
  uint64_t UsedBytesLocked() const;
  // FillAhead: the bytes from fill_offset_ to the end still to fill (0: done). Caller holds mutex_.
  uint64_t FillRemainingLocked();
  Status FailLocked(const Status& status);  // makes `status` sticky, wakes waiters

  const std::shared_ptr<BlockFile> file_;
  const std::string group_;
  const uint64_t size_bytes_;
  const uint64_t journal_id_;
  // Where entries start (JournalEntryAlign of the file's version): 1, or whole sectors written
  // with O_DIRECT (BlockFile::WriteSectors).
  const uint64_t entry_align_;

  std::mutex header_mutex_;          // one header write at a time; taken before mutex_
  mutable std::mutex mutex_;         // guards everything below
  std::condition_variable changed_;  // written_through_, durable_sequence_, syncs, failed_
  JournalHeader header_;             // the durable header: role, epoch, head, applied
  uint64_t slot_ = 0;                // the slot header_ is in
  std::deque<IndexEntry> index_;
  uint64_t index_first_ = 1;  // the sequence of index_.front()
  uint64_t next_sequence_ = 1;
  uint64_t tail_offset_ = 0;     // where the next entry goes (or its wrap marker)
  uint64_t fill_offset_ = 0;     // FillAhead: the ring from the tail up to it is written
  uint64_t fill_seen_tail_ = 0;  // FillAhead: the tail at its previous call (busy writers move it)
  bool first_lap_done_ = false;  // the tail wrapped: every block of the ring was written
  uint64_t written_through_ = 0;
  uint64_t durable_sequence_ = 0;
  // Batches not yet durable to their end, oldest first (the last may be open): the restore
  // path may not apply into the first of them.
  std::deque<BatchRange> batches_;
  uint64_t resets_ = 0;  // Reset count: a Read that saw one rereads nothing stale
  // The entries the journal wrote last, for Read (node/recent_entries.h): a master's appended
  // ones for its transfer, a restore journal's received ones for its restore. Added by
  // RecordWritten and cleared by a reset, both under mutex_ (so no entry of before a reset is
  // added after it).
  const std::unique_ptr<RecentEntries> recent_;
  int syncs_in_flight_ = 0;
  uint64_t sync_target_ = 0;  // the largest sequence a sync started for (in flight or done)
  bool resetting_ = false;
  Status failed_;
  JournalCounters counters_;
  JournalRecovery recovery_;
};

}  // namespace pairfs::node
