#include "wire/peer_messages.h"

namespace pairfs::wire {

namespace {

std::string Quote(std::string_view field) { return std::string(field); }

Status Refuse(std::string_view field, const std::string& rule) {
  return Status::InvalidArgument(Quote(field) + " " + rule);
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

Status CheckNameChars(std::string_view field, std::string_view name, size_t max_bytes) {
  if (name.empty()) return Refuse(field, "is empty");
  if (name.size() > max_bytes)
    return Refuse(field, "is longer than " + std::to_string(max_bytes) + " bytes");
  for (char c : name) {
    if (!IsNameChar(c)) return Refuse(field, "has a character outside [A-Za-z0-9._-]");
  }
  if (name == "." || name == "..") return Refuse(field, "cannot be '.' or '..'");
  return Status::Ok();
}

Status CheckKeyword(std::string_view field, std::string_view value) {
  if (value.size() > kMaxKeywordBytes)
    return Refuse(field, "is longer than " + std::to_string(kMaxKeywordBytes) + " bytes");
  for (char c : value) {
    if (!IsNameChar(c)) return Refuse(field, "is not a keyword");
  }
  return Status::Ok();
}

Status CheckCode(std::string_view field, uint8_t code) {
  if (code > static_cast<uint8_t>(Code::kUnsupported))
    return Refuse(field, "is an unknown code " + std::to_string(code));
  return Status::Ok();
}

// Runs the checks in order; the first refusal wins.
template <class... Checks>
Status All(Checks&&... checks) {
  Status result;
  ((result.ok() ? (void)(result = checks()) : (void)0), ...);
  return result;
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      ++i;
      continue;
    }
    size_t extra = 0;
    uint32_t point = 0;
    if ((byte & 0xe0) == 0xc0) {
      extra = 1;
      point = byte & 0x1f;
    } else if ((byte & 0xf0) == 0xe0) {
      extra = 2;
      point = byte & 0x0f;
    } else if ((byte & 0xf8) == 0xf0) {
      extra = 3;
      point = byte & 0x07;
    } else {
      return false;
    }
    if (text.size() - i <= extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      point = (point << 6) | (next & 0x3f);
    }
    static constexpr uint32_t kSmallest[] = {0, 0x80, 0x800, 0x10000};
    if (point < kSmallest[extra] || point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff))
      return false;
    i += extra + 1;
  }
  return true;
}

Status CheckVolumeNameField(std::string_view field, std::string_view name) {
  return CheckNameChars(field, name, kMaxVolumeNameBytes);
}

Status CheckSiteNameField(std::string_view field, std::string_view name, bool may_be_empty) {
  if (name.empty() && may_be_empty) return Status::Ok();
  return CheckNameChars(field, name, kMaxSiteNameBytes);
}

Status CheckTextField(std::string_view field, std::string_view text, size_t max_bytes) {
  if (text.size() > max_bytes)
    return Refuse(field, "is longer than " + std::to_string(max_bytes) + " bytes");
  if (!IsValidUtf8(text)) return Refuse(field, "is not valid UTF-8");
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) return Refuse(field, "has a control character");
  }
  return Status::Ok();
}

Status CheckCounterField(std::string_view field, uint64_t value) {
  if (value > kMaxCounterValue)
    return Refuse(field, "is 2^63 or more (" + std::to_string(value) + ")");
  return Status::Ok();
}

Status CheckGeneration(const Generation& generation) {
  return All([&] { return CheckCounterField("generation counter", generation.counter); },
             [&] { return CheckSiteNameField("generation site", generation.site, true); });
}

namespace {

// The fields most commands carry: the receiver's volume and the pair's generation.
Status CheckVolumeAtGeneration(std::string_view volume, const Generation& generation) {
  return All([&] { return CheckVolumeNameField("volume", volume); },
             [&] { return CheckGeneration(generation); });
}

// Regions [first, first + count) of some volume: 1 to `max_count` of them, inside 256 TiB.
Status CheckRegionRange(uint64_t first, uint64_t count, uint64_t max_count) {
  if (count == 0 || count > max_count)
    return Refuse("count", "is not 1 to " + std::to_string(max_count));
  if (first > kMaxVolumeBytes / kMinRegionBytes - count)
    return Refuse("first", "is past any volume");
  return Status::Ok();
}

}  // namespace

