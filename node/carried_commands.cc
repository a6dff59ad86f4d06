// Commands carried between the sites (doc/design.md "Async pairs": commands for the other site's
// storage may be sent through the local node; seed 001, claims 42-47). `pairctl --site b ...` at
// site a goes to a's node, which carries the request over the authenticated peer link; b's node
// runs it through its own control endpoint's dispatch and answers with the reply its operator
// would have got. Only the volume and pair commands travel (wire::CheckCarriable); a carried
// request is never carried on.
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
    return Status::NotFound("site " + site + " is not the peer of this site" +
                            (options_.peer_site.empty() ? std::string(" (it has no [peer])")
                                                        : " (its peer is " + options_.peer_site +
                                                              ")"));
  }
  const wire::PeerCarryCommand command{type, std::move(body)};
  if (Status checked = command.Check(); !checked.ok()) return checked;
  Result<wire::Frame> answer =
      Exchange(MessageType::kPeerCarry, wire::EncodeBody(command), wire::kCarryTimeoutMs);
  if (!answer.ok()) return answer.status();
  wire::Reply reply;
  if (answer->type != MessageType::kReply) {
    return Status::Corruption("site " + site + " answered a carried request with a " +
                              MessageTypeName(answer->type));
  }
  Status decoded = wire::DecodeBody(answer->body, &reply);
  if (decoded.ok()) decoded = wire::CheckCarriedReply(reply);
  if (!decoded.ok()) {
    CountRefusal(answer->type, decoded);
    return Status::Corruption("site " + site + "'s reply to a carried request: " +
                              decoded.message());
  }
  return reply;
}

void Replicator::ServeCarriedWith(std::function<wire::Reply(const wire::Frame&)> handler) {
  carried_handler_ = std::move(handler);
}

wire::Reply Replicator::ServeCarry(const wire::Frame& frame) {
  wire::PeerCarryCommand command;
  Status decoded = wire::DecodePeerMessage(frame.body, &command);
  if (!decoded.ok()) {
    CountRefusal(frame.type, decoded);
    return wire::Reply::FromStatus(Status::InvalidArgument("carried request: " + decoded.message()));
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
  spdlog::info("carried: a {} from site {}", MessageTypeName(request.type), frame.sender_site);
  return carried_handler_(request);
}

}  // namespace pairfs::node
