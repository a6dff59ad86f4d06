// Message bodies: one struct per message type, encoded as msgpack (maps for control messages, so
// fields can be added; arrays for the data path, which is hot). wire/protocol.md lists the fields.
// Plain value types; the codec functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <msgpack.hpp>

#include "wire/envelope.h"
#include "wire/limits.h"
#include "wire/status.h"

namespace pairfs::wire {

// ---- control: requests --------------------------------------------------------------------

struct VolumeCreateRequest {
  static constexpr MessageType kType = MessageType::kVolumeCreate;
  std::string name;
  uint64_t size_bytes = 0;
  MSGPACK_DEFINE_MAP(name, size_bytes);
};

struct VolumeDeleteRequest {
  static constexpr MessageType kType = MessageType::kVolumeDelete;
  std::string name;
  MSGPACK_DEFINE_MAP(name);
};

// `name` empty: every volume, a page at a time (DisplayRequest).
struct VolumeListRequest {
  static constexpr MessageType kType = MessageType::kVolumeList;
  std::string name;
  std::string after;
  MSGPACK_DEFINE_MAP(name, after);
};

struct VolumeResizeRequest {
  static constexpr MessageType kType = MessageType::kVolumeResize;
  std::string name;
  uint64_t size_bytes = 0;
  MSGPACK_DEFINE_MAP(name, size_bytes);
};

// `name` empty: every volume, a page of at most kDisplayPageVolumes at a time, in name order:
// those named after `after` ("" = from the first). The reply says `more` while volumes are left;
// the asker asks again with `after` = the last name it got.
// `group` (pairctl display --group G; `name` then empty): the pairs of consistency group G, all in
// one page (a group holds at most kMaxGroupPairs).
struct DisplayRequest {
  static constexpr MessageType kType = MessageType::kDisplay;
  std::string name;
  std::string after;
  std::string group;
  MSGPACK_DEFINE_MAP(name, after, group);
};

// `holder` empty: the node's own site.
// `preempt` (clusterd, after winning the determining volume): take a managed volume's reservation
// from another holder; allowed only to the holder of the determining volume's reservation.
// `force` (ops, issue 15: clusterd's cluster takeover --force; a release only, read from either
// body): release the determining volume's record although another site holds it or a managed
// pair here is apart from its peer. Ignored on a reserve; refused in a carried request.
struct ReserveRequest {
  static constexpr MessageType kType = MessageType::kReserve;
  std::string name;
  std::string holder;
  bool preempt = false;
  bool force = false;  // ops: see above
  MSGPACK_DEFINE_MAP(name, holder, preempt, force);
};

struct ReleaseRequest {
  static constexpr MessageType kType = MessageType::kRelease;
  std::string name;
  std::string holder;
  bool force = false;  // ops: see ReserveRequest
  MSGPACK_DEFINE_MAP(name, holder, force);
};

struct PairCreateRequest {
  static constexpr MessageType kType = MessageType::kPairCreate;
  std::string name;
  std::string mode;         // sync | async
  std::string peer_volume;  // "" = the same name
  std::string fence;        // data | reserve | never; "" = never
  std::string group;
  MSGPACK_DEFINE_MAP(name, mode, peer_volume, fence, group);
};

// Split, resync and takeover name one pair (`name`) or, with `group` and an empty `name`, every
// pair of a consistency group at this site (node/group_commands.h); never both.
struct SplitRequest {
  static constexpr MessageType kType = MessageType::kSplit;
  std::string name;
  bool read_write = false;
  std::string group;
  MSGPACK_DEFINE_MAP(name, read_write, group);
};

struct ResyncRequest {
  static constexpr MessageType kType = MessageType::kResync;
  std::string name;
  bool swap = false;
  std::string group;
  MSGPACK_DEFINE_MAP(name, swap, group);
};

// `cluster`: clusterd's takeover or swap of the determining volume (refused to an operator
// without --force: only the winner of its reserve moves its primary).
struct TakeoverRequest {
  static constexpr MessageType kType = MessageType::kTakeover;
  std::string name;
  bool force = false;
  bool cluster = false;
  bool peer_lost = false;  // clusterd knows the peer is gone: take over without asking it first
  std::string group;       // takeover --group (see SplitRequest)
  MSGPACK_DEFINE_MAP(name, force, cluster, peer_lost, group);
};

// clusterd fences (or, with fenced = false, unfences) its copy of a managed volume: EROFS.
struct FenceRequest {
  static constexpr MessageType kType = MessageType::kFence;
  std::string name;
  bool fenced = true;
  bool winner = false;  // an unfence by the site that won the determining volume
  MSGPACK_DEFINE_MAP(name, fenced, winner);
};

struct ClusterStatusRequest {
  static constexpr MessageType kType = MessageType::kClusterStatus;
  std::string site;  // the asker's idea of the site, for the log only
  MSGPACK_DEFINE_MAP(site);
};

struct ClusterUnfenceRequest {
  static constexpr MessageType kType = MessageType::kClusterUnfence;
  std::string site;
  MSGPACK_DEFINE_MAP(site);
};

// ---- ops (issue 15 part 3) ----
// pairctl cluster takeover --force: at the survivor, clusterd takes over the determining volume
// and every managed volume (--force), releases the determining volume for the lost holder and
// races for it at once (doc/design.md "clusterd and the determining volume"). `force` must be
// true: refused otherwise, and refused while the peer is heard on a heartbeat link or the data
// link. The reply's message says what was done and what may be lost; `cluster` the new view.
struct ClusterTakeoverRequest {
  static constexpr MessageType kType = MessageType::kClusterTakeover;
  std::string site;  // the asker's idea of the site, for the log only
  bool force = false;
  MSGPACK_DEFINE_MAP(site, force);
};
// ---- end ops ----

// pairctl --site SITE: the request `body` of type `type` for SITE's node. The node that gets it
// runs it itself when SITE is its own name (or empty), carries it over the peer link when SITE is
// its peer (wire/peer_messages.h PeerCarryCommand) and returns that node's reply, and refuses any
// other site (seed 001, claims 42-47: a command names the storage it is for).
struct CarryRequest {
  static constexpr MessageType kType = MessageType::kCarry;
  std::string site;
  uint16_t type = 0;
  std::vector<char> body;  // the request's msgpack body, as pairctl would send it to SITE's node
  MSGPACK_DEFINE_MAP(site, type, body);
};

// The determining volume's reservation record (doc/design.md "clusterd and the determining
// volume"): one copy at each site's node (in the volume's metadata) and one at the witness, if any.
struct ReservationRecord {
  uint64_t epoch = 0;    // +1 on every change of holder
  std::string holder;    // "" = not reserved
  std::string outdated;  // a site whose copies are outdated: it cannot win without force
  // house (issue 12): the number the holder's latest granted reserve carried
  // (ReserveVoteRequest::hold); 0 = none known (no holder, or a record of an older version).
  uint64_t hold = 0;
  MSGPACK_DEFINE_MAP(epoch, holder, outdated, hold);
};

// One vote of a majority reserve (with a witness): asked of the peer node and of the witness; the
// asking node applies the same rule to its own copy. Reply code 0 = granted, kConflict = refused
// (message says why); `reservation` carries the copy's record after the vote.
struct ReserveVoteRequest {
  static constexpr MessageType kType = MessageType::kReserveVote;
  std::string volume;  // the determining volume's name at the asker
  std::string holder;
  std::string outdated;  // mark this site outdated with the grant ("" = leave as is)
  bool force = false;
  bool release = false;
  // house (issue 12): the asker's number of this vote, greater than any it sent before
  // (node/reserve_rules.h NextVoteNumber), so that a release that arrives after the holder's
  // newer reserve is known as late and refused. 0 (absent: a node of an older version) = not
  // numbered: judged as before, never late.
  uint64_t hold = 0;
  MSGPACK_DEFINE_MAP(volume, holder, outdated, force, release, hold);
};

struct DissolveRequest {
  static constexpr MessageType kType = MessageType::kDissolve;
  std::string name;
  MSGPACK_DEFINE_MAP(name);
};

// Compares the regions overlapping [offset, offset+length) at both sites; the reply's
// `mismatches` lists the differing byte ranges.
struct VerifyRequest {
  static constexpr MessageType kType = MessageType::kVerify;
  std::string name;
  uint64_t offset = 0;
  uint64_t length = 0;
  MSGPACK_DEFINE_MAP(name, offset, length);
};

// ---- control: the reply ---------------------------------------------------------------------

// One row of `display` / `volume list`; the JSON fields of doc/design.md plus what `volume list`
// shows. Empty strings stand for JSON null.
struct VolumeInfo {
  std::string name;
  std::string role;    // primary | secondary | simplex
  std::string status;  // SMPL, COPY, PAIR, PSUS, PSUE, SSUS, SSWS, PFUL, PFUS
  std::string mode;    // sync | async | "" (no pair)
  std::string peer_site;
  std::string peer_volume;
  uint64_t size_bytes = 0;
  uint64_t allocated_bytes = 0;  // blocks the sparse image holds on local disk
  uint32_t copy_progress = 0;    // 0-100
  uint64_t dirty_bytes = 0;
  uint64_t journal_lag_bytes = 0;
  std::string reserved_by;
  std::string fence;  // data | reserve | never | ""
  std::string group;
  uint64_t generation = 0;
  std::string generation_site;
  bool consistent = true;
  bool outdated = false;
  uint32_t open_count = 0;         // open file handles through the mount
  uint64_t region_size_bytes = 0;  // the pair's dirty-bitmap region (0: no pair)
  bool fenced = false;             // this copy refuses writes: clusterd lost, or fence reserve lost
  uint64_t reserve_epoch = 0;      // the determining volume's record: epoch and outdated site
  std::string reserve_outdated;
  bool link_authenticated = false;  // the link to the peer runs CURVE (doc/design.md "Security")
  // Async pairs (issue 13): this site's journal of the pair's group and its sequences.
  uint64_t journal_used_bytes = 0;
  uint64_t journal_size_bytes = 0;
  uint64_t sent_sequence = 0;     // durable at the secondary (primary), or received (secondary)
  uint64_t applied_sequence = 0;  // applied to the secondary's volumes
  uint64_t lag_ms = 0;            // age of the oldest write not yet durable at the secondary
  // ops (issue 15 part 3): when this node last heard anything from the peer's node on the data
  // link (the same for every pair of the site); -1: never since the node started.
  int64_t peer_heard_ms_ago = -1;
  // ---- asyncrest (issue 13): the RPO of the group's last takeover without its old primary,
  // recorded at the site that took over (node/async_rpo.h; saved in the volume's metadata):
  // when it was (0: none recorded: no such takeover, or resync --swap since), the writes and
  // bytes lost at most as last heard from the old primary (a lower bound of what it
  // acknowledged); rpo_lost_writes -1: unknown (nothing heard since this site started).
  // Absent (an older node): none recorded.
  int64_t rpo_takeover_unix_ms = 0;
  int64_t rpo_lost_writes = -1;
  uint64_t rpo_lost_bytes = 0;
  MSGPACK_DEFINE_MAP(name, role, status, mode, peer_site, peer_volume, size_bytes, allocated_bytes,
                     copy_progress, dirty_bytes, journal_lag_bytes, reserved_by, fence, group,
                     generation, generation_site, consistent, outdated, open_count,
                     region_size_bytes, fenced, reserve_epoch, reserve_outdated, link_authenticated,
                     journal_used_bytes, journal_size_bytes, sent_sequence, applied_sequence,
                     lag_ms, peer_heard_ms_ago, rpo_takeover_unix_ms, rpo_lost_writes,
                     rpo_lost_bytes);  // asyncrest: appended
};

// One heartbeat link as clusterd sees it.
struct LinkInfo {
  std::string listen;
  std::string peer;
  bool alive = false;
  int64_t last_heard_ms_ago = -1;  // -1: never
  bool authenticated = false;      // the link runs CURVE (doc/design.md "Security")
  uint64_t refused = 0;            // frames that arrived on this link and were refused
  MSGPACK_DEFINE_MAP(listen, peer, alive, last_heard_ms_ago, authenticated, refused);
};

// `pairctl cluster status`: clusterd's view.
struct ClusterInfo {
  std::string site;
  std::string state;   // STARTING, STANDBY, RESERVING, ACTIVE, FENCED
  std::string reason;  // the last decision, in one line
  std::string peer_site;
  bool peer_alive = false;
  std::string peer_state;
  uint64_t peer_incarnation = 0;
  bool started = false;  // on_start ran here (the applications run here)
  std::string determining_volume;
  ReservationRecord reservation;  // this node's copy of the determining volume's record
  std::string witness;            // endpoint, "" if none
  std::vector<LinkInfo> links;
  std::vector<std::string> volumes;
  MSGPACK_DEFINE_MAP(site, state, reason, peer_site, peer_alive, peer_state, peer_incarnation,
                     started, determining_volume, reservation, witness, links, volumes);
};

// One pair's outcome of a group command (split, resync or takeover --group): code 0 = done (or
// left as it was, already there); `message` says what happened, or why not (at most
// kMaxOutcomeMessageBytes).
struct PairOutcome {
  std::string name;
  uint8_t code = 0;  // pairfs::Code
  std::string message;
  MSGPACK_DEFINE_MAP(name, code, message);
};

// The answer to every control request. `code` is a pairfs::Code; `message` is one line for the
// user (empty on success unless there is something to say); `volumes` carries results.
struct Reply {
  static constexpr MessageType kType = MessageType::kReply;
  uint8_t code = 0;
  std::string message;
  std::vector<VolumeInfo> volumes;
  std::vector<uint64_t> mismatches;   // verify: offset, length, offset, length, ...
  ClusterInfo cluster;                // cluster status
  ReservationRecord reservation;      // reserve vote: the copy's record after the vote
  bool more = false;                  // display, volume list: more volumes after the last one here
  std::vector<PairOutcome> outcomes;  // a group command: one per pair of the group, in name order
  MSGPACK_DEFINE_MAP(code, message, volumes, mismatches, cluster, reservation, more, outcomes);

