// doc_names: prints the names that wire/protocol.md and node/FORMAT.md must list, taken from the
// code's own tables, one per line, for tests/tools/check_docs.sh (run by `make check`):
//
//   message-type NUMBER NAME   every number wire::IsKnownMessageType accepts, named by
//                              wire::MessageTypeName (the decoder refuses every other number)
//   body STRUCT KEY            every key a map body's encoder writes (and its decoder reads):
//                              the msgpack map of a default-constructed STRUCT
//   metadata-key KEY           every key of the volume metadata body (node::EncodeMetadata)
//   record-key KEY             every key of a witness reservation record
//   (node::EncodeWitnessRecord) constant DOCUMENT TEXT     TEXT must appear in DOCUMENT: each
//   format's magic and version, as the
//                              document's header tables write them
//
// The keys come from encoding, not from a list kept by hand: a field added to a struct's
// MSGPACK_DEFINE_MAP shows up here at once, and the check fails until the document has it.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "node/metadata.h"
#include "node/region_set.h"
#include "node/witness_store.h"
#include "wire/event_messages.h"
#include "wire/journal_messages.h"
#include "wire/message_type.h"
#include "wire/messages.h"
#include "wire/peer_messages.h"

using namespace pairfs;

namespace {

// Prints `prefix KEY` for every key of the msgpack map in `body`; exits non-zero if `body` is not
// a map (the tool and the code disagree about the format: the check must fail, not pass empty).
void PrintMapKeys(const std::string& prefix, std::string_view body) {
  msgpack::object_handle handle;
  if (!wire::ParseBody(body, &handle).ok() || handle.get().type != msgpack::type::MAP) {
    std::fprintf(stderr, "doc_names: %s: the encoder did not write a msgpack map\n",
                 prefix.c_str());
    std::exit(1);
  }
  const msgpack::object_map& map = handle.get().via.map;
  for (uint32_t i = 0; i < map.size; ++i) {
    std::printf("%s %s\n", prefix.c_str(), map.ptr[i].key.as<std::string>().c_str());
  }
}

template <class T>
void PrintBody(const char* name) {
  PrintMapKeys(std::string("body ") + name, wire::EncodeBody(T{}));
}

void PrintMessageTypes() {
  for (uint32_t number = 0; number <= UINT16_MAX; ++number) {
    if (!wire::IsKnownMessageType(static_cast<uint16_t>(number))) continue;
    std::printf("message-type %u %s\n", number,
                wire::MessageTypeName(static_cast<wire::MessageType>(number)));
  }
}

// The body of every message type that is a msgpack map, and the maps nested in the reply. The
// switch has no default: a new message type makes the compiler warn here (-Wswitch) until it is
// given its body.
void PrintBodyOf(wire::MessageType type) {
  using namespace wire;
  switch (type) {
    case MessageType::kReply:
      PrintBody<Reply>("Reply");
      PrintBody<VolumeInfo>("VolumeInfo");
      PrintBody<ClusterInfo>("ClusterInfo");
      PrintBody<LinkInfo>("LinkInfo");
      PrintBody<ReservationRecord>("ReservationRecord");
      return;
    case MessageType::kVolumeCreate: return PrintBody<VolumeCreateRequest>("VolumeCreateRequest");
    case MessageType::kVolumeDelete: return PrintBody<VolumeDeleteRequest>("VolumeDeleteRequest");
    case MessageType::kVolumeList: return PrintBody<VolumeListRequest>("VolumeListRequest");
    case MessageType::kVolumeResize: return PrintBody<VolumeResizeRequest>("VolumeResizeRequest");
    case MessageType::kDisplay: return PrintBody<DisplayRequest>("DisplayRequest");
    case MessageType::kReserve: return PrintBody<ReserveRequest>("ReserveRequest");
    case MessageType::kRelease: return PrintBody<ReleaseRequest>("ReleaseRequest");
    case MessageType::kPairCreate: return PrintBody<PairCreateRequest>("PairCreateRequest");
    case MessageType::kSplit: return PrintBody<SplitRequest>("SplitRequest");
    case MessageType::kResync: return PrintBody<ResyncRequest>("ResyncRequest");
    case MessageType::kTakeover: return PrintBody<TakeoverRequest>("TakeoverRequest");
    case MessageType::kDissolve: return PrintBody<DissolveRequest>("DissolveRequest");
    case MessageType::kVerify: return PrintBody<VerifyRequest>("VerifyRequest");
    case MessageType::kFence: return PrintBody<FenceRequest>("FenceRequest");
    case MessageType::kClusterStatus:
      return PrintBody<ClusterStatusRequest>("ClusterStatusRequest");
    case MessageType::kClusterUnfence:
      return PrintBody<ClusterUnfenceRequest>("ClusterUnfenceRequest");
    case MessageType::kClusterTakeover:
      return PrintBody<ClusterTakeoverRequest>("ClusterTakeoverRequest");
    case MessageType::kEvents:  // ops (issue 15 part 1): the request, and its reply's maps
      PrintBody<EventsReply>("EventsReply");
      PrintBody<Event>("Event");
      return PrintBody<EventsRequest>("EventsRequest");
    // The write path's bodies and the heartbeat are msgpack arrays: their fields have positions,
    // not keys, and the document lists them in order.
    case MessageType::kReplicaWrite:
    case MessageType::kForwardedWrite:
    case MessageType::kWriteGrant:
    case MessageType::kWriteAck:
    case MessageType::kFlush:
    case MessageType::kFlushAck:
    case MessageType::kPeerReserve:
    case MessageType::kPeerStatus:
    case MessageType::kPeerCommand:
    case MessageType::kWriteConfirm:
    case MessageType::kHeartbeat: return;
    case MessageType::kPeerAnswer: return PrintBody<PeerAnswerMessage>("PeerAnswerMessage");
    case MessageType::kReserveVote: return PrintBody<ReserveVoteRequest>("ReserveVoteRequest");
    case MessageType::kPeerCreate: return PrintBody<PeerCreateCommand>("PeerCreateCommand");
    case MessageType::kPeerForwardSplit:
      return PrintBody<PeerForwardSplitCommand>("PeerForwardSplitCommand");
    case MessageType::kPeerForwardResync:
      return PrintBody<PeerForwardResyncCommand>("PeerForwardResyncCommand");
    case MessageType::kPeerReserveAsk:
      return PrintBody<PeerReserveAskCommand>("PeerReserveAskCommand");
    case MessageType::kPeerReserveMirror:
      return PrintBody<PeerReserveMirrorCommand>("PeerReserveMirrorCommand");
    case MessageType::kPeerVote: return PrintBody<PeerVoteCommand>("PeerVoteCommand");
    case MessageType::kPeerStatusAsk:
      return PrintBody<PeerStatusAskCommand>("PeerStatusAskCommand");
    case MessageType::kPeerVerify: return PrintBody<PeerVerifyCommand>("PeerVerifyCommand");
    case MessageType::kPeerSplit: return PrintBody<PeerSplitCommand>("PeerSplitCommand");
    case MessageType::kPeerResync: return PrintBody<PeerResyncCommand>("PeerResyncCommand");
    case MessageType::kPeerDemote: return PrintBody<PeerDemoteCommand>("PeerDemoteCommand");
    case MessageType::kPeerCopyDone: return PrintBody<PeerCopyDoneCommand>("PeerCopyDoneCommand");
    case MessageType::kPeerTrim: return PrintBody<PeerTrimCommand>("PeerTrimCommand");
    case MessageType::kPeerDissolve: return PrintBody<PeerDissolveCommand>("PeerDissolveCommand");
    case MessageType::kPeerBitmap: return PrintBody<PeerBitmapCommand>("PeerBitmapCommand");
    case MessageType::kJournalBatch:
      PrintBody<JournalEntryMessage>("JournalEntryMessage");
      return PrintBody<JournalBatchMessage>("JournalBatchMessage");
    case MessageType::kJournalAck: return PrintBody<JournalAckMessage>("JournalAckMessage");
    // pairctl --site: carried commands.
    case MessageType::kCarry: return PrintBody<CarryRequest>("CarryRequest");
    case MessageType::kPeerCarry: return PrintBody<PeerCarryCommand>("PeerCarryCommand");
  }
}

// Prints `constant DOCUMENT` lines for one format: its magic as text and in hex (the header
// table's "`PFMD` (0x444d4650" ) and its version ("1 (`kMetadataVersion`)").
void PrintFormat(const char* document, uint32_t magic, uint16_t version, const char* version_name) {
  char text[5] = {static_cast<char>(magic & 0xff), static_cast<char>((magic >> 8) & 0xff),
                  static_cast<char>((magic >> 16) & 0xff), static_cast<char>(magic >> 24), 0};
  std::printf("constant %s `%s` (0x%08x\n", document, text, magic);
  std::printf("constant %s %u (`%s`)\n", document, version, version_name);
}

void PrintConstants() {
  PrintFormat("wire/protocol.md", wire::kFrameMagic, wire::kProtocolVersion, "kProtocolVersion");
  std::printf("constant wire/protocol.md # pairfs wire protocol, version %u\n",
              wire::kProtocolVersion);
  PrintFormat("node/FORMAT.md", node::kMetadataMagic, node::kMetadataVersion, "kMetadataVersion");
  PrintFormat("node/FORMAT.md", node::kRegionSetMagic, node::kRegionSetVersion,
              "kRegionSetVersion");
  PrintFormat("node/FORMAT.md", node::kWitnessRecordMagic, node::kWitnessRecordVersion,
              "kWitnessRecordVersion");
}

}  // namespace

int main() {
  PrintMessageTypes();
  for (uint32_t number = 0; number <= UINT16_MAX; ++number) {
    if (wire::IsKnownMessageType(static_cast<uint16_t>(number)))
      PrintBodyOf(static_cast<wire::MessageType>(number));
  }
  PrintMapKeys("metadata-key", std::string_view(node::EncodeMetadata(node::VolumeMetadata{}))
                                   .substr(node::kMetadataHeaderBytes));
  PrintMapKeys("record-key", std::string_view(node::EncodeWitnessRecord(wire::ReservationRecord{}))
                                 .substr(node::kWitnessRecordHeaderBytes));
  PrintConstants();
  return 0;
}
