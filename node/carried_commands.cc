// Commands carried between the sites (seed 001, claims 42-47; wire/protocol.md "Carried
// commands"). `pairctl --site b ...` at site a goes to a's node (node/control_carry.cc), which
// carries the request over the authenticated peer link; b's node runs it through its own control
// endpoint's dispatch, with its own checks, and answers with the reply its operator would have
// got. Only the volume and pair commands travel (wire::CheckCarriedRequest, checked at both ends);
// a carried request is never carried on.
#include <spdlog/spdlog.h>

#include "node/replicator.h"
#include "wire/limits.h"
#include "wire/log_limit.h"
#include "wire/peer_messages.h"

namespace pairfs::node {

using wire::MessageType;

Result<wire::Reply> Replicator::Carry(const std::string& site, uint16_t type,
                                      std::vector<char> body) {
  if (transport_ == nullptr || site != options_.peer_site) {
    return Status::NotFound("site " + site + " is not the peer of site " + options_.site +
                            (options_.peer_site.empty()
                                 ? std::string(" (it has no [peer])")
                                 : " (its peer is " + options_.peer_site + ")"));
  }
  const wire::PeerCarryCommand command{type, std::move(body)};
  if (Status checked = command.Check(); !checked.ok()) return checked;
  const std::string what = std::string("the ") + MessageTypeName(static_cast<MessageType>(type)) +
                           " carried to site " + site;
  Result<wire::Frame> answer =
      Exchange(MessageType::kPeerCarry, wire::EncodeBody(command), options_.carry_timeout_ms);
  if (!answer.ok()) {
    return Status(answer.status().code(), what + ": " + answer.status().message() +
                                              " (the link is down or its node is not running)");
  }
  if (answer->type != MessageType::kReply) {
    CountRefusal(answer->type, Status::Corruption("not a reply to a carried request"));
    return Status::Corruption(what + " was answered with a " + MessageTypeName(answer->type));
  }
  wire::Reply reply;
  Status decoded = wire::DecodeBody(answer->body, &reply);
  if (decoded.ok()) decoded = wire::CheckCarriedReply(reply);
  if (!decoded.ok()) {
    CountRefusal(answer->type, decoded);
    return Status::Corruption(what + ": its reply was refused: " + decoded.message());
  }
  return reply;
}

void Replicator::ServeCarriedWith(std::function<wire::Reply(const wire::Frame&)> handler) {
  carried_handler_ = std::move(handler);
}

wire::Reply Replicator::ServeCarry(const wire::Frame& frame) {
  wire::PeerCarryCommand command;
  // The size first: an oversized carry is refused before any decoding.
  Status decoded = wire::CheckCarrySize(frame.body.size());
  if (decoded.ok()) decoded = wire::DecodePeerMessage(frame.body, &command);
  if (!decoded.ok()) {
    CountRefusal(frame.type, decoded);
    return wire::Reply::FromStatus(Status::InvalidArgument(
        "carried request from site " + frame.sender_site + ": " + decoded.message()));
  }
  if (!carried_handler_) {
    return wire::Reply::FromStatus(
        Status::Unsupported("site " + options_.site + " serves no carried requests"));
  }
  wire::Frame request;
  request.type = static_cast<MessageType>(command.type);
  request.request_id = frame.request_id;
  request.sender_site = frame.sender_site;
  request.body.assign(command.body.begin(), command.body.end());
  return carried_handler_(request);
}

}  // namespace pairfs::node
