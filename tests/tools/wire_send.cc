// wire_send: throws bad bytes at a pairfs endpoint for the integration tests.
//
//   wire_send ENDPOINT garbage COUNT SEED   random frames: raw noise, valid headers over random
//                                           bodies, wrong versions, bad checksums, oversized;
//                                           exits 0 once all are sent
//   wire_send ENDPOINT peer-garbage COUNT SEED SITE
//                                           frames that claim to come from SITE (the peer) with
//                                           site-to-site types: random bodies, writes that lie
//                                           about their length, point past the end, name unknown
//                                           volumes or kinds, stale generations; plus oversized
//   wire_send ENDPOINT ping                 a well-formed volume-list request; exit 0 if the
//                                           node answers it, 1 if not
//   wire_send ENDPOINT peer-command SITE COMMAND VOLUME COUNTER GEN_SITE
//                                           one well-formed pair command (split, split-rw, resync,
//                                           swap, demote, copy-done, trim, dissolve, status) that
//                                           claims to come from SITE, at generation
//                                           COUNTER/GEN_SITE; the node answers SITE's own node,
//                                           which asked nothing (a command whose answer is lost);
//                                           exits 0 once sent
//   wire_send ENDPOINT write SITE replica|forwarded VOLUME COUNTER GEN_SITE OFFSET LENGTH
//   DATA_BYTES [KIND]
//                                           one write frame as SITE at generation COUNTER/GEN_SITE
//                                           (e.g. LENGTH 0: refused, never an abort); exits 0 once
//                                           sent
//   wire_send ENDPOINT hostile COUNT SEED SITE VOLUME COUNTER GEN_SITE
//                                           COUNT frames as SITE: hostile values at the pair's real
//                                           generation that no node may act on, and mutated valid
//                                           frames of every site-to-site type (HostileFrame)
//   wire_send ENDPOINT vote SITE VOLUME HOLDER [--release] [--force] [--outdated SITE]
//                                           one reserve vote sent as SITE (a witness's or a node's
//                                           copy of a reservation record); prints
//                                           `granted epoch=N holder=H outdated=O` and exits 0, or
//                                           `refused: REASON` and exits 1; exit 4 when no answer
//                                           comes within 2 s, 2 for bad arguments
//   wire_send ENDPOINT replica-write SITE VOLUME OFFSET COUNTER GEN_SITE
//                                           one well-formed 4 KiB replica write of bytes 0x5a at
//                                           OFFSET, as SITE at generation COUNTER/GEN_SITE (what
//                                           the primary SITE would send its secondary); prints the
//                                           answer's code or `no answer` (a node answers its
//                                           peer's node, not this sender); exits 0 once sent
//   wire_send ENDPOINT journal-hostile SITE GROUP VOLUME
//                                           async pairs: journal batches as SITE (the primary) for
//                                           GROUP that no restore side may store: a sequence gap,
//                                           a volume of no pair of the group, a range past the
//                                           volume's end, an unknown group, and malformed ones (too
//                                           many entries, a bad kind, data of the wrong length);
//                                           exits 0 once sent
//   wire_send ENDPOINT heartbeat SITE STATE LINK COUNT
//                                           COUNT well-formed heartbeats as SITE announcing STATE
//                                           on link LINK, 50 ms apart, a fresh incarnation; exits 0
//   wire_send ENDPOINT peer-carry SITE KIND
//                                           one hostile carried request (pairctl --site) as SITE's
//                                           node would send it: KIND nested (a carry inside the
//                                           carry), fence, cluster (cluster-unfence), clusterd (a
//                                           takeover with cluster and peer_lost set), oversized;
//                                           exits 0 once sent (the answer goes to SITE's node)
//   wire_send ENDPOINT control-carry SITE KIND
//                                           the same as a carry request to a node's control
//                                           endpoint, carried to SITE; prints `answer: CODE
//                                           MESSAGE` and exits 0 when answered, 1 if not
//
// Before ENDPOINT, `--key SECRET.key --server-key SERVER.pub` makes every connection a CURVE
// client proving SECRET.key and trusting SERVER.pub (the server's site is that file's name).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include "node/journal_format.h"
#include "tests/unit/fuzz/mutator.h"
#include "wire/curve.h"
#include "wire/journal_messages.h"
#include "wire/limits.h"
#include "wire/link.h"
#include "wire/peer_messages.h"

