#include "node/witness_server.h"

#include "wire/check.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <optional>
#include <utility>

#include <spdlog/spdlog.h>

#include "node/limits.h"
#include "node/names.h"
#include "node/reservation.h"
#include "wire/limits.h"
#include "wire/log_limit.h"

namespace pairfs::node {
namespace {

bool SameRecord(const wire::ReservationRecord& a, const wire::ReservationRecord& b) {
  return a.epoch == b.epoch && a.holder == b.holder && a.outdated == b.outdated && a.hold == b.hold;
}

// "the reservation of quorum to site b" / "the release of quorum for site a": what was asked, for
// the log.
std::string Asked(const wire::ReserveVoteRequest& request) {
  if (request.release) return "the release of " + request.volume + " for site " + request.holder;
  return "the reservation of " + request.volume + " to site " + request.holder;
}

// "(asked by site b, forced)".
std::string AskedBy(const std::string& sender, const wire::ReserveVoteRequest& request) {
  return "(asked by site " + sender + (request.force ? ", forced)" : ")");
}

wire::Reply Refusal(const Status& status, const wire::ReservationRecord& record) {
  wire::Reply reply = wire::Reply::FromStatus(status);
  reply.reservation = record;
  return reply;
}

}  // namespace

Status CheckWitnessConfig(const Config& config) {
  const std::string& path = config.path;
  if (!config.witness.present) {
    return Status::InvalidArgument(
        path + ": [witness]: missing (pairfs --witness needs its endpoint and sites)");
  }
  if (config.witness.sites.empty()) {
    return Status::InvalidArgument(
        path + ": witness.sites: missing (pairfs --witness needs the two site names it serves)");
  }
  const std::vector<std::string>& sites = config.witness.sites;
  if (std::find(sites.begin(), sites.end(), config.site.name) != sites.end()) {
    return Status::InvalidArgument(path + ": witness.sites: names this witness's own site " +
                                   config.site.name + " (it must name the two data sites)");
  }
  return Status::Ok();
}

WitnessServer::WitnessServer(WitnessStore& store, std::string site, std::vector<std::string> sites)
    : store_(store), site_(std::move(site)), sites_(std::move(sites)) {
  PAIRFS_CHECK(sites_.size() == 2, "CheckWitnessConfig and the config loader admit two sites only");
}

bool WitnessServer::Serves(const std::string& site) const {
  return std::find(sites_.begin(), sites_.end(), site) != sites_.end();
}

Status WitnessServer::CheckSites(const std::string& sender,
                                 const wire::ReserveVoteRequest& request) const {
  const std::string served =
      " (this witness serves sites " + sites_.at(0) + " and " + sites_.at(1) + ")";
  if (!Serves(sender))
    return Status::InvalidArgument("votes from site " + sender + " are not accepted" + served);
  if (!Serves(request.holder))
    return Status::InvalidArgument("site " + request.holder + " cannot hold" + served);
  if (!request.outdated.empty() && !Serves(request.outdated)) {
    return Status::InvalidArgument("site " + request.outdated + " cannot be marked outdated" +
                                   served);
  }
  if (request.hold > wire::kMaxCounterValue) {
    return Status::InvalidArgument("a vote numbered " + std::to_string(request.hold) +
                                   " (beyond 2^63 - 1)");
  }
  return CheckVolumeName(request.volume);
}

wire::Reply WitnessServer::Handle(const wire::Frame& frame) {
  if (frame.type != wire::MessageType::kReserveVote) {
    return wire::Reply::FromStatus(
        Status::Unsupported(std::string("the witness answers reserve votes only, not ") +
                            wire::MessageTypeName(frame.type)));
  }
  wire::ReserveVoteRequest request;
  Status decoded = wire::DecodeBody(frame.body, &request);
  if (!decoded.ok())
    return wire::Reply::FromStatus(
        Status::InvalidArgument("reserve-vote request: " + decoded.message()));
  Status served = CheckSites(frame.sender_site, request);
  if (!served.ok()) {
    spdlog::info("witness: refused {} {}: {}", Asked(request), AskedBy(frame.sender_site, request),
                 served.message());
    return wire::Reply::FromStatus(served);
  }
  return Vote(frame.sender_site, request);
}

wire::Reply WitnessServer::Vote(const std::string& sender,
                                const wire::ReserveVoteRequest& request) {
  Result<wire::ReservationRecord> loaded = store_.Load(request.volume);
  if (!loaded.ok()) {
    if (loaded.status().code() == Code::kCorruption &&
        reported_corrupt_.insert(request.volume).second) {
      spdlog::error(
          "witness: the record of {} is unusable, its votes are refused until it is repaired or "
          "removed: {}",
          request.volume, loaded.status().message());
    }
    spdlog::info("witness: refused {} {}: {}", Asked(request), AskedBy(sender, request),
                 loaded.status().message());
    return wire::Reply::FromStatus(
        Status(loaded.status().code(), "the witness's record of " + request.volume +
                                           " is unusable: " + loaded.status().message()));
  }
  reported_corrupt_.erase(request.volume);
  const wire::ReservationRecord& before = loaded.value();
  VoteOutcome outcome = node::Vote(before, request);
  if (outcome.late) {
    // A delayed frame, not a decision anyone waits for: counted, and logged rate-limited.
    ++late_votes_;
    PAIRFS_LOG_REFUSAL(wire::RefusalLog(), "witness: late " + request.volume,
                       "witness: refused {} {}: {} ({} late vote(s) refused so far)",
                       Asked(request), AskedBy(sender, request), outcome.reason, late_votes_);
    return Refusal(Status::Conflict(outcome.reason), before);
  }
  if (!outcome.granted) {
    spdlog::info("witness: refused {} {}: {}", Asked(request), AskedBy(sender, request),
                 outcome.reason);
    return Refusal(Status::Conflict(outcome.reason), before);
  }
  if (!SameRecord(before, outcome.record)) {
    Status saved = store_.Save(request.volume, outcome.record);
    if (!saved.ok()) {
      spdlog::error("witness: refused {} {}: cannot record it: {}", Asked(request),
                    AskedBy(sender, request), saved.message());
      return Refusal(
          Status(saved.code(), "the witness cannot record the grant: " + saved.message()), before);
    }
  }
  const wire::ReservationRecord& after = outcome.record;
  spdlog::info("witness: granted {} {}, epoch {}{}", Asked(request), AskedBy(sender, request),
               after.epoch,
               after.outdated.empty() ? std::string() : ", site " + after.outdated + " outdated");
  wire::Reply reply;
  reply.message = outcome.reason;
  reply.reservation = after;
  return reply;
}

Status WitnessServer::Serve(wire::Context& context, const std::string& endpoint,
                            const std::atomic<bool>& stop) {
  Result<std::unique_ptr<wire::Server>> bound =
      wire::Server::Bind(context, endpoint, wire::Reach::kSiteToSite);
  if (!bound.ok()) return bound.status();
  wire::Server& server = *bound.value();
  const bool authenticated = context.curve_keys() != nullptr;
  spdlog::info(
      "witness {}: serving sites {} and {} at {}, {}", site_, sites_.at(0), sites_.at(1), endpoint,
      authenticated ? "authenticated with CURVE keys" : "NOT authenticated (no [security] keys)");
  uint64_t malformed = 0;
  uint64_t impostors = 0;
  while (!stop.load()) {
    Result<std::optional<wire::Incoming>> incoming = server.Receive(kControlPollMs);
    if (!incoming.ok()) {
      if (incoming.status().error_number() == EINTR) continue;  // a signal: the loop checks `stop`
      PAIRFS_LOG_REFUSAL(wire::RefusalLog(), "witness: malformed",
                         "witness: refused a message ({} so far): {}", ++malformed,
                         incoming.status().message());
      continue;
    }
    if (!incoming.value()) continue;
    const std::string& claimed = incoming.value()->frame.sender_site;
    const std::string& key_site = incoming.value()->authenticated_site;
    if (authenticated && claimed != key_site) {
      // Unanswered: a holder of another site's key learns nothing and changes nothing.
      PAIRFS_LOG_REFUSAL(wire::RefusalLog(), "witness: impostor " + key_site,
                         "security: witness: refused a vote claiming site '{}' on a connection "
                         "authenticated as site "
                         "'{}' ({} such vote(s) refused so far)",
                         claimed, key_site, ++impostors);
      continue;
    }
    const wire::Reply reply = Handle(incoming.value()->frame);
    Status sent = server.Answer(*incoming.value(), site_, reply);
    if (!sent.ok())
      spdlog::warn("witness: cannot answer site {}: {}", incoming.value()->frame.sender_site,
                   sent.message());
  }
  spdlog::info("witness {}: stopped", site_);
  return Status::Ok();
}

}  // namespace pairfs::node
