// wire_send's carry modes (pairctl --site): hostile carried requests, to a node's peer endpoint
// as its peer (peer-carry) or to its control endpoint (control-carry).
#include "tests/tools/wire_send/wire_send.h"

#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "wire/limits.h"
#include "wire/peer_messages.h"

namespace pairfs::wire_send {
namespace {

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

}  // namespace

int SendPeerCarry(wire::Context& context, const std::string& endpoint, int, char** argv) {
  return SendCarry(context, endpoint, argv, false);
}

int SendControlCarry(wire::Context& context, const std::string& endpoint, int, char** argv) {
  return SendCarry(context, endpoint, argv, true);
}

}  // namespace pairfs::wire_send