using namespace pairfs;

namespace {

// The site of --server-key: Connect() makes CURVE clients trusting its key ("" without keys).
std::string g_server_site;

Result<std::unique_ptr<wire::Client>> Connect(wire::Context& context, const std::string& endpoint,
                                              const std::string& site) {
  return wire::Client::Connect(context, endpoint, site, g_server_site);
}

// The replica-write mode: argv[3..] = SITE VOLUME OFFSET COUNTER GEN_SITE.
int SendReplicaWrite(wire::Context& context, const std::string& endpoint, char** argv) {
  wire::WriteMessage write;
  write.volume = argv[4];
  write.generation = {std::strtoull(argv[6], nullptr, 10), argv[7]};
  write.sequence = std::random_device{}();
  write.origin_site = argv[3];
  write.kind = static_cast<uint8_t>(wire::WriteKind::kData);
  write.offset = std::strtoull(argv[5], nullptr, 10);
  write.length = 4096;
  const std::string data(write.length, '\x5a');
  Result<std::string> frame =
      wire::EncodeWriteFrame(wire::MessageType::kReplicaWrite,
                             std::random_device{}() | (uint64_t{1} << 62), argv[3], write, data);
  auto client = Connect(context, endpoint, argv[3]);
  if (!frame.ok() || !client.ok() || !client.value()->SendBytes(frame.value()).ok()) return 1;
  Result<std::string> answer = client.value()->ReceiveBytes(1000);
  if (!answer.ok()) {
    std::printf("replica-write: no answer\n");
    return 0;
  }
  Result<wire::Frame> decoded = wire::DecodeFrame(answer.value());
  wire::WriteReplyMessage reply;
  if (decoded.ok() && wire::DecodeBody(decoded->body, &reply).ok()) {
    std::printf("replica-write: answered code %u\n", static_cast<unsigned>(reply.code));
  } else {
    std::printf("replica-write: an answer that does not decode\n");
  }
  return 0;
}

// The journal-hostile mode: argv[3..] = SITE GROUP VOLUME.
int SendHostileJournalBatches(wire::Context& context, const std::string& endpoint, char** argv) {
  const std::string site = argv[3], group = argv[4], volume = argv[5];
  auto entry = [&](uint64_t sequence) {
    wire::JournalEntryMessage message;
    const std::string data(4096, '\x66');
    message.sequence = sequence;
    message.volume = volume;
    message.offset = 0;
    message.length = data.size();
    message.data_checksum = node::JournalDataChecksum(data);
    message.data.assign(data.begin(), data.end());
    return message;
  };
  auto batch = [&](uint64_t first, std::vector<wire::JournalEntryMessage> entries) {
    wire::JournalBatchMessage message;
    message.group = group;
    message.first_sequence = first;
    message.entries = std::move(entries);
    return message;
  };
  constexpr uint64_t kFar = uint64_t{1} << 40;  // far past anything a test journal holds
  std::vector<wire::JournalBatchMessage> batches;
  batches.push_back(batch(kFar, {entry(kFar)}));  // a gap
  batches.push_back(batch(kFar, {entry(kFar)}));
  batches.back().entries[0].volume = "no-such-volume";
  batches.push_back(batch(kFar, {entry(kFar)}));
  batches.back().entries[0].offset = wire::kMaxVolumeBytes - 4096;  // past the volume's end
  batches.push_back(batch(1, {entry(1)}));
  batches.back().group = "no-such-group";
  std::vector<wire::JournalEntryMessage> many;
  for (uint64_t i = 0; i <= wire::kMaxJournalBatchEntries; ++i) many.push_back(entry(kFar + i));
  for (auto& e : many) e.data.clear(), e.kind = 1;  // discards: small, still too many
  batches.push_back(batch(kFar, many));
  batches.push_back(batch(kFar, {entry(kFar)}));
  batches.back().entries[0].kind = 7;
  batches.push_back(batch(kFar, {entry(kFar)}));
  batches.back().entries[0].length = 8192;  // data of another length
  auto client = Connect(context, endpoint, site);
  if (!client.ok()) return 1;
  uint64_t id = std::random_device{}() | (uint64_t{1} << 61);
  for (const wire::JournalBatchMessage& message : batches) {
    Result<std::string> frame =
        wire::EncodeFrame(wire::MessageType::kJournalBatch, ++id, site, wire::EncodeBody(message));
    if (!frame.ok() || !client.value()->SendBytes(frame.value()).ok()) return 1;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the frames leave
  std::printf("journal-hostile: sent %zu batches\n", batches.size());
  return 0;
}

// The heartbeat mode: argv[3..] = SITE STATE LINK COUNT.
int SendHeartbeats(wire::Context& context, const std::string& endpoint, char** argv) {
  wire::HeartbeatMessage beat;
  beat.site = argv[3];
  beat.state = argv[4];
  beat.link = static_cast<uint32_t>(std::strtoul(argv[5], nullptr, 10));
  beat.incarnation = (uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  const uint64_t count = std::strtoull(argv[6], nullptr, 10);
  auto client = Connect(context, endpoint, beat.site);
  if (!client.ok()) return 1;
  for (beat.counter = 1; beat.counter <= count; ++beat.counter) {
    Result<std::string> frame = wire::EncodeFrame(wire::MessageType::kHeartbeat, beat.counter,
                                                  beat.site, wire::EncodeBody(beat));
    if (!frame.ok()) return 1;
    (void)client.value()->SendBytes(frame.value());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::printf("heartbeat: sent %llu beats as %s announcing %s\n",
              static_cast<unsigned long long>(count), beat.site.c_str(), beat.state.c_str());
  return 0;
}

std::string RandomBytes(std::mt19937_64& random, size_t size) {
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(random() & 0xff);
  return bytes;
}

// One bad frame of the kind `round` selects.
std::string BadFrame(std::mt19937_64& random, uint64_t round) {
  const size_t body_size = random() % 512;
  switch (round % 6) {
    case 0: return RandomBytes(random, random() % 200);  // noise, often short
    case 1: {                                            // good envelope, random body
      Result<std::string> frame = wire::EncodeFrame(wire::MessageType::kVolumeCreate, round, "fuzz",
                                                    RandomBytes(random, body_size));
      return frame.value();
    }
    case 2: {  // wrong protocol version
      std::string frame = wire::EncodeFrame(wire::MessageType::kDisplay, round, "fuzz", "").value();
      frame[4] = static_cast<char>(0x7f);
      return frame;
    }
    case 3: {  // checksum mismatch
      std::string frame = wire::EncodeFrame(wire::MessageType::kVolumeDelete, round, "fuzz",
                                            RandomBytes(random, body_size + 1))
                              .value();
      frame.back() ^= 0x55;
      return frame;
    }
    case 4: {  // length field lies
      std::string frame =
          wire::EncodeFrame(wire::MessageType::kReserve, round, "fuzz", RandomBytes(random, 16))
              .value();
      frame[16] = static_cast<char>(0xff);
      return frame;
    }
    default:  // oversized
      return RandomBytes(random, wire::kMaxFrameBytes + 1 + random() % 4096);
  }
}

// One bad site-to-site frame "from" `site`.
std::string BadPeerFrame(std::mt19937_64& random, uint64_t round, const std::string& site) {
  static constexpr wire::MessageType kTypes[] = {
      wire::MessageType::kReplicaWrite, wire::MessageType::kForwardedWrite,
      wire::MessageType::kWriteGrant,   wire::MessageType::kWriteAck,
      wire::MessageType::kFlush,        wire::MessageType::kFlushAck,
      wire::MessageType::kPeerStatus,   wire::MessageType::kPeerCommand,
      wire::MessageType::kPeerAnswer,   wire::MessageType::kWriteConfirm,
      wire::MessageType::kPeerReserve,  wire::MessageType::kPeerCreate,
      wire::MessageType::kPeerSplit,    wire::MessageType::kPeerVerify,
      wire::MessageType::kPeerBitmap,   wire::MessageType::kPeerCarry};
  const wire::MessageType type = kTypes[random() % (sizeof kTypes / sizeof kTypes[0])];
  switch (round % 5) {
    case 0:
      return wire::EncodeFrame(type, random(), site, RandomBytes(random, random() % 512)).value();
    case 1: {  // a well-formed write that lies: length differs from data, past the end, bad kind
      wire::WriteMessage write;
      write.volume = random() % 2 ? "vm1" : "no-such-volume";
      write.generation = {random() % 5,
                          "stale"};  // never the pair's: forged writes are not what this tests
      write.sequence = random();
      write.origin_site = site;
      write.kind = static_cast<uint8_t>(random() % 5);
      write.offset = random() % 3 == 0 ? (1ull << 50) : (random() % 1024) * 4096;
      write.length = random() % 3 == 0 ? (1ull << 40) : 4096;
      write.data.assign(random() % 2 ? 4096 : 17, 'x');
      return wire::EncodeFrame(random() % 2 ? wire::MessageType::kReplicaWrite
                                            : wire::MessageType::kForwardedWrite,
                               random(), site, wire::EncodeBody(write))
          .value();
    }
    case 2: {  // commands the node must refuse or answer harmlessly
      wire::PeerCreateCommand create{
          "no-such-volume",           {random() % 5, site}, "x", random(), "sync", "never", "",
          random() % 2 ? 1 : random()};
      wire::PeerVerifyCommand verify{"no-such-volume", random(), random()};
      wire::PeerSplitCommand split{"no-such-volume", {random(), site}, false};
      switch (random() % 3) {
        case 0:
          return wire::EncodeFrame(create.kType, random(), site, wire::EncodeBody(create)).value();
        case 1:
          return wire::EncodeFrame(verify.kType, random(), site, wire::EncodeBody(verify)).value();
        default:
          return wire::EncodeFrame(split.kType, random(), site, wire::EncodeBody(split)).value();
      }
    }
    case 3: {  // a checksum that does not match
      std::string frame = wire::EncodeFrame(type, random(), site, RandomBytes(random, 64)).value();
      frame.back() ^= 0x55;
      return frame;
    }
    default: return RandomBytes(random, wire::kMaxFrameBytes + 1 + random() % 4096);
  }
}

// The body of the pair command named `name` (split, split-rw, resync, swap, demote, copy-done,
// trim, dissolve, status) of `volume` at `generation`.
Result<std::pair<wire::MessageType, std::string>> PeerCommand(const std::string& name,
                                                              const std::string& volume,
                                                              const wire::Generation& generation) {
  auto body = [](const auto& command) {
    return std::make_pair(command.kType, wire::EncodeBody(command));
  };
  if (name == "split" || name == "split-rw")
    return body(wire::PeerSplitCommand{volume, generation, name == "split-rw"});
  if (name == "resync" || name == "swap")
    return body(wire::PeerResyncCommand{volume, generation, name == "swap"});
  if (name == "demote") return body(wire::PeerDemoteCommand{volume, generation});
  if (name == "copy-done") return body(wire::PeerCopyDoneCommand{volume, generation});
  if (name == "trim") return body(wire::PeerTrimCommand{volume, generation});
  if (name == "dissolve") return body(wire::PeerDissolveCommand{volume});
  if (name == "status") return body(wire::PeerStatusAskCommand{volume});
  return Status::InvalidArgument("unknown pair command " + name);
}

// A write frame of `type` claiming to come from `site`: `data_bytes` of data (a data write) or
// none (kind 1 or 2: a discard).
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

// The vote mode: argv[3..] = SITE VOLUME HOLDER [--release] [--force] [--outdated SITE].
int SendVote(wire::Context& context, const std::string& endpoint, int argc, char** argv) {
  constexpr int kVoteTimeoutMs = 2000;
  if (argc < 6) {
    std::fprintf(stderr,
                 "usage: wire_send ENDPOINT vote SITE VOLUME HOLDER [--release] [--force] "
                 "[--outdated SITE]\n");
    return 2;
  }
  wire::ReserveVoteRequest request;
  request.volume = argv[4];
  request.holder = argv[5];
  for (int i = 6; i < argc; ++i) {
    const std::string option = argv[i];
    if (option == "--release") {
      request.release = true;
    } else if (option == "--force") {
      request.force = true;
    } else if (option == "--outdated" && i + 1 < argc) {
      request.outdated = argv[++i];
    } else {
      std::fprintf(stderr, "vote: unknown option %s\n", option.c_str());
      return 2;
    }
  }
  auto client = Connect(context, endpoint, argv[3]);
  if (!client.ok()) {
    std::fprintf(stderr, "vote: %s\n", client.status().message().c_str());
    return 2;
  }
  Result<wire::Reply> reply = client.value()->Call(request, kVoteTimeoutMs);
  if (!reply.ok()) {
    std::printf("no answer: %s\n", reply.status().message().c_str());
    return reply.status().code() == Code::kUnreachable ? 4 : 1;
  }
  if (reply->code != 0) {
    std::printf("refused: %s\n", reply->message.c_str());
    return 1;
  }
  const wire::ReservationRecord& record = reply->reservation;
  std::printf("granted epoch=%llu holder=%s outdated=%s\n",
              static_cast<unsigned long long>(record.epoch), record.holder.c_str(),
              record.outdated.c_str());
  return 0;
}

}  // namespace

// The carried request of `kind` for peer-carry and control-carry; nullopt for an unknown kind.
// A nested carry names `site` (the claimed sender): carried on, it would go back there.
std::optional<wire::PeerCarryCommand> HostileCarry(const std::string& kind,
                                                   const std::string& site) {
  auto bytes = [](const std::string& body) { return std::vector<char>(body.begin(), body.end()); };
  auto type = [](wire::MessageType t) { return static_cast<uint16_t>(t); };
  const std::string display = wire::EncodeBody(wire::DisplayRequest{});
  if (kind == "nested") {
    const wire::CarryRequest inner{site, type(wire::MessageType::kDisplay), bytes(display)};
    return wire::PeerCarryCommand{type(wire::MessageType::kCarry), bytes(wire::EncodeBody(inner))};
  }
  if (kind == "fence") {
    return wire::PeerCarryCommand{type(wire::MessageType::kFence),
                                  bytes(wire::EncodeBody(wire::FenceRequest{"vm"}))};
  }
  if (kind == "cluster") {
    return wire::PeerCarryCommand{type(wire::MessageType::kClusterUnfence),
                                  bytes(wire::EncodeBody(wire::ClusterUnfenceRequest{"a"}))};
  }
  if (kind == "clusterd") {
    return wire::PeerCarryCommand{
        type(wire::MessageType::kTakeover),
        bytes(wire::EncodeBody(wire::TakeoverRequest{"vm", true, true, true}))};
  }
  if (kind == "oversized") {
    return wire::PeerCarryCommand{type(wire::MessageType::kDisplay),
                                  std::vector<char>(wire::kMaxCarriedBodyBytes + 1, '\x90')};
  }
  return std::nullopt;
}

// The peer-carry and control-carry modes: argv[3..] = SITE KIND.
int SendCarry(wire::Context& context, const std::string& endpoint, char** argv, bool to_control) {
  const std::optional<wire::PeerCarryCommand> carried = HostileCarry(argv[4], argv[3]);
  if (!carried) {
    std::fprintf(stderr, "carry: unknown kind %s\n", argv[4]);
    return 2;
  }
  auto client = Connect(context, endpoint, argv[3]);
  if (!client.ok()) return 1;
  if (to_control) {
    const wire::CarryRequest request{argv[3], carried->type, carried->body};
    Result<wire::Reply> reply = client.value()->Call(request, 5000);
    if (!reply.ok()) {
      std::fprintf(stderr, "control-carry: %s\n", reply.status().message().c_str());
      return 1;
    }
    std::printf("answer: %s %s\n", CodeName(static_cast<Code>(reply->code)),
                reply->message.c_str());
    return 0;
  }
  Result<std::string> frame =
      wire::EncodeFrame(wire::MessageType::kPeerCarry, std::random_device{}() | (uint64_t{1} << 62),
                        argv[3], wire::EncodeBody(carried.value()));
  if (!frame.ok() || !client.value()->SendBytes(frame.value()).ok()) return 1;
  (void)client.value()->ReceiveBytes(200);  // lets ZeroMQ deliver it before the socket closes
  std::printf("peer-carry: sent a %s carry as %s\n", argv[4], argv[3]);
  return 0;
}

int main(int argc, char** argv) {
  std::string secret_key_file;
  std::string server_key_file;
  while (argc >= 3 && (std::string(argv[1]) == "--key" || std::string(argv[1]) == "--server-key")) {
    (std::string(argv[1]) == "--key" ? secret_key_file : server_key_file) = argv[2];
    argv += 2;
    argc -= 2;
  }
  wire::Context context;
  if (!secret_key_file.empty() || !server_key_file.empty()) {
    Result<wire::CurveKeys> keys = wire::LoadCurveKeys(secret_key_file, {server_key_file});
    if (!keys.ok()) {
      std::fprintf(stderr, "wire_send: %s\n", keys.status().message().c_str());
      return 2;
    }
    g_server_site = wire::SiteOfPublicKeyFile(server_key_file);
    context.UseCurve(keys.value());
  }
  if (argc < 3) {
    std::fprintf(
        stderr,
        "usage: wire_send ENDPOINT garbage COUNT SEED | wire_send ENDPOINT ping | "
        "wire_send ENDPOINT vote SITE VOLUME HOLDER [--release] [--force] [--outdated SITE]\n");
    return 2;
  }
  const std::string endpoint = argv[1];
  const std::string mode = argv[2];
  if (mode == "ping") {
    auto client = Connect(context, endpoint, "fuzz");
    if (!client.ok()) return 1;
    Result<wire::Reply> reply = client.value()->Call(wire::VolumeListRequest{}, 5000);
    if (!reply.ok()) {
      std::fprintf(stderr, "ping: %s\n", reply.status().message().c_str());
      return 1;
    }
    std::printf("ping: %zu volume(s)\n", reply->volumes.size());
    return reply->ToStatus().ok() ? 0 : 1;
  }
  if (mode == "vote") return SendVote(context, endpoint, argc, argv);
  if (mode == "replica-write" && argc == 8) return SendReplicaWrite(context, endpoint, argv);
  if (mode == "heartbeat" && argc == 7) return SendHeartbeats(context, endpoint, argv);
  if (mode == "journal-hostile" && argc == 6)
    return SendHostileJournalBatches(context, endpoint, argv);
  if ((mode == "peer-carry" || mode == "control-carry") && argc == 5)
    return SendCarry(context, endpoint, argv, mode == "control-carry");
  if (mode == "garbage" && argc == 5) {
    const uint64_t count = std::strtoull(argv[3], nullptr, 10);
    std::mt19937_64 random(std::strtoull(argv[4], nullptr, 10));
    for (uint64_t round = 0; round < count; ++round) {
      // A fresh connection now and then: an oversized frame makes ZeroMQ drop the connection.
      auto client = Connect(context, endpoint, "fuzz");
      if (!client.ok()) return 1;
      for (int i = 0; i < 10 && round < count; ++i, ++round) {
        (void)client.value()->SendBytes(BadFrame(random, round));
        (void)client.value()->ReceiveBytes(20);
      }
    }
    std::printf("garbage: sent %llu frames\n", static_cast<unsigned long long>(count));
    return 0;
  }
  if (mode == "peer-garbage" && argc == 6) {
    const uint64_t count = std::strtoull(argv[3], nullptr, 10);
    std::mt19937_64 random(std::strtoull(argv[4], nullptr, 10));
    const std::string site = argv[5];
    for (uint64_t round = 0; round < count;) {
      auto client = Connect(context, endpoint, "fuzz");
      if (!client.ok()) return 1;
      for (int i = 0; i < 10 && round < count; ++i, ++round) {
        (void)client.value()->SendBytes(BadPeerFrame(random, round, site));
      }
      (void)client.value()->ReceiveBytes(20);
    }
    std::printf("peer-garbage: sent %llu frames\n", static_cast<unsigned long long>(count));
    return 0;
  }
  if (mode == "write" && (argc == 11 || argc == 12)) {
    // write SITE replica|forwarded VOLUME COUNTER GEN_SITE OFFSET LENGTH DATA_BYTES [KIND]
    const std::string type = argv[4];
    if (type != "replica" && type != "forwarded") return 2;
    auto client = Connect(context, endpoint, "fuzz");
    if (!client.ok()) return 1;
    const uint64_t id = std::random_device{}() | (uint64_t{1} << 62);
    const std::string frame = WriteFrame(
        type == "replica" ? wire::MessageType::kReplicaWrite : wire::MessageType::kForwardedWrite,
        id, argv[3], argv[5], {std::strtoull(argv[6], nullptr, 10), argv[7]},
        std::strtoull(argv[8], nullptr, 10), std::strtoull(argv[9], nullptr, 10),
        std::strtoull(argv[10], nullptr, 10),
        argc == 12 ? static_cast<uint8_t>(std::strtoul(argv[11], nullptr, 10)) : 0);
    if (!client.value()->SendBytes(frame).ok()) return 1;
    (void)client.value()->ReceiveBytes(200);  // lets ZeroMQ deliver it before the socket closes
    std::printf("write: sent a %s write of %s bytes at %s\n", argv[4], argv[9], argv[8]);
    return 0;
  }
  if (mode == "hostile" && argc == 9) {
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
  if (mode == "peer-command" && argc == 8) {
    const wire::Generation generation{std::strtoull(argv[6], nullptr, 10), argv[7]};
    Result<std::pair<wire::MessageType, std::string>> command =
        PeerCommand(argv[4], argv[5], generation);
    if (!command.ok()) {
      std::fprintf(stderr, "peer-command: %s\n", command.status().message().c_str());
      return 2;
    }
    auto client = Connect(context, endpoint, "fuzz");
    if (!client.ok()) return 1;
    Result<std::string> frame = wire::EncodeFrame(
        command->first, std::random_device{}() | (uint64_t{1} << 62), argv[3],
        command->second);  // an id SITE's node never used: not taken for a retransmit
    if (!frame.ok() || !client.value()->SendBytes(frame.value()).ok()) return 1;
    (void)client.value()->ReceiveBytes(200);  // lets ZeroMQ deliver it before the socket closes
    std::printf("peer-command: sent %s of %s at generation %s/%s\n", argv[4], argv[5], argv[6],
                argv[7]);
    return 0;
  }
  std::fprintf(stderr, "wire_send: unknown mode %s\n", mode.c_str());
  return 2;
}
