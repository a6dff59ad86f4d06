// wire_send's modes that send one well-formed frame as the peer node would: a pair command
// (peer-command), a write (write, replica-write). Each exits 0 once sent.
#include "tests/tools/wire_send/wire_send.h"

#include <cstdio>
#include <cstdlib>
#include <random>
#include <utility>

#include "wire/peer_messages.h"

namespace pairfs::wire_send {
namespace {

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

}  // namespace

// The replica-write mode: argv[3..] = SITE VOLUME OFFSET COUNTER GEN_SITE.
int SendReplicaWrite(wire::Context& context, const std::string& endpoint, int, char** argv) {
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

// The write mode: argv[3..] = SITE replica|forwarded VOLUME COUNTER GEN_SITE OFFSET LENGTH
// DATA_BYTES [KIND].
int SendWrite(wire::Context& context, const std::string& endpoint, int argc, char** argv) {
  // write SITE replica|forwarded VOLUME COUNTER GEN_SITE OFFSET LENGTH DATA_BYTES [KIND]
  const std::string type = argv[4];
  if (type != "replica" && type != "forwarded") return 2;
  auto client = Connect(context, endpoint, "fuzz");
  if (!client.ok()) return 1;
  const uint64_t id = std::random_device{}() | (uint64_t{1} << 62);
  const std::string frame = WriteFrame(
      type == "replica" ? wire::MessageType::kReplicaWrite : wire::MessageType::kForwardedWrite, id,
      argv[3], argv[5], {std::strtoull(argv[6], nullptr, 10), argv[7]},
      std::strtoull(argv[8], nullptr, 10), std::strtoull(argv[9], nullptr, 10),
      std::strtoull(argv[10], nullptr, 10),
      argc == 12 ? static_cast<uint8_t>(std::strtoul(argv[11], nullptr, 10)) : 0);
  if (!client.value()->SendBytes(frame).ok()) return 1;
  (void)client.value()->ReceiveBytes(200);  // lets ZeroMQ deliver it before the socket closes
  std::printf("write: sent a %s write of %s bytes at %s\n", argv[4], argv[9], argv[8]);
  return 0;
}

// The peer-command mode: argv[3..] = SITE COMMAND VOLUME COUNTER GEN_SITE.
int SendPeerCommand(wire::Context& context, const std::string& endpoint, int, char** argv) {
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

}  // namespace pairfs::wire_send
