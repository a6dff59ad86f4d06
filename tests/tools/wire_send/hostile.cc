// wire_send's hostile mode: hostile values at the pair's real generation and mutated valid
// frames of every site-to-site type, none of which a node may act on.
#include "tests/tools/wire_send/wire_send.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "tests/unit/fuzz/mutator.h"
#include "wire/limits.h"
#include "wire/peer_messages.h"

namespace pairfs::wire_send {

std::string WriteFrame(wire::MessageType type, uint64_t id, const std::string& site,
                       const std::string& volume, const wire::Generation& generation,
                       uint64_t offset, uint64_t length, size_t data_bytes, uint8_t kind) {
  wire::WriteMessage write;
  write.volume = volume;
  write.generation = generation;
  write.sequence = id;
  write.origin_site = site;
  write.kind = kind;
  write.offset = offset;
  write.length = length;
  write.data.assign(data_bytes, 'h');
  return wire::EncodeFrame(type, id, site, wire::EncodeBody(write)).value();
}

namespace {

// One frame of the hostile mode: round by round, (a) well-formed messages of every site-to-site
// type with hostile values at the pair's real generation (zero-length, oversized, out-of-range
// writes; region size 1, 70 KB groups, epochs near 2^64, verify and bitmap counts out of range),
// aimed so that none may change the pair (pair commands name a volume the receiver does not
// have), and (b) valid frames of every type mutated (tests/unit/fuzz/mutator.h) at a generation
// of a site that does not exist, so that no mutation can make a write that lands.
std::string HostileFrame(fuzz::Mutator& mutator, uint64_t round, const std::string& site,
                         const std::string& volume, const wire::Generation& real) {
  const uint64_t id = mutator.Next() | (uint64_t{1} << 62);
  const wire::Generation stale{real.counter + 1000, "zz9"};
  const std::string ghost = "ghost-volume";
  const std::string refused = "hostile-volume";  // the creates with hostile values: never made
  const uint64_t huge = ~0ull;
  auto frame = [&](const auto& message) {
    return wire::EncodeFrame(message.kType, id, site, wire::EncodeBody(message)).value();
  };
  using wire::MessageType;
  if (round % 2 == 0) {
    switch ((round / 2) % 17) {
      case 0: return WriteFrame(MessageType::kReplicaWrite, id, site, volume, real, 4096, 0, 0, 0);
      case 1:
        return WriteFrame(MessageType::kForwardedWrite, id, site, volume, real, 4096, 0, 0, 0);
      case 2:
        return WriteFrame(MessageType::kReplicaWrite, id, site, volume, real, 0, 4096, 17,
                          0);  // data != length
      case 3:
        return WriteFrame(MessageType::kReplicaWrite, id, site, volume, real, huge - 100, 4096,
                          4096, 0);
      case 4:
        return WriteFrame(MessageType::kForwardedWrite, id, site, volume, real, 1ull << 50, 4096,
                          4096, 0);
      case 5:
        return WriteFrame(MessageType::kReplicaWrite, id, site, volume, real, 0, 4096, 0,
                          9);  // unknown kind
      case 6:
        return WriteFrame(MessageType::kReplicaWrite, id, site, volume, real, 0, 2ull << 20, 0,
                          1);  // oversized
      case 7:
        return WriteFrame(MessageType::kReplicaWrite, id, site, volume, {huge, site}, 0, 4096, 4096,
                          0);
      case 8:
        return frame(
            wire::PeerCreateCommand{refused, real, volume, 1 << 20, "sync", "never", "", 1});
      case 9:
        return frame(wire::PeerCreateCommand{refused, real, volume, 1 << 20, "sync", "never",
                                             std::string(70000, 'g'), 65536});
      case 10:
        return frame(wire::PeerCreateCommand{refused, real, volume, 1 << 20, "sync", "never",
                                             "\xff", 65536});
      case 11: return frame(wire::PeerReserveMirrorCommand{volume, {huge, site, ""}});
      case 12: return frame(wire::PeerVerifyCommand{volume, huge - 1, huge});
      case 13: return frame(wire::PeerBitmapCommand{volume, real, 0, huge});
      case 14: return frame(wire::PeerSplitCommand{ghost, {huge, site}, true});
      case 15:
        return frame(
            wire::PeerReserveMirrorCommand{volume, {(1ull << 62) + 7, site, ""}});  // far ahead
      default: {
        wire::PeerStatusMessage status{volume, {huge, site}, "primary", "PAIR", true, false, 1000};
        return wire::EncodeFrame(MessageType::kPeerStatus, id, site, wire::EncodeBody(status))
            .value();
      }
    }
  }
  std::pair<MessageType, std::string> valid;
  auto body = [](const auto& message) {
    return std::make_pair(message.kType, wire::EncodeBody(message));
  };
  switch ((round / 2) % 18) {
    case 0: {
      wire::WriteMessage write{volume, stale, id,   site,
                               0,      4096,  4096, std::vector<char>(4096, 'm')};
      valid = {MessageType::kReplicaWrite, wire::EncodeBody(write)};
      break;
    }
    case 1: {
      wire::WriteMessage write{volume, stale, id, site, 0, 8192, 512, std::vector<char>(512, 'm')};
      valid = {MessageType::kForwardedWrite, wire::EncodeBody(write)};
      break;
    }
    case 2:
      valid = {MessageType::kWriteAck,
               wire::EncodeBody(wire::WriteReplyMessage{volume, stale, id, 0})};
      break;
    case 3:
      valid = {MessageType::kFlush, wire::EncodeBody(wire::FlushMessage{volume, stale, 0, 0})};
      break;
    case 4: {
      // Not the pair's volume: a status of a newer generation legitimately outdates a copy.
      wire::PeerStatusMessage status{ghost, stale, "secondary", "PAIR", true, false, 100};
      valid = {MessageType::kPeerStatus, wire::EncodeBody(status)};
      break;
    }
    // The pair's own volume (already in a pair: refused); a mutant that names another volume
    // may create a pair of it, with a peer volume that does not exist (DESIGN: a valid command).
    case 5:
      valid =
          body(wire::PeerCreateCommand{volume, stale, ghost, 1 << 20, "sync", "never", "g", 65536});
      break;
    case 6: valid = body(wire::PeerForwardSplitCommand{ghost, true}); break;
    case 7: valid = body(wire::PeerForwardResyncCommand{ghost}); break;
    case 8: valid = body(wire::PeerReserveAskCommand{ghost, site, false, true, false, ""}); break;
    case 9: valid = body(wire::PeerReserveMirrorCommand{ghost, {3, site, ""}}); break;
    case 10: valid = body(wire::PeerVoteCommand{ghost, site, "", false, false}); break;
    case 11: valid = body(wire::PeerStatusAskCommand{volume}); break;
    case 12: valid = body(wire::PeerVerifyCommand{volume, 0, 16}); break;
    case 13: valid = body(wire::PeerSplitCommand{ghost, stale, false}); break;
    case 14: valid = body(wire::PeerResyncCommand{ghost, stale, true}); break;
    case 15: valid = body(wire::PeerDemoteCommand{ghost, stale}); break;
    case 16: valid = body(wire::PeerBitmapCommand{volume, stale, 0, 64}); break;
    default: valid = body(wire::PeerDissolveCommand{ghost}); break;
  }
  std::string mutated = mutator.Mutate(valid.second);
  if (mutated.size() > wire::kMaxFrameBytes - wire::kHeaderBytes)
    mutated.resize(wire::kMaxFrameBytes - wire::kHeaderBytes);
  return wire::EncodeFrame(valid.first, id, site, mutated).value();
}

}  // namespace

// The hostile mode: argv[3..] = COUNT SEED SITE VOLUME COUNTER GEN_SITE.
int SendHostile(wire::Context& context, const std::string& endpoint, int, char** argv) {
  // hostile COUNT SEED SITE VOLUME COUNTER GEN_SITE
  const uint64_t count = std::strtoull(argv[3], nullptr, 10);
  fuzz::Mutator mutator(std::strtoull(argv[4], nullptr, 10));
  const std::string site = argv[5];
  const wire::Generation real{std::strtoull(argv[7], nullptr, 10), argv[8]};
  for (uint64_t round = 0; round < count;) {
    auto client = Connect(context, endpoint, "fuzz");
    if (!client.ok()) return 1;
    for (int i = 0; i < 20 && round < count; ++i, ++round) {
      (void)client.value()->SendBytes(HostileFrame(mutator, round, site, argv[6], real));
    }
    (void)client.value()->ReceiveBytes(20);
  }
  std::printf("hostile: sent %llu frames\n", static_cast<unsigned long long>(count));
  return 0;
}

}  // namespace pairfs::wire_send
