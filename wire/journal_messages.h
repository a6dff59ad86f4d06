// The journal transfer of async pairs (doc/design.md "Async pairs"): the master journal's entries
// shipped to the peer's restore journal in batches, and the restore side's answer. Plain value
// types with the checks every such message from the peer passes before anything uses it
// (doc/design.md "Security": nothing a peer sends is trusted for size or shape). Pure and
// thread-safe. Bodies and limits: wire/protocol.md ("JournalBatchMessage", "JournalAckMessage").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wire/messages.h"

namespace pairfs::wire {

// One journal entry as it travels: the master journal's sequence, the primary's volume, the
// write, and the checksum of its data (node/journal.h JournalDataChecksum) so that the restore
// journal stores only what the master wrote.
struct JournalEntryMessage {
  uint64_t sequence = 0;
  std::string volume;  // the primary's volume name
  uint8_t kind = 0;    // WriteKind
  uint64_t offset = 0;
  uint64_t length = 0;
  uint16_t flags = 0;  // node/journal_format.h kJournalBatchBegin/End, else 0
  uint64_t data_checksum = 0;
  std::vector<char> data;  // kData: `length` bytes; discards: empty
  MSGPACK_DEFINE_MAP(sequence, volume, kind, offset, length, flags, data_checksum, data);
};

// Consecutive entries of one group from `first_sequence` on. No entries: a probe, answered with
// what the restore side holds (the transfer resumes from there after a reconnect or restart).
struct JournalBatchMessage {
  static constexpr MessageType kType = MessageType::kJournalBatch;
  std::string group;
  uint64_t first_sequence = 0;
  std::vector<JournalEntryMessage> entries;
  // ---- asyncswap (issue 13 part 5): the generation fence and what clusterd's RPO line needs ----
  // The newest generation of the group's pairs at the sender: a restore side whose pairs are
  // newer (taken over: SSWS, or swapped) refuses the batch, so an old primary that comes back
  // cannot write into a copy that went on without it.
  Generation generation;
  // The sender's latest appended sequence and its wall-clock time (ms since the epoch; 0: none
  // unapplied), the data bytes of the entries after this batch through it, and how many ms
  // before the latest append the oldest of them was appended: what is lost if the link is lost
  // now (the secondary keeps the last it heard).
  uint64_t appended_sequence = 0;
  uint64_t appended_unix_ms = 0;
  uint64_t unsent_bytes = 0;
  uint64_t unsent_span_ms = 0;
  // ---- end asyncswap ----
  MSGPACK_DEFINE_MAP(group, first_sequence, entries, generation, appended_sequence,
                     appended_unix_ms, unsent_bytes, unsent_span_ms);
  // Ok, or InvalidArgument naming the field: group a name ([A-Za-z0-9._-]{1,64}), sequences
  // 1..2^63-1 and consecutive from first_sequence, at most kMaxJournalBatchEntries entries and
  // kMaxJournalBatchDataBytes of data, each entry a volume name, a known kind, length 1 to
  // kMaxDataBytes within kMaxVolumeBytes, data exactly `length` bytes for a write and none for a
  // discard, flags only the batch bits.
  Status Check() const;
};

// The restore side's answer: every entry through `durable_sequence` is durable there (the
// primary ships from durable_sequence + 1 next), entries through `applied_sequence` are applied
// to its volumes (the master may free them once its own image holds them). `code` non-zero: the
// batch was refused (a gap, a bad checksum, no such group), `message` says why; the sequences
// still say what the restore side holds.
struct JournalAckMessage {
  static constexpr MessageType kType = MessageType::kJournalAck;
  uint8_t code = 0;
  std::string message;
  std::string group;
  uint64_t durable_sequence = 0;
  uint64_t applied_sequence = 0;
  // ---- async resync (issue 13 part 4) ----
  // The restore journal's ring in bytes (0: not said, an older peer): the master sizes a batch
  // that applies only whole (a resync's) to fit it. At most node's kMaxJournalBytes.
  uint64_t capacity_bytes = 0;
  MSGPACK_DEFINE_MAP(code, message, group, durable_sequence, applied_sequence, capacity_bytes);
  // Ok, or InvalidArgument: a known code, message ≤ kMaxReasonBytes of UTF-8, group a name,
  // sequences below 2^63, applied ≤ durable.
  Status Check() const;
};

// What a batch's entries hold in data bytes (for the sender's limit).
size_t JournalBatchDataBytes(const JournalBatchMessage& batch);

}  // namespace pairfs::wire
