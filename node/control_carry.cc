// The control endpoint's side of `pairctl --site SITE` (seed 001, claims 42-47): a kCarry names
// the site whose node is to run a request. This site's own name (or none) runs it here; the
// peer's name has the replicator carry it over the authenticated peer link
// (node/carried_commands.cc) and answers with the peer's reply unchanged; any other site is
// NotFound. Carries run on their own threads (kCarrierThreads), so that a far site that does not
// answer holds up neither this site's operator nor its clusterd, which fences and takes over
// through this same endpoint.
#include <spdlog/spdlog.h>

#include "node/control_server.h"
#include "node/limits.h"
#include "node/names.h"
#include "wire/peer_messages.h"

namespace pairfs::node {

wire::Reply ControlServer::HandleCarry(const wire::Frame& frame) {
  // The size first: an oversized carry is refused before any decoding.
  Status status = wire::CheckCarrySize(frame.body.size());
  wire::CarryRequest request;
  if (status.ok()) status = wire::DecodeBody(frame.body, &request);
  if (status.ok()) status = wire::CheckCarryRequest(request);
  if (!status.ok()) {
    return wire::Reply::FromStatus(Status::InvalidArgument("carry request: " + status.message()));
  }
  if (request.site.empty() || request.site == site_name_) {
    wire::Frame here = frame;
    here.type = static_cast<wire::MessageType>(request.type);
    here.body.assign(request.body.begin(), request.body.end());
    return Handle(here);
  }
  if (replicator_ == nullptr) {
    return wire::Reply::FromStatus(Status::NotFound("site " + request.site +
                                                    " is not the peer of site " + site_name_ +
                                                    " (it has no [peer]): nothing to carry to"));
  }
  Result<wire::Reply> reply =
      replicator_->Carry(request.site, request.type, std::move(request.body));
  if (!reply.ok()) return wire::Reply::FromStatus(reply.status());
  return std::move(reply.value());
}

wire::Reply ControlServer::HandleCarried(const wire::Frame& request) {
  // The replicator checked the command before calling; checked again here, at the dispatch it
  // reaches, so that no other caller can slip a fence or a nested carry past it.
  std::vector<char> body(request.body.begin(), request.body.end());
  if (Status carriable = wire::CheckCarriedRequest(static_cast<uint16_t>(request.type), body);
      !carriable.ok()) {
    return wire::Reply::FromStatus(Status::InvalidArgument(
        "carried request from site " + request.sender_site + ": " + carriable.message()));
  }
  spdlog::info("control: a {} carried from site {}", wire::MessageTypeName(request.type),
               request.sender_site);
  return Handle(request);
}

Status ControlServer::QueueCarry(wire::Incoming request) {
  std::lock_guard<std::mutex> lock(carries_mutex_);
  if (carries_queued_.size() >= kCarriesQueued) {
    return Status::Busy("site " + site_name_ + " is already carrying " +
                        std::to_string(carries_pending_) +
                        " requests to its peer; try again when they are answered");
  }
  carries_queued_.push_back(std::move(request));
  ++carries_pending_;
  carry_ready_.notify_one();
  return Status::Ok();
}

void ControlServer::SendCarryAnswers() {
  std::vector<CarryAnswer> answered;
  {
    std::lock_guard<std::mutex> lock(carries_mutex_);
    answered.swap(carries_answered_);
    carries_pending_ -= answered.size();
  }
  for (const CarryAnswer& answer : answered) {
    Status sent = server_->Answer(answer.request, site_name_, answer.reply);
    if (!sent.ok()) spdlog::warn("control: cannot answer a carry: {}", sent.message());
  }
}

bool ControlServer::CarriesPending() {
  std::lock_guard<std::mutex> lock(carries_mutex_);
  return carries_pending_ > 0;
}

void ControlServer::StartCarriers() {
  {
    std::lock_guard<std::mutex> lock(carries_mutex_);
    carriers_stopping_ = false;  // a server started again after Stop()
    carries_answered_.clear();
    carries_pending_ = 0;
  }
  for (int i = 0; i < kCarrierThreads; ++i) carriers_.emplace_back([this] { Carrier(); });
}

void ControlServer::StopCarriers() {
  {
    std::lock_guard<std::mutex> lock(carries_mutex_);
    carriers_stopping_ = true;
    carries_queued_.clear();  // nobody sends their answers any more
  }
  carry_ready_.notify_all();
  for (std::thread& carrier : carriers_) carrier.join();
  carriers_.clear();
}

void ControlServer::Carrier() {
  for (;;) {
    wire::Incoming request;
    {
      std::unique_lock<std::mutex> lock(carries_mutex_);
      carry_ready_.wait(lock, [&] { return carriers_stopping_ || !carries_queued_.empty(); });
      if (carriers_stopping_) return;
      request = std::move(carries_queued_.front());
      carries_queued_.pop_front();
    }
    wire::Reply reply = HandleCarry(request.frame);
    std::lock_guard<std::mutex> lock(carries_mutex_);
    carries_answered_.push_back({std::move(request), std::move(reply)});
  }
}

}  // namespace pairfs::node
