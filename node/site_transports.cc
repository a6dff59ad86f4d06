#include "node/site_transports.h"

#include <memory>

#include "wire/link.h"

namespace pairfs::node {

Status LinkTransport::Send(std::string frame_bytes) {
  wire::PeerLink* link = link_.load();
  if (link == nullptr) return Status::Unreachable("the peer link is not up");
  return link->Send(std::move(frame_bytes));
}

Status LinkTransport::SendShared(std::shared_ptr<const std::string> frame_bytes) {
  wire::PeerLink* link = link_.load();
  if (link == nullptr) return Status::Unreachable("the peer link is not up");
  return link->SendShared(std::move(frame_bytes));
}

void LinkTransport::Attach(wire::PeerLink* link) { link_.store(link); }

WitnessClient::WitnessClient(std::string endpoint, std::string site,
                             std::optional<wire::CurveKeys> keys, std::string witness_site)
    : endpoint_(std::move(endpoint)),
      site_(std::move(site)),
      keys_(std::move(keys)),
      witness_site_(std::move(witness_site)) {}

Result<wire::Reply> WitnessClient::Vote(const wire::ReserveVoteRequest& request, int timeout_ms) {
  wire::Context context;
  if (keys_) context.UseCurve(*keys_);
  Result<std::unique_ptr<wire::Client>> client =
      wire::Client::Connect(context, endpoint_, site_, witness_site_);
  if (!client.ok()) return client.status();
  return client.value()->Call(request, timeout_ms);
}

}  // namespace pairfs::node