  static Reply FromStatus(const Status& status);
  Status ToStatus() const;
};

// ---- site to site (part 2) ------------------------------------------------------------------

// The pair's generation: a counter and the site that last bumped it (doc/design.md "Pairs").
struct Generation {
  uint64_t counter = 0;
  std::string site;
  bool operator==(const Generation&) const = default;
  // Newer: a higher counter. Equal counters with different sites are two sides that each went on
  // alone; neither is newer.
  bool NewerThan(const Generation& other) const { return counter > other.counter; }
  MSGPACK_DEFINE_ARRAY(counter, site);
};

enum class WriteKind : uint8_t { kData = 0, kPunchHole = 1, kZeroRange = 2 };

// An ordered write from the primary (kReplicaWrite) or one the secondary asks the primary to order
// (kForwardedWrite). `sequence` is the sender's request id, echoed in the answer, not an
// ordering: overlapping writes are ordered by the primary holding the range until the secondary
// answers. `origin_site` is checked against the reservation at both copies; `data` is empty for
// discards, which carry `length` alone.
struct WriteMessage {
  std::string volume;
  Generation generation;
  uint64_t sequence = 0;
  std::string origin_site;
  uint8_t kind = 0;  // WriteKind
  uint64_t offset = 0;
  uint64_t length = 0;
  std::vector<char> data;
  MSGPACK_DEFINE_ARRAY(volume, generation, sequence, origin_site, kind, offset, length, data);
};

// The hot path of a write (node/write_path.cc) without copies of its data: the frame of a
// WriteMessage whose data is `data` (`message.data` is ignored), encoded straight into one buffer
// (the same bytes as EncodeFrame(type, id, site, EncodeBody(message with data))), and a decoder
// that leaves the data in the body: `*data` points into `body`, which must outlive it;
// `message->data` stays empty. DecodeWriteBody refuses (Corruption) what DecodeBody would.
Result<std::string> EncodeWriteFrame(MessageType type, uint64_t request_id,
                                     std::string_view sender_site, const WriteMessage& message,
                                     std::string_view data);
Status DecodeWriteBody(std::string_view body, WriteMessage* message, std::string_view* data);

// The primary's grant for a forwarded write (seed 002, claims 31-32) or a receiver's ack.
struct WriteReplyMessage {
  std::string volume;
  Generation generation;
  uint64_t sequence = 0;
  uint8_t code = 0;  // pairfs::Code of the outcome
  MSGPACK_DEFINE_ARRAY(volume, generation, sequence, code);
};

struct FlushMessage {
  std::string volume;
  Generation generation;
  // 0 in a plain flush (it covers every write answered before it); in a flush ahead, the request
  // id of the replica write it follows (wire/protocol.md "flush ahead").
  uint64_t through_sequence = 0;
  uint8_t code = 0;
  MSGPACK_DEFINE_ARRAY(volume, generation, through_sequence, code);
};

struct PeerReserveMessage {
  std::string volume;
  Generation generation;
  std::string holder;
  bool release = false;
  uint8_t code = 0;
  MSGPACK_DEFINE_ARRAY(volume, generation, holder, release, code);
};

struct PeerStatusMessage {
  std::string volume;
  Generation generation;
  std::string role;
  std::string status;
  bool consistent = true;
  bool outdated = false;
  uint32_t copy_progress = 0;
  MSGPACK_DEFINE_ARRAY(volume, generation, role, status, consistent, outdated, copy_progress);
};

// Heartbeat on every cluster link (part 3): who, which incarnation of its clusterd (random at
// start), which beat (counter, per incarnation), its phase (STANDBY, ACTIVE, ...) and the link's
// index in the sender's heartbeat lists.
struct HeartbeatMessage {
  static constexpr MessageType kType = MessageType::kHeartbeat;
  std::string site;
  uint64_t incarnation = 0;
  uint64_t counter = 0;
  std::string state;
  uint32_t link = 0;
  MSGPACK_DEFINE_ARRAY(site, incarnation, counter, state, link);
};

// ---- codec ------------------------------------------------------------------------------------

// Returns the msgpack bytes of `message`.
template <class T>
std::string EncodeBody(const T& message) {
  msgpack::sbuffer buffer;
  msgpack::pack(buffer, message);
  return std::string(buffer.data(), buffer.size());
}

// Parses untrusted msgpack `bytes` within the kMaxBody* limits into a generic object; Corruption
// with a reason for malformed, truncated, trailing or over-limit input. Never throws.
// With `reference_bin`, bin values are not copied: they point into `bytes`, which must outlive
// the handle.
Status ParseBody(std::string_view bytes, msgpack::object_handle* out, bool reference_bin = false);

// Decodes `bytes` into `out`. Corruption for anything that is not a well-formed T. Never throws.
template <class T>
Status DecodeBody(std::string_view bytes, T* out) {
  msgpack::object_handle handle;
  Status parsed = ParseBody(bytes, &handle);
  if (!parsed.ok()) return parsed;
  try {
    handle.get().convert(*out);
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("message body has the wrong shape: ") + e.what());
  }
  return Status::Ok();
}

}  // namespace pairfs::wire