Status CheckRegionSize(uint64_t region_size_bytes) {
  if (region_size_bytes < kMinRegionBytes || region_size_bytes > kMaxRegionBytes ||
      (region_size_bytes & (region_size_bytes - 1)) != 0) {
    return Refuse("region_size_bytes", "is not a power of two from 4 KiB to 64 MiB (" +
                                           std::to_string(region_size_bytes) + ")");
  }
  return Status::Ok();
}

Status CheckVolumeSizeField(uint64_t size_bytes) {
  if (size_bytes == 0 || size_bytes % kVolumeAlignBytes != 0 || size_bytes > kMaxVolumeBytes) {
    return Refuse("size_bytes", "is not a positive multiple of 4 KiB up to 256 TiB (" +
                                    std::to_string(size_bytes) + ")");
  }
  return Status::Ok();
}

Status CheckRecord(const ReservationRecord& record) {
  return All([&] { return CheckCounterField("record epoch", record.epoch); },
             [&] { return CheckTextField("record holder", record.holder, kMaxHolderBytes); },
             [&] { return CheckSiteNameField("record outdated site", record.outdated, true); },
             [&] { return CheckCounterField("record hold", record.hold); });
}

// ---- pair commands ----

Status PeerCreateCommand::Check() const {
  return All([&] { return CheckVolumeNameField("volume", volume); },
             [&] { return CheckGeneration(generation); },
             [&] { return CheckVolumeNameField("peer_volume", peer_volume); },
             [&] { return CheckVolumeSizeField(size_bytes); },
             [&] { return CheckKeyword("mode", mode); },
             [&] { return CheckKeyword("fence", fence); },
             [&] { return CheckTextField("group", group, kMaxGroupNameBytes); },
             [&] { return CheckRegionSize(region_size_bytes); });
}

Status PeerForwardSplitCommand::Check() const {
  Status named = CheckVolumeNameField("volume", volume);
  if (!named.ok()) return named;
  return CheckTextField("group", group, kMaxGroupNameBytes);
}

Status PeerForwardResyncCommand::Check() const { return CheckVolumeNameField("volume", volume); }

Status PeerReserveAskCommand::Check() const {
  return All([&] { return CheckVolumeNameField("volume", volume); },
             [&] { return CheckTextField("holder", holder, kMaxHolderBytes); },
             [&] { return holder.empty() ? Refuse("holder", "is empty") : Status::Ok(); },
             [&] { return CheckSiteNameField("outdated", outdated, true); });
}

Status PeerReserveMirrorCommand::Check() const {
  return All([&] { return CheckVolumeNameField("volume", volume); },
             [&] { return CheckRecord(record); });
}

Status PeerVoteCommand::Check() const {
  return All([&] { return CheckVolumeNameField("volume", volume); },
             [&] { return CheckTextField("holder", holder, kMaxHolderBytes); },
             [&] { return holder.empty() ? Refuse("holder", "is empty") : Status::Ok(); },
             [&] { return CheckSiteNameField("outdated", outdated, true); },
             [&] { return CheckCounterField("hold", hold); });
}

Status PeerStatusAskCommand::Check() const { return CheckVolumeNameField("volume", volume); }

Status PeerVerifyCommand::Check() const {
  return All([&] { return CheckVolumeNameField("volume", volume); },
             [&] { return CheckRegionRange(first, count, kMaxVerifyRegionsPerCall); });
}

Status PeerSplitCommand::Check() const { return CheckVolumeAtGeneration(volume, generation); }

Status PeerResyncCommand::Check() const { return CheckVolumeAtGeneration(volume, generation); }

Status PeerDemoteCommand::Check() const { return CheckVolumeAtGeneration(volume, generation); }

Status PeerCopyDoneCommand::Check() const { return CheckVolumeAtGeneration(volume, generation); }

Status PeerTrimCommand::Check() const { return CheckVolumeAtGeneration(volume, generation); }

Status PeerDissolveCommand::Check() const { return CheckVolumeNameField("volume", volume); }

Status PeerBitmapCommand::Check() const {
  return All([&] { return CheckVolumeAtGeneration(volume, generation); },
             [&] { return CheckRegionRange(first, count, kBitmapChunkRegions); });
}

// ---- carried commands ---------------------------------------------------------------------

