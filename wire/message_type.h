// Every message type of the protocol. Numbers are on the wire: append only, never reuse.
#pragma once

#include <cstdint>

namespace pairfs::wire {

enum class MessageType : uint16_t {
  // Control (pairctl and clusterd to a node).
  kReply = 1,  // the answer to any request: code, message, results
  kVolumeCreate = 2,
  kVolumeDelete = 3,
  kVolumeList = 4,
  kVolumeResize = 5,
  kDisplay = 6,
  kReserve = 7,
  kRelease = 8,
  kPairCreate = 9,  // pairctl create
  kSplit = 10,
  kResync = 11,
  kTakeover = 12,
  kDissolve = 13,
  kVerify = 14,          // hashes of one range of regions at both sites
  kFence = 15,           // clusterd: fence (or unfence) a managed copy
  kClusterStatus = 16,   // pairctl to clusterd: its view (phase, peer, links, reservation)
  kClusterUnfence = 17,  // pairctl to clusterd: the operator lifts FENCED
  kCarry = 18,           // pairctl --site SITE: a request for SITE's node, carried by this node
  // ops (issue 15 part 3)
  kClusterTakeover = 19,  // pairctl to clusterd: the operator's forced takeover of a lost site
  // ops (issue 15 part 1: pairctl events)
  kEvents = 20,  // pairctl to node or clusterd: the events recorded after a sequence
  // Site to site (part 2: synchronous pairs).
  kReplicaWrite = 32,    // primary -> secondary: apply this ordered write
  kForwardedWrite = 33,  // secondary -> primary: order this write for me
  kWriteGrant = 34,      // primary -> secondary: ordered and written here; write yours
  kWriteAck = 35,        // the receiver applied a write (or refused it, with a code)
  kFlush = 36,           // make everything acknowledged so far durable
  kFlushAck = 37,
  kPeerReserve = 38,   // reserve or release ordered at the primary and mirrored
  kPeerStatus = 39,    // pair status and generation exchange
  kPeerCommand = 40,   // retired in version 3: the one-for-all pair command; refused
  kPeerAnswer = 41,    // the answer to a peer command
  kWriteConfirm = 42,  // secondary -> primary: written after the grant; release the range
  // Cluster (part 3).
  kHeartbeat = 64,
  kReserveVote = 65,  // a node to a copy of a reservation record (the peer node or the witness)
  // Pair commands one node asks of the other, one type each (wire/peer_messages.h); every one is
  // answered by a kPeerAnswer. From 128: the type is outside the body's checksum, and no older
  // type with one bit flipped (0x40, tests/unit/wire/envelope_test.cc) is one of these.
  kPeerCreate = 128,         // make this volume the secondary of a new pair
  kPeerForwardSplit = 129,   // a secondary's `pairctl split` run at the primary
  kPeerForwardResync = 130,  // a secondary's `pairctl resync` run at the primary
  kPeerReserveAsk = 131,     // a reserve or release ordered at the peer (the primary)
  kPeerReserveMirror = 132,  // the primary's reservation record, to be mirrored
  kPeerVote = 133,           // one vote of a majority reserve of the determining volume
  kPeerStatusAsk = 134,      // the peer's role, status and generation
  kPeerVerify = 135,         // hashes of a range of regions
  kPeerSplit = 136,
  kPeerResync = 137,  // this side becomes the target of a copy (resync, or resync --swap)
  kPeerDemote = 138,  // the swap of a takeover: the old primary becomes the secondary
  kPeerCopyDone = 139,
  kPeerTrim = 140,  // the primary finished a copy: clear the activity log's pins
  kPeerDissolve = 141,
  kPeerBitmap = 142,  // one chunk of the peer's dirty bitmap (after a resync)
  kPeerCarry = 143,   // a control request an operator sent to this site through the peer's node;
                      // answered by a kReply (not a kPeerAnswer)
  // ---- async pairs (issue 13, journal transfer; wire/journal_messages.h) ----
  kJournalBatch = 150,  // master -> restore journal: consecutive entries of one group
  kJournalAck = 151,    // the answer: durable and applied sequences at the restore side
};

// Returns true for a number that names a message type above; decoding refuses the rest.
bool IsKnownMessageType(uint16_t value);

// The type's name for logs ("volume-create", ...), or "unknown".
const char* MessageTypeName(MessageType type);

}  // namespace pairfs::wire
