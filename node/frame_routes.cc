#include "node/frame_routes.h"

#include "node/limits.h"
#include "wire/messages.h"

namespace pairfs::node {

namespace {

// A flush ahead of a write (through_sequence set); a body that does not decode is not.
bool IsFlushAhead(std::string_view body) {
  wire::FlushMessage message;
  return wire::DecodeBody(body, &message).ok() && message.through_sequence != 0;
}

}  // namespace

FrameRoute RouteOf(const wire::Frame& frame) {
  using wire::MessageType;
  switch (frame.type) {
    case MessageType::kWriteAck:
    case MessageType::kWriteGrant:
    case MessageType::kFlushAck:
    case MessageType::kReply:  // to a carried request
    case MessageType::kPeerAnswer:
    case MessageType::kJournalAck: return FrameRoute::kAnswer;
    case MessageType::kWriteConfirm: return FrameRoute::kConfirm;
    case MessageType::kReplicaWrite:
      return frame.body.size() <= kInlineReplicaWriteBytes ? FrameRoute::kInline
                                                           : FrameRoute::kWorker;
    case MessageType::kFlush:
      return IsFlushAhead(frame.body) ? FrameRoute::kInline : FrameRoute::kWorker;
    case MessageType::kForwardedWrite:
    case MessageType::kPeerStatus:
    case MessageType::kPeerCommand:  // retired: refused with an answer
    case MessageType::kPeerCreate:
    case MessageType::kPeerForwardSplit:
    case MessageType::kPeerForwardResync:
    case MessageType::kPeerReserveAsk:
    case MessageType::kPeerReserveMirror:
    case MessageType::kPeerVote:
    case MessageType::kPeerStatusAsk:
    case MessageType::kPeerVerify:
    case MessageType::kPeerSplit:
    case MessageType::kPeerResync:
    case MessageType::kPeerDemote:
    case MessageType::kPeerCopyDone:
    case MessageType::kPeerTrim:
    case MessageType::kPeerDissolve:
    case MessageType::kPeerBitmap:
    case MessageType::kJournalBatch:
    case MessageType::kPeerCarry: return FrameRoute::kWorker;
    default: return FrameRoute::kRefuse;
  }
}

}  // namespace pairfs::node
