// Site-to-site pair commands, one message type and one struct each, and the checks every message
// from the peer passes before anything uses it (doc/design.md "Security": nothing a peer sends is
// trusted for size or shape). Plain value types; every function is pure and thread-safe.
//
// Each command struct has `kType`, msgpack map fields (fields can be added), and `Check()`: Ok, or
// InvalidArgument naming the field and the rule it breaks. DecodePeerMessage(bytes, &command)
// decodes and checks in one step; a handler only ever sees a command that passed. Bodies and
// limits: wire/protocol.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "wire/messages.h"

namespace pairfs::wire {

// ---- field checks (shared with the control requests) ------------------------------------------

// Ok if `text` is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view text);

// [A-Za-z0-9._-]{1,64}, not "." or ".." (node/names.h CheckVolumeName, the same rule).
Status CheckVolumeNameField(std::string_view field, std::string_view name);
// [A-Za-z0-9._-]{1,31}, or empty when `may_be_empty`.
Status CheckSiteNameField(std::string_view field, std::string_view name, bool may_be_empty);
// Text a user sees (group names, holders): at most `max_bytes`, UTF-8, no control characters.
Status CheckTextField(std::string_view field, std::string_view text, size_t max_bytes);
// A counter (generation, epoch) below 2^63.
Status CheckCounterField(std::string_view field, uint64_t value);
// A generation: counter below 2^63, site a site name or empty.
Status CheckGeneration(const Generation& generation);
// A region size: a power of two within [kMinRegionBytes, kMaxRegionBytes].
Status CheckRegionSize(uint64_t region_size_bytes);
// A volume size: a positive multiple of kVolumeAlignBytes, at most kMaxVolumeBytes.
Status CheckVolumeSizeField(uint64_t size_bytes);
// A reservation record: epoch below 2^63, holder and outdated site within their limits.
Status CheckRecord(const ReservationRecord& record);

// ---- pair commands ----------------------------------------------------------------------------
// `volume` is always the receiver's volume.

struct PeerCreateCommand {
  static constexpr MessageType kType = MessageType::kPeerCreate;
  std::string volume;
  Generation generation;
  std::string peer_volume;  // the asker's volume
  uint64_t size_bytes = 0;
  std::string mode;   // sync | async
  std::string fence;  // data | reserve | never
  std::string group;
  uint64_t region_size_bytes = 0;
  MSGPACK_DEFINE_MAP(volume, generation, peer_volume, size_bytes, mode, fence, group,
                     region_size_bytes);
  Status Check() const;
};

// A `pairctl split` (read_write: --rw) a secondary runs at its primary. With `group`: a
// `split --group` issued at the site of the group's secondaries; the primary splits every pair of
// that group at one point (`volume` is one of them, checked as any).
struct PeerForwardSplitCommand {
  static constexpr MessageType kType = MessageType::kPeerForwardSplit;
  std::string volume;
  bool read_write = false;
  std::string group;
  MSGPACK_DEFINE_MAP(volume, read_write, group);
  Status Check() const;
};

struct PeerForwardResyncCommand {
  static constexpr MessageType kType = MessageType::kPeerForwardResync;
  std::string volume;
  MSGPACK_DEFINE_MAP(volume);
  Status Check() const;
};

// A reserve or release the peer orders (it is the primary, or the determining volume's decider).
struct PeerReserveAskCommand {
  static constexpr MessageType kType = MessageType::kPeerReserveAsk;
  std::string volume;
  std::string holder;
  bool release = false;
  bool preempt = false;  // clusterd takes a managed volume
  bool force = false;    // the determining volume's force
  std::string outdated;  // mark this site outdated with the grant ("" = leave as is)
  MSGPACK_DEFINE_MAP(volume, holder, release, preempt, force, outdated);
  Status Check() const;
};

// The primary's record, as it is; a receiver refuses one far ahead of its own (kMaxEpochJump).
struct PeerReserveMirrorCommand {
  static constexpr MessageType kType = MessageType::kPeerReserveMirror;
  std::string volume;
  ReservationRecord record;
  MSGPACK_DEFINE_MAP(volume, record);
  Status Check() const;
};

struct PeerVoteCommand {
  static constexpr MessageType kType = MessageType::kPeerVote;
  std::string volume;
  std::string holder;
  std::string outdated;
  bool force = false;
  bool release = false;
  uint64_t hold = 0;  // house (issue 12): ReserveVoteRequest::hold (absent, 0: not numbered)
  MSGPACK_DEFINE_MAP(volume, holder, outdated, force, release, hold);
  Status Check() const;
};

struct PeerStatusAskCommand {
  static constexpr MessageType kType = MessageType::kPeerStatusAsk;
  std::string volume;
  MSGPACK_DEFINE_MAP(volume);
  Status Check() const;
};

// Hashes of regions [first, first + count); count ≤ kMaxVerifyRegionsPerCall (the receiver
// checks first against its volume).
struct PeerVerifyCommand {
  static constexpr MessageType kType = MessageType::kPeerVerify;
  std::string volume;
  uint64_t first = 0;
  uint64_t count = 0;
  MSGPACK_DEFINE_MAP(volume, first, count);
  Status Check() const;
};

struct PeerSplitCommand {
  static constexpr MessageType kType = MessageType::kPeerSplit;
  std::string volume;
  Generation generation;
  bool read_write = false;
  MSGPACK_DEFINE_MAP(volume, generation, read_write);
  Status Check() const;
};

// This side becomes the copy's target; `swap`: resync --swap at the asker.
struct PeerResyncCommand {
  static constexpr MessageType kType = MessageType::kPeerResync;
  std::string volume;
  Generation generation;
  bool swap = false;
  // ---- async resync (issue 13 part 4) ----
  // An async pair's resync whose regions go through the journal as one batch (applied whole):
  // the target stays consistent (a crash-consistent prefix) throughout. Absent (an older peer):
  // false, the target is inconsistent until the copy is done.
  bool journaled = false;
  // ---- asyncrest (issue 13: journaled resync --swap) ----
  // With `swap` and `journaled`: the batch bytes this pair's own marked regions may take at the
  // target (the old primary, after it marked its master journal's entries), so that the batch
  // fits the journal (node/async_resync.cc AsyncResyncFits). The target stays consistent only
  // when its marks are within it, else it is inconsistent and its answer says so (`consistent`),
  // and the asker copies with the copy engine. Absent (an older asker): 0, inconsistent.
  uint64_t swap_budget_bytes = 0;
  MSGPACK_DEFINE_MAP(volume, generation, swap, journaled, swap_budget_bytes);
  Status Check() const;
};

struct PeerDemoteCommand {
  static constexpr MessageType kType = MessageType::kPeerDemote;
  std::string volume;
  Generation generation;
  MSGPACK_DEFINE_MAP(volume, generation);
  Status Check() const;
};

struct PeerCopyDoneCommand {
  static constexpr MessageType kType = MessageType::kPeerCopyDone;
  std::string volume;
  Generation generation;
  MSGPACK_DEFINE_MAP(volume, generation);
  Status Check() const;
};

struct PeerTrimCommand {
  static constexpr MessageType kType = MessageType::kPeerTrim;
  std::string volume;
  Generation generation;
  MSGPACK_DEFINE_MAP(volume, generation);
  Status Check() const;
};

struct PeerDissolveCommand {
  static constexpr MessageType kType = MessageType::kPeerDissolve;
  std::string volume;
  MSGPACK_DEFINE_MAP(volume);
  Status Check() const;
};

// Bits [first, first + count) of the receiver's dirty bitmap, at `generation` (the one a resync
// just agreed on); count ≤ kBitmapChunkRegions.
struct PeerBitmapCommand {
  static constexpr MessageType kType = MessageType::kPeerBitmap;
  std::string volume;
  Generation generation;
  uint64_t first = 0;
  uint64_t count = 0;
  MSGPACK_DEFINE_MAP(volume, generation, first, count);
  Status Check() const;
};

// ---- commands carried between the sites (pairctl --site; wire/protocol.md "Carried commands") --

// A control request an operator sent to this site through the peer's node (pairctl --site):
// `type` is one CheckCarriable allows, `body` its msgpack body (at most kMaxCarriedBodyBytes). The
// receiver runs it as its own control endpoint would and answers with a kReply.
struct PeerCarryCommand {
  static constexpr MessageType kType = MessageType::kPeerCarry;
  uint16_t type = 0;
  std::vector<char> body;
  MSGPACK_DEFINE_MAP(type, body);
  Status Check() const;  // CheckCarriedRequest(type, body)
};

// The control requests another site's operator may send here through the peer's node: the
// volume and pair commands of a node's control endpoint. Not `fence` (only this site's clusterd
// fences this site's copies), not the cluster commands (clusterd's own endpoint), not `carry`
// itself (a carried request is never carried on). Ok, or InvalidArgument naming the type.
Status CheckCarriable(uint16_t type);

// Ok if a kCarry or kPeerCarry frame body of `body_bytes` is within kMaxCarryRequestBytes; checked
// before decoding, so an oversized carry costs no decoding. InvalidArgument otherwise.
Status CheckCarrySize(size_t body_bytes);

// A carried request as the far site's operator sent it: CheckCarriable(type), a body of at most
// kMaxCarriedBodyBytes, and none of the fields only a site's own clusterd sets (takeover's
// `cluster` and `peer_lost`, reserve's `preempt`): the far site's operator speaks as an operator,
// never as this site's clusterd. InvalidArgument naming what is wrong (also for a takeover or
// reserve body that does not decode).
Status CheckCarriedRequest(uint16_t type, const std::vector<char>& body);

// pairctl's CarryRequest at its own node: `site` empty or a site name, and CheckCarriedRequest.
Status CheckCarryRequest(const CarryRequest& request);

// A reply carried back from the peer's node: a known code, a reason within kMaxReasonBytes, at
// most one display page of volumes whose rows are within their limits (a volume name; keywords,
// sites, group and holder no longer than DescribeVolume makes them), verify's mismatches as at
// most kMaxVerifyRegionsPerCall offset-length pairs, a group command's outcomes at most
// kMaxGroupPairs (a volume name, a known code, a message of at most kMaxOutcomeMessageBytes).
// InvalidArgument naming the field.
Status CheckCarriedReply(const Reply& reply);

// The answer to every pair command.
struct PeerAnswerMessage {
  static constexpr MessageType kType = MessageType::kPeerAnswer;
  uint8_t code = 0;
  std::string message;
  Generation generation;
  std::string role;
  std::string status;
  bool consistent = true;
  bool outdated = false;
  std::string reserved_by;
  uint64_t size_bytes = 0;
  bool created = false;
  std::vector<char> bits;         // a chunk of a dirty bitmap, one bit per region, low bit first
  std::vector<uint64_t> hashes;   // verify: one per region
  ReservationRecord reservation;  // vote: the record after the vote
  MSGPACK_DEFINE_MAP(code, message, generation, role, status, consistent, outdated, reserved_by,
                     size_bytes, created, bits, hashes, reservation);
  Status Check() const;
};

// ---- the write path's messages (bodies in wire/messages.h) -------------------------------------

// A replica or forwarded write: a volume name, a generation, a known kind, length 1 to
// kMaxDataBytes, offset + length within kMaxVolumeBytes, and for a data write `data_bytes` (the
// data that came with it) == length; a discard carries no data.
Status CheckWrite(const WriteMessage& message, size_t data_bytes);
// A grant, ack or confirm: a volume name, a generation, a known code.
Status CheckWriteReply(const WriteReplyMessage& message);
Status CheckFlush(const FlushMessage& message);
// A status exchange: names, generation, role and status keywords, progress ≤ 100.
Status CheckPeerStatus(const PeerStatusMessage& message);

// ---- decoding ---------------------------------------------------------------------------------

// Decodes `bytes` as T (DecodeBody) and runs T's check. Corruption for bytes that are not a T,
// InvalidArgument for a T with a field out of range. Never throws.
template <class T>
Status DecodePeerMessage(std::string_view bytes, T* out) {
  Status decoded = DecodeBody(bytes, out);
  if (!decoded.ok()) return decoded;
  return out->Check();
}

}  // namespace pairfs::wire
