#include "wire/message_type.h"

#include <cstring>

namespace pairfs::wire {

const char* MessageTypeName(MessageType type) {
  switch (type) {
    case MessageType::kReply: return "reply";
    case MessageType::kVolumeCreate: return "volume-create";
    case MessageType::kVolumeDelete: return "volume-delete";
    case MessageType::kVolumeList: return "volume-list";
    case MessageType::kVolumeResize: return "volume-resize";
    case MessageType::kDisplay: return "display";
    case MessageType::kReserve: return "reserve";
    case MessageType::kRelease: return "release";
    case MessageType::kPairCreate: return "pair-create";
    case MessageType::kSplit: return "split";
    case MessageType::kResync: return "resync";
    case MessageType::kTakeover: return "takeover";
    case MessageType::kDissolve: return "dissolve";
    case MessageType::kVerify: return "verify";
    case MessageType::kFence: return "fence";
    case MessageType::kClusterStatus: return "cluster-status";
    case MessageType::kClusterUnfence: return "cluster-unfence";
    case MessageType::kCarry: return "carry";
    case MessageType::kClusterTakeover: return "cluster-takeover";
    case MessageType::kEvents: return "events";  // ops (issue 15 part 1)
    case MessageType::kReplicaWrite: return "replica-write";
    case MessageType::kForwardedWrite: return "forwarded-write";
    case MessageType::kWriteGrant: return "write-grant";
    case MessageType::kWriteAck: return "write-ack";
    case MessageType::kFlush: return "flush";
    case MessageType::kFlushAck: return "flush-ack";
    case MessageType::kPeerReserve: return "peer-reserve";
    case MessageType::kPeerStatus: return "peer-status";
    case MessageType::kPeerCommand: return "peer-command";
    case MessageType::kPeerAnswer: return "peer-answer";
    case MessageType::kWriteConfirm: return "write-confirm";
    case MessageType::kHeartbeat: return "heartbeat";
    case MessageType::kReserveVote: return "reserve-vote";
    case MessageType::kPeerCreate: return "peer-create";
    case MessageType::kPeerForwardSplit: return "peer-forward-split";
    case MessageType::kPeerForwardResync: return "peer-forward-resync";
    case MessageType::kPeerReserveAsk: return "peer-reserve-ask";
    case MessageType::kPeerReserveMirror: return "peer-reserve-mirror";
    case MessageType::kPeerVote: return "peer-vote";
    case MessageType::kPeerStatusAsk: return "peer-status-ask";
    case MessageType::kPeerVerify: return "peer-verify";
    case MessageType::kPeerSplit: return "peer-split";
    case MessageType::kPeerResync: return "peer-resync";
    case MessageType::kPeerDemote: return "peer-demote";
    case MessageType::kPeerCopyDone: return "peer-copy-done";
    case MessageType::kPeerTrim: return "peer-trim";
    case MessageType::kPeerDissolve: return "peer-dissolve";
    case MessageType::kPeerBitmap: return "peer-bitmap";
    case MessageType::kPeerCarry: return "peer-carry";
    case MessageType::kJournalBatch: return "journal-batch";
    case MessageType::kJournalAck: return "journal-ack";
  }
  return "unknown";
}

bool IsKnownMessageType(uint16_t value) {
  return std::strcmp(MessageTypeName(static_cast<MessageType>(value)), "unknown") != 0;
}

}  // namespace pairfs::wire
