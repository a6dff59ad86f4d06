// wire_send's garbage modes: seeded random bad frames at a control endpoint (garbage) and at a
// node's peer endpoint as the peer (peer-garbage).
#include "tests/tools/wire_send/wire_send.h"

#include <cstdio>
#include <cstdlib>
#include <random>

#include "wire/limits.h"
#include "wire/peer_messages.h"

namespace pairfs::wire_send {
namespace {

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

}  // namespace

// The garbage mode: argv[3..] = COUNT SEED.
int SendGarbage(wire::Context& context, const std::string& endpoint, int, char** argv) {
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

// The peer-garbage mode: argv[3..] = COUNT SEED SITE.
int SendPeerGarbage(wire::Context& context, const std::string& endpoint, int, char** argv) {
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

}  // namespace pairfs::wire_send