Status CheckCarriable(uint16_t type) {
  switch (static_cast<MessageType>(type)) {
    case MessageType::kVolumeCreate:
    case MessageType::kVolumeDelete:
    case MessageType::kVolumeList:
    case MessageType::kVolumeResize:
    case MessageType::kDisplay:
    case MessageType::kReserve:
    case MessageType::kRelease:
    case MessageType::kPairCreate:
    case MessageType::kSplit:
    case MessageType::kResync:
    case MessageType::kTakeover:
    case MessageType::kDissolve:
    case MessageType::kVerify: return Status::Ok();
    default:
      return Refuse("type", std::string(MessageTypeName(static_cast<MessageType>(type))) + " (" +
                                std::to_string(type) + ") cannot be carried to another site");
  }
}

Status CheckCarrySize(size_t body_bytes) {
  if (body_bytes <= kMaxCarryRequestBytes) return Status::Ok();
  return Refuse("carry", "is " + std::to_string(body_bytes) + " bytes, over the " +
                             std::to_string(kMaxCarryRequestBytes) + " a carried request may be");
}

namespace {

// The fields only a site's own clusterd sets, refused in a request from the far site.
Status CheckNoClusterdFields(uint16_t type, const std::vector<char>& body) {
  const std::string_view bytes(body.data(), body.size());
  if (type == static_cast<uint16_t>(MessageType::kTakeover)) {
    TakeoverRequest takeover;
    if (Status decoded = DecodeBody(bytes, &takeover); !decoded.ok())
      return Refuse("body", "is not a takeover request: " + decoded.message());
    if (takeover.cluster || takeover.peer_lost)
      return Refuse("body",
                    "asks a takeover as clusterd (cluster, peer_lost): only the site's "
                    "own clusterd may");
  }
  if (type == static_cast<uint16_t>(MessageType::kReserve)) {
    ReserveRequest reserve;
    if (Status decoded = DecodeBody(bytes, &reserve); !decoded.ok())
      return Refuse("body", "is not a reserve request: " + decoded.message());
    if (reserve.preempt)
      return Refuse("body", "asks a preempting reserve: only the site's own clusterd may");
  }
  if (type == static_cast<uint16_t>(MessageType::kRelease)) {  // ops (issue 15)
    ReleaseRequest release;
    if (Status decoded = DecodeBody(bytes, &release); !decoded.ok())
      return Refuse("body", "is not a release request: " + decoded.message());
    if (release.force)
      return Refuse("body", "asks a forced release: only the site's own clusterd may");
  }
  return Status::Ok();
}

// A string of a carried row no longer than DescribeVolume makes it.
Status CheckRowField(std::string_view field, const std::string& value, size_t max_bytes) {
  return value.size() <= max_bytes
             ? Status::Ok()
             : Refuse(field, "is longer than " + std::to_string(max_bytes) + " bytes");
}

Status CheckCarriedRow(const VolumeInfo& row) {
  return All(
      [&] { return CheckVolumeNameField("volumes.name", row.name); },
      [&] { return CheckRowField("volumes.role", row.role, kMaxKeywordBytes); },
      [&] { return CheckRowField("volumes.status", row.status, kMaxKeywordBytes); },
      [&] { return CheckRowField("volumes.mode", row.mode, kMaxKeywordBytes); },
      [&] { return CheckRowField("volumes.fence", row.fence, kMaxKeywordBytes); },
      [&] { return CheckRowField("volumes.peer_site", row.peer_site, kMaxSiteNameBytes); },
      [&] { return CheckRowField("volumes.peer_volume", row.peer_volume, kMaxVolumeNameBytes); },
      [&] { return CheckRowField("volumes.reserved_by", row.reserved_by, kMaxHolderBytes); },
      [&] { return CheckRowField("volumes.group", row.group, kMaxGroupNameBytes); });
}

}  // namespace

Status CheckCarriedRequest(uint16_t type, const std::vector<char>& body) {
  return All([&] { return CheckCarriable(type); },
             [&] {
               return body.size() > kMaxCarriedBodyBytes
                          ? Refuse("body",
                                   "is over " + std::to_string(kMaxCarriedBodyBytes) + " bytes")
                          : Status::Ok();
             },
             [&] { return CheckNoClusterdFields(type, body); });
}

Status PeerCarryCommand::Check() const { return CheckCarriedRequest(type, body); }

Status CheckCarryRequest(const CarryRequest& request) {
  return All([&] { return CheckSiteNameField("site", request.site, true); },
             [&] { return CheckCarriedRequest(request.type, request.body); });
}

