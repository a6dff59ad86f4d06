// The bytes of a journal file (node/FORMAT.md, "Journal file"): the two header slots and the
// entry headers, encoded and checked. Pure functions over byte strings, thread-safe. The ring
// logic that uses them is node/journal.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "node/block_file.h"
#include "node/limits.h"
#include "wire/messages.h"
#include "wire/status.h"

namespace pairfs::node {

inline constexpr uint32_t kJournalMagic = 0x484a4650;       // "PFJH" little-endian
inline constexpr uint32_t kJournalEntryMagic = 0x454a4650;  // "PFJE" little-endian
// Version 2 (every new journal; their sizes are whole pages): every entry and
// wrap marker starts on a kJournalEntryAlignBytes boundary, zeros after its data up to the next,
// so that the journal writes whole sectors with O_DIRECT (BlockFile::WriteSectors): an append's
// fdatasync then flushes only its own sectors, where a buffered append (version 1: entries packed
// back to back) costs a third more per 4 KiB write + fsync (make bench's journal-pattern line).
// Version 1 files are read and written as before.
inline constexpr uint16_t kJournalVersion = 2;
inline constexpr uint16_t kJournalPackedVersion = 1;
inline constexpr uint64_t kJournalEntryAlignBytes = kSectorBytes;  // what WriteSectors writes
// A page of the page cache: the first lap's fill (Journal::FillAhead) writes whole ones only.
inline constexpr uint64_t kJournalFillPageBytes = 4096;
// kJournalFillChunkBytes of zeros, aligned for O_DIRECT: what a new journal's prefill
// (Journal::CreateFile) and the first lap's fill (Journal::FillAhead) write.
const char* JournalZeros();
static_assert(kJournalFillAheadChunkBytes <= kJournalFillChunkBytes);

// Two header slots of one page each (a slot write never shares a page with the other slot or
// with entries), then the ring of entries up to the end of the file.
inline constexpr uint64_t kJournalSlotBytes = 4096;
inline constexpr uint64_t kJournalSlotCount = 2;
inline constexpr uint64_t kJournalDataStart = kJournalSlotBytes * kJournalSlotCount;
// The encoded part of a slot (the rest of its page is zeros); its checksum is the last 8 bytes.
inline constexpr size_t kJournalSlotEncodedBytes = 256;

// Every entry (and wrap marker) starts with this fixed header; the data follows it at once.
inline constexpr size_t kJournalEntryHeaderBytes = 128;
static_assert(kJournalDataStart % kJournalEntryAlignBytes == 0 &&
                  kJournalEntryAlignBytes >= kJournalEntryHeaderBytes,
              "version 2: the ring starts aligned, and a wrap marker fits one aligned unit");

// Entry flags (u16).
inline constexpr uint16_t kJournalWrapMarker = 1;  // not an entry: the next one is at the start
inline constexpr uint16_t kJournalBatchBegin = 2;  // first entry of a batch that applies whole
inline constexpr uint16_t kJournalBatchEnd = 4;    // last entry of that batch (may be the first)
inline constexpr uint16_t kJournalKnownFlags =
    kJournalWrapMarker | kJournalBatchBegin | kJournalBatchEnd;

static_assert(kJournalSlotEncodedBytes <= kJournalSlotBytes);

static_assert(kMinJournalBytes > kJournalDataStart + kJournalEntryHeaderBytes,
              "the smallest journal holds at least one entry");

static_assert(kMaxJournalEntryDataBytes <= UINT32_MAX);

enum class JournalRole : uint8_t { kMaster = 1, kRestore = 2 };

// "master" or "restore".
const char* JournalRoleName(JournalRole role);

// What a header slot holds. Sequences start at 1; 0 means "none".
struct JournalHeader {
  uint16_t version = kJournalVersion;  // kJournalPackedVersion or kJournalVersion
  uint64_t slot_counter = 0;  // +1 on every header write; the valid slot with the larger wins
  uint64_t size_bytes = 0;    // the file's size
  uint64_t journal_id = 0;    // random at creation; every entry carries it
  uint64_t epoch = 0;         // +1 on every open and reset; entries carry the one they were
                              // written in
  uint64_t floor_epoch = 0;   // the entry at the head is of this epoch or later (set by free
                              // and reset)
  JournalRole role = JournalRole::kMaster;
  std::string group;
  uint64_t head_sequence = 1;  // the oldest entry still needed, or the next one when empty
  uint64_t head_offset = kJournalDataStart;  // where that entry starts (or will)
  uint64_t applied_sequence = 0;             // restore: the last entry applied to the volumes
  uint64_t durable_tail_sequence = 0;        // every entry up to here was durable at this write
};

// The kJournalSlotEncodedBytes of a slot.
std::string EncodeJournalHeader(const JournalHeader& header);

// The header in a slot's bytes, or Corruption naming the first check that failed (length,
// magic, version, checksum, role, group name, pointers out of the file).
Result<JournalHeader> DecodeJournalHeader(std::string_view bytes);

// One entry's header as stored. A wrap marker has the wrap flag, the sequence of the entry that
// follows at the start of the ring, and no data.
struct JournalEntryHeader {
  uint16_t flags = 0;
  wire::WriteKind kind = wire::WriteKind::kData;
  uint64_t sequence = 0;
  uint64_t journal_id = 0;
  uint64_t epoch = 0;
  uint64_t volume_offset = 0;
  uint64_t length = 0;  // bytes of the volume written or discarded
  uint64_t data_checksum = 0;
  std::string_view volume;  // kMaxVolumeNameBytes at most; a view into the caller's bytes

  // Bytes of data that follow the header: `length` for a write, none for a discard or marker.
  uint64_t data_bytes() const;
};

// Writes the kJournalEntryHeaderBytes of `header` at `out[at ..)`; the caller has sized `out`
// and checked the volume name's length.
void EncodeJournalEntryHeader(const JournalEntryHeader& header, std::string& out, size_t at);

// The header in `bytes` (at least kJournalEntryHeaderBytes; its volume name is a view into
// `bytes`), or Corruption for a bad magic, checksum, kind, flag or length.
Result<JournalEntryHeader> DecodeJournalEntryHeader(std::string_view bytes);

// The checksum of an entry's data (XXH3-64: every journaled byte is hashed on append, on
// receipt, on read and on recovery).
uint64_t JournalDataChecksum(std::string_view data);

// Where entries start in a journal of `version`: every byte (1) or every kJournalEntryAlignBytes.
constexpr uint64_t JournalEntryAlign(uint16_t version) {
  return version == kJournalPackedVersion ? 1 : kJournalEntryAlignBytes;
}

// Bytes an entry with `data_bytes` of data takes in the ring whose entries start every `align`
// bytes (the newest version's by default: a bound for any version).
constexpr uint64_t JournalEntryBytes(uint64_t data_bytes,
                                     uint64_t align = kJournalEntryAlignBytes) {
  const uint64_t bytes = kJournalEntryHeaderBytes + data_bytes;
  return (bytes + align - 1) / align * align;
}

static_assert(kJournalDataStart + 2 * JournalEntryBytes(kMaxJournalEntryDataBytes) <=
                  kMinConfiguredJournalBytes,
              "a configured journal, even empty with its tail mid-ring, takes the largest entry");
static_assert(kJournalScanChunkBytes >= JournalEntryBytes(kMaxJournalEntryDataBytes),
              "recovery reads any entry whole in one chunk");

}  // namespace pairfs::node
