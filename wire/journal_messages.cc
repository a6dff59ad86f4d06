#include "wire/journal_messages.h"

#include "wire/peer_messages.h"

namespace pairfs::wire {
namespace {

Status Refuse(const std::string& field, const std::string& rule) {
  return Status::InvalidArgument(field + " " + rule);
}

Status CheckSequence(const std::string& field, uint64_t sequence) {
  if (sequence == 0 || sequence > kMaxCounterValue)
    return Refuse(field, "is not a sequence in 1..2^63-1 (" + std::to_string(sequence) + ")");
  return Status::Ok();
}

// The batch bits of node/journal_format.h (2 begin, 4 end): the only flags an entry may carry
// on the wire (a wrap marker never leaves its journal).
constexpr uint16_t kBatchFlags = 2 | 4;

Status CheckEntry(const std::string& field, const JournalEntryMessage& entry) {
  Status named = CheckVolumeNameField(field + ".volume", entry.volume);
  if (!named.ok()) return named;
  if (entry.kind > static_cast<uint8_t>(WriteKind::kZeroRange))
    return Refuse(field + ".kind", "is an unknown write kind " + std::to_string(entry.kind));
  if (entry.length == 0 || entry.length > kMaxDataBytes)
    return Refuse(field + ".length", "is not within 1.." + std::to_string(kMaxDataBytes));
  if (entry.offset > kMaxVolumeBytes || entry.length > kMaxVolumeBytes - entry.offset)
    return Refuse(field + ".offset", "plus length is beyond the largest volume");
  const bool has_data = entry.kind == static_cast<uint8_t>(WriteKind::kData);
  if (has_data ? entry.data.size() != entry.length : !entry.data.empty())
    return Refuse(field + ".data", has_data ? "is not `length` bytes" : "comes with a discard");
  if ((entry.flags & ~kBatchFlags) != 0)
    return Refuse(field + ".flags", "has bits other than batch begin/end");
  return Status::Ok();
}

// asyncswap (issue 13 part 5): the generation and the RPO fields appended to a batch. A sender
// that predates them sends none (all zero).
Status CheckSwapFields(const JournalBatchMessage& batch) {
  Status counter = CheckCounterField("generation counter", batch.generation.counter);
  if (!counter.ok()) return counter;
  Status site = CheckSiteNameField("generation site", batch.generation.site, true);
  if (!site.ok()) return site;
  if (batch.appended_sequence > kMaxCounterValue)
    return Refuse("appended_sequence", "is not below 2^63");
  const uint64_t through = batch.first_sequence - 1 + batch.entries.size();
  if (batch.appended_sequence != 0 && batch.appended_sequence < through)
    return Refuse("appended_sequence", "is before the batch's last entry");
  if (batch.unsent_bytes > kMaxCounterValue || batch.unsent_span_ms > kMaxCounterValue ||
      batch.appended_unix_ms > kMaxCounterValue)
    return Refuse("unsent_bytes", "unsent_span_ms or appended_unix_ms is not below 2^63");
  return Status::Ok();
}

}  // namespace

size_t JournalBatchDataBytes(const JournalBatchMessage& batch) {
  size_t bytes = 0;
  for (const JournalEntryMessage& entry : batch.entries) bytes += entry.data.size();
  return bytes;
}

Status JournalBatchMessage::Check() const {
  Status named = CheckVolumeNameField("group", group);
  if (!named.ok()) return named;
  Status first = CheckSequence("first_sequence", first_sequence);
  if (!first.ok()) return first;
  if (entries.size() > kMaxJournalBatchEntries)
    return Refuse("entries", "are more than " + std::to_string(kMaxJournalBatchEntries));
  if (entries.size() > kMaxCounterValue - first_sequence)
    return Refuse("entries", "run past the largest sequence");
  size_t data_bytes = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string field = "entries[" + std::to_string(i) + "]";
    if (entries[i].sequence != first_sequence + i)
      return Refuse(field + ".sequence", "does not follow the one before it");
    Status entry = CheckEntry(field, entries[i]);
    if (!entry.ok()) return entry;
    data_bytes += entries[i].data.size();
    if (data_bytes > kMaxJournalBatchDataBytes)
      return Refuse("entries", "carry more than " + std::to_string(kMaxJournalBatchDataBytes) +
                                   " bytes of data");
  }
  return CheckSwapFields(*this);
}

Status JournalAckMessage::Check() const {
  if (code > static_cast<uint8_t>(Code::kUnsupported))
    return Refuse("code", "is an unknown code " + std::to_string(code));
  Status text = CheckTextField("message", message, kMaxReasonBytes);
  if (!text.ok()) return text;
  Status named = CheckVolumeNameField("group", group);
  if (!named.ok()) return named;
  if (durable_sequence > kMaxCounterValue || applied_sequence > kMaxCounterValue)
    return Refuse("durable_sequence", "or applied_sequence is not below 2^63");
  if (applied_sequence > durable_sequence)
    return Refuse("applied_sequence", "is beyond durable_sequence");
  if (capacity_bytes > kMaxCounterValue) return Refuse("capacity_bytes", "is not below 2^63");
  return Status::Ok();
}

}  // namespace pairfs::wire