Status CheckCarriedReply(const Reply& reply) {
  Status checked =
      All([&] { return CheckCode("code", reply.code); },
          [&] {
            return reply.message.size() > kMaxReasonBytes ? Refuse("message", "is too long")
                                                          : Status::Ok();
          },
          [&] {
            return reply.volumes.size() > kDisplayPageVolumes
                       ? Refuse("volumes", "are more than one display page")
                       : Status::Ok();
          },
          [&] {
            return reply.mismatches.size() % 2 != 0 ||
                           reply.mismatches.size() > 2 * kMaxVerifyRegionsPerCall
                       ? Refuse("mismatches", "are not at most " +
                                                  std::to_string(kMaxVerifyRegionsPerCall) +
                                                  " offset-length pairs")
                       : Status::Ok();
          });
  for (const VolumeInfo& row : reply.volumes) {
    if (!checked.ok()) break;
    checked = CheckCarriedRow(row);
  }
  // A group command's outcomes (--site with --group): one per pair of a group, at most.
  if (checked.ok() && reply.outcomes.size() > kMaxGroupPairs)
    checked = Refuse("outcomes", "are more than a group's " + std::to_string(kMaxGroupPairs));
  for (const PairOutcome& outcome : reply.outcomes) {
    if (!checked.ok()) break;
    checked =
        All([&] { return CheckVolumeNameField("outcomes.name", outcome.name); },
            [&] { return CheckCode("outcomes.code", outcome.code); },
            [&] {
              return CheckRowField("outcomes.message", outcome.message, kMaxOutcomeMessageBytes);
            });
  }
  return checked;
}

Status PeerAnswerMessage::Check() const {
  return All(
      [&] { return CheckCode("code", code); },
      [&] {
        return message.size() > kMaxReasonBytes ? Refuse("message", "is too long") : Status::Ok();
      },
      [&] { return CheckGeneration(generation); }, [&] { return CheckKeyword("role", role); },
      [&] { return CheckKeyword("status", status); },
      [&] { return CheckTextField("reserved_by", reserved_by, kMaxHolderBytes); },
      [&] {
        return size_bytes > kMaxVolumeBytes ? Refuse("size_bytes", "is over 256 TiB")
                                            : Status::Ok();
      },
      [&] {
        return bits.size() > kBitmapChunkBytes ? Refuse("bits", "is over one chunk") : Status::Ok();
      },
      [&] {
        return hashes.size() > kMaxVerifyRegionsPerCall
                   ? Refuse("hashes", "are more than one call's")
                   : Status::Ok();
      },
      [&] { return CheckRecord(reservation); });
}

// ---- the write path ----

Status CheckWrite(const WriteMessage& message, size_t data_bytes) {
  return All([&] { return CheckVolumeNameField("volume", message.volume); },
             [&] { return CheckGeneration(message.generation); },
             [&] { return CheckTextField("origin_site", message.origin_site, kMaxHolderBytes); },
             [&] {
               return message.kind > static_cast<uint8_t>(WriteKind::kZeroRange)
                          ? Refuse("kind", "is unknown")
                          : Status::Ok();
             },
             [&] {
               return message.length == 0 || message.length > kMaxDataBytes
                          ? Refuse("length",
                                   "is not 1 to " + std::to_string(kMaxDataBytes) + " bytes")
                          : Status::Ok();
             },
             [&] {
               return message.offset > kMaxVolumeBytes - message.length
                          ? Refuse("offset", "is past any volume")
                          : Status::Ok();
             },
             [&] {
               const bool data = message.kind == static_cast<uint8_t>(WriteKind::kData);
               if (data && data_bytes != message.length)
                 return Refuse("data", "is not as long as length");
               if (!data && data_bytes != 0) return Refuse("data", "comes with a discard");
               return Status::Ok();
             });
}

Status CheckWriteReply(const WriteReplyMessage& message) {
  return All([&] { return CheckVolumeNameField("volume", message.volume); },
             [&] { return CheckGeneration(message.generation); },
             [&] { return CheckCode("code", message.code); });
}

Status CheckFlush(const FlushMessage& message) {
  return All([&] { return CheckVolumeNameField("volume", message.volume); },
             [&] { return CheckGeneration(message.generation); },
             [&] { return CheckCode("code", message.code); });
}

Status CheckPeerStatus(const PeerStatusMessage& message) {
  return All([&] { return CheckVolumeNameField("volume", message.volume); },
             [&] { return CheckGeneration(message.generation); },
             [&] { return CheckKeyword("role", message.role); },
             [&] { return CheckKeyword("status", message.status); },
             [&] {
               return message.copy_progress > 100 ? Refuse("copy_progress", "is over 100")
                                                  : Status::Ok();
             });
}

}  // namespace pairfs::wire
