#include "node/journal_format.h"

#include <algorithm>

#include "wire/endian.h"
#include "wire/envelope.h"

namespace pairfs::node {
namespace {

using wire::GetLittleEndian;
using wire::PutLittleEndian;

// Header slot fields (node/FORMAT.md, "Journal file").
constexpr size_t kSlotMagicAt = 0;
constexpr size_t kSlotVersionAt = 4;
constexpr size_t kSlotRoleAt = 6;
constexpr size_t kSlotGroupLengthAt = 7;
constexpr size_t kSlotCounterAt = 8;
constexpr size_t kSlotSizeAt = 16;
constexpr size_t kSlotJournalIdAt = 24;
constexpr size_t kSlotEpochAt = 32;
constexpr size_t kSlotFloorEpochAt = 40;
constexpr size_t kSlotHeadSequenceAt = 48;
constexpr size_t kSlotHeadOffsetAt = 56;
constexpr size_t kSlotAppliedAt = 64;
constexpr size_t kSlotDurableTailAt = 72;
constexpr size_t kSlotGroupAt = 80;
constexpr size_t kSlotChecksumAt = kJournalSlotEncodedBytes - sizeof(uint64_t);
static_assert(kSlotGroupAt + wire::kMaxGroupNameBytes <= kSlotChecksumAt);

// Entry header fields.
constexpr size_t kEntryMagicAt = 0;
constexpr size_t kEntryKindAt = 4;
constexpr size_t kEntryVolumeLengthAt = 5;
constexpr size_t kEntryFlagsAt = 6;
constexpr size_t kEntrySequenceAt = 8;
constexpr size_t kEntryJournalIdAt = 16;
constexpr size_t kEntryEpochAt = 24;
constexpr size_t kEntryVolumeOffsetAt = 32;
constexpr size_t kEntryLengthAt = 40;
constexpr size_t kEntryDataChecksumAt = 48;
constexpr size_t kEntryVolumeAt = 56;
constexpr size_t kEntryChecksumAt = kJournalEntryHeaderBytes - sizeof(uint64_t);
static_assert(kEntryVolumeAt + kMaxVolumeNameBytes == kEntryChecksumAt);

bool AllZero(std::string_view bytes) { return bytes.find_first_not_of('\0') == bytes.npos; }

}  // namespace

const char* JournalRoleName(JournalRole role) {
  return role == JournalRole::kMaster ? "master" : "restore";
}

std::string EncodeJournalHeader(const JournalHeader& header) {
  std::string out(kJournalSlotEncodedBytes, '\0');
  PutLittleEndian<uint32_t>(out, kSlotMagicAt, kJournalMagic);
  PutLittleEndian<uint16_t>(out, kSlotVersionAt, header.version);
  PutLittleEndian<uint8_t>(out, kSlotRoleAt, static_cast<uint8_t>(header.role));
  PutLittleEndian<uint8_t>(out, kSlotGroupLengthAt, static_cast<uint8_t>(header.group.size()));
  PutLittleEndian<uint64_t>(out, kSlotCounterAt, header.slot_counter);
  PutLittleEndian<uint64_t>(out, kSlotSizeAt, header.size_bytes);
  PutLittleEndian<uint64_t>(out, kSlotJournalIdAt, header.journal_id);
  PutLittleEndian<uint64_t>(out, kSlotEpochAt, header.epoch);
  PutLittleEndian<uint64_t>(out, kSlotFloorEpochAt, header.floor_epoch);
  PutLittleEndian<uint64_t>(out, kSlotHeadSequenceAt, header.head_sequence);
  PutLittleEndian<uint64_t>(out, kSlotHeadOffsetAt, header.head_offset);
  PutLittleEndian<uint64_t>(out, kSlotAppliedAt, header.applied_sequence);
  PutLittleEndian<uint64_t>(out, kSlotDurableTailAt, header.durable_tail_sequence);
  out.replace(kSlotGroupAt, header.group.size(), header.group);
  PutLittleEndian<uint64_t>(out, kSlotChecksumAt,
                            wire::Checksum(std::string_view(out).substr(0, kSlotChecksumAt)));
  return out;
}

Result<JournalHeader> DecodeJournalHeader(std::string_view bytes) {
  if (bytes.size() < kJournalSlotEncodedBytes) return Status::Corruption("header slot too short");
  if (GetLittleEndian<uint32_t>(bytes, kSlotMagicAt) != kJournalMagic)
    return Status::Corruption("bad header magic");
  const uint16_t version = GetLittleEndian<uint16_t>(bytes, kSlotVersionAt);
  if (version != kJournalVersion && version != kJournalPackedVersion)
    return Status::Corruption("journal version " + std::to_string(version) + " is not supported");
  if (GetLittleEndian<uint64_t>(bytes, kSlotChecksumAt) !=
      wire::Checksum(bytes.substr(0, kSlotChecksumAt)))
    return Status::Corruption("header checksum mismatch");
  JournalHeader header;
  header.version = version;
  const uint8_t role = GetLittleEndian<uint8_t>(bytes, kSlotRoleAt);
  if (role != static_cast<uint8_t>(JournalRole::kMaster) &&
      role != static_cast<uint8_t>(JournalRole::kRestore))
    return Status::Corruption("unknown journal role " + std::to_string(role));
  header.role = static_cast<JournalRole>(role);
  const size_t group_length = GetLittleEndian<uint8_t>(bytes, kSlotGroupLengthAt);
  if (group_length == 0 || group_length > wire::kMaxGroupNameBytes)
    return Status::Corruption("bad group name length");
  header.group = std::string(bytes.substr(kSlotGroupAt, group_length));
  if (header.group.find('\0') != std::string::npos ||
      !AllZero(bytes.substr(kSlotGroupAt + group_length, wire::kMaxGroupNameBytes - group_length)))
    return Status::Corruption("bad group name");
  header.slot_counter = GetLittleEndian<uint64_t>(bytes, kSlotCounterAt);
  header.size_bytes = GetLittleEndian<uint64_t>(bytes, kSlotSizeAt);
  header.journal_id = GetLittleEndian<uint64_t>(bytes, kSlotJournalIdAt);
  header.epoch = GetLittleEndian<uint64_t>(bytes, kSlotEpochAt);
  header.floor_epoch = GetLittleEndian<uint64_t>(bytes, kSlotFloorEpochAt);
  header.head_sequence = GetLittleEndian<uint64_t>(bytes, kSlotHeadSequenceAt);
  header.head_offset = GetLittleEndian<uint64_t>(bytes, kSlotHeadOffsetAt);
  header.applied_sequence = GetLittleEndian<uint64_t>(bytes, kSlotAppliedAt);
  header.durable_tail_sequence = GetLittleEndian<uint64_t>(bytes, kSlotDurableTailAt);
  if (header.size_bytes < kMinJournalBytes || header.size_bytes > kMaxJournalBytes)
    return Status::Corruption("journal size " + std::to_string(header.size_bytes) +
                              " out of range");
  if (header.head_offset < kJournalDataStart || header.head_offset > header.size_bytes ||
      header.size_bytes - header.head_offset < kJournalEntryHeaderBytes)
    return Status::Corruption("head offset outside the ring");
  if (header.head_sequence == 0 || header.head_sequence == UINT64_MAX)
    return Status::Corruption("bad head sequence");
  if (header.floor_epoch > header.epoch || header.epoch == UINT64_MAX)
    return Status::Corruption("bad epoch");
  return header;
}

uint64_t JournalEntryHeader::data_bytes() const {
  const bool carries_data = kind == wire::WriteKind::kData && (flags & kJournalWrapMarker) == 0;
  return carries_data ? length : 0;
}

const char* JournalZeros() {
  alignas(kJournalFillPageBytes) static const char zeros[kJournalFillChunkBytes] = {};
  return zeros;
}

void EncodeJournalEntryHeader(const JournalEntryHeader& header, std::string& out, size_t at) {
  std::fill(out.begin() + static_cast<ptrdiff_t>(at),
            out.begin() + static_cast<ptrdiff_t>(at + kJournalEntryHeaderBytes), '\0');
  PutLittleEndian<uint32_t>(out, at + kEntryMagicAt, kJournalEntryMagic);
  PutLittleEndian<uint8_t>(out, at + kEntryKindAt, static_cast<uint8_t>(header.kind));
  PutLittleEndian<uint8_t>(out, at + kEntryVolumeLengthAt,
                           static_cast<uint8_t>(header.volume.size()));
  PutLittleEndian<uint16_t>(out, at + kEntryFlagsAt, header.flags);
  PutLittleEndian<uint64_t>(out, at + kEntrySequenceAt, header.sequence);
  PutLittleEndian<uint64_t>(out, at + kEntryJournalIdAt, header.journal_id);
  PutLittleEndian<uint64_t>(out, at + kEntryEpochAt, header.epoch);
  PutLittleEndian<uint64_t>(out, at + kEntryVolumeOffsetAt, header.volume_offset);
  PutLittleEndian<uint64_t>(out, at + kEntryLengthAt, header.length);
  PutLittleEndian<uint64_t>(out, at + kEntryDataChecksumAt, header.data_checksum);
  out.replace(at + kEntryVolumeAt, header.volume.size(), header.volume);
  const std::string_view covered = std::string_view(out).substr(at, kEntryChecksumAt);
  PutLittleEndian<uint64_t>(out, at + kEntryChecksumAt, wire::Checksum(covered));
}

Result<JournalEntryHeader> DecodeJournalEntryHeader(std::string_view bytes) {
  if (bytes.size() < kJournalEntryHeaderBytes) return Status::Corruption("entry header cut short");
  if (GetLittleEndian<uint32_t>(bytes, kEntryMagicAt) != kJournalEntryMagic)
    return Status::Corruption("no entry magic");
  if (GetLittleEndian<uint64_t>(bytes, kEntryChecksumAt) !=
      wire::Checksum(bytes.substr(0, kEntryChecksumAt)))
    return Status::Corruption("entry header checksum mismatch");
  JournalEntryHeader header;
  const uint8_t kind = GetLittleEndian<uint8_t>(bytes, kEntryKindAt);
  if (kind > static_cast<uint8_t>(wire::WriteKind::kZeroRange))
    return Status::Corruption("unknown entry kind " + std::to_string(kind));
  header.kind = static_cast<wire::WriteKind>(kind);
  header.flags = GetLittleEndian<uint16_t>(bytes, kEntryFlagsAt);
  if ((header.flags & ~kJournalKnownFlags) != 0) return Status::Corruption("unknown entry flags");
  const size_t volume_length = GetLittleEndian<uint8_t>(bytes, kEntryVolumeLengthAt);
  if (volume_length > kMaxVolumeNameBytes) return Status::Corruption("volume name too long");
  header.volume = bytes.substr(kEntryVolumeAt, volume_length);
  header.sequence = GetLittleEndian<uint64_t>(bytes, kEntrySequenceAt);
  header.journal_id = GetLittleEndian<uint64_t>(bytes, kEntryJournalIdAt);
  header.epoch = GetLittleEndian<uint64_t>(bytes, kEntryEpochAt);
  header.volume_offset = GetLittleEndian<uint64_t>(bytes, kEntryVolumeOffsetAt);
  header.length = GetLittleEndian<uint64_t>(bytes, kEntryLengthAt);
  header.data_checksum = GetLittleEndian<uint64_t>(bytes, kEntryDataChecksumAt);
  if (header.sequence == 0) return Status::Corruption("entry sequence 0");
  const bool marker = (header.flags & kJournalWrapMarker) != 0;
  if (marker && (header.flags != kJournalWrapMarker || header.length != 0 || volume_length != 0))
    return Status::Corruption("malformed wrap marker");
  if (!marker && volume_length == 0) return Status::Corruption("entry without a volume");
  if (header.kind == wire::WriteKind::kData && header.length > kMaxJournalEntryDataBytes)
    return Status::Corruption("entry data longer than any write");
  if (header.length > kMaxVolumeBytes || header.volume_offset > kMaxVolumeBytes - header.length)
    return Status::Corruption("entry range beyond any volume");
  return header;
}

uint64_t JournalDataChecksum(std::string_view data) { return wire::FastChecksum(data); }

}  // namespace pairfs::node
