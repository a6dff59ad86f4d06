// The control endpoint's group requests: split, resync, takeover and display --group G
// (node/group_commands.h decides, the replicator runs them). A group command answers with one
// outcome and one display row per pair of the group, also when some pairs failed.
#include <spdlog/spdlog.h>

#include "node/control_server.h"
#include "node/group_commands.h"
#include "wire/limits.h"
#include "wire/peer_messages.h"

namespace pairfs::node {
namespace {

// The group a request names, once it passed its checks; nullopt for a request without one
// (or one that does not decode: the ordinary dispatch refuses it with its reason).
template <class T>
std::optional<Result<T>> GroupRequest(const wire::Frame& frame) {
  T request;
  if (!wire::DecodeBody(frame.body, &request).ok() || request.group.empty()) return std::nullopt;
  if (!request.name.empty()) {
    return Result<T>(
        Status::InvalidArgument("give a volume NAME or --group " + request.group + ", not both"));
  }
  Status text = wire::CheckTextField("--group", request.group, wire::kMaxGroupNameBytes);
  if (!text.ok()) return Result<T>(text);
  return Result<T>(request);
}

}  // namespace

std::optional<wire::Reply> ControlServer::HandleGroup(const wire::Frame& frame) {
  using wire::MessageType;
  std::string group;
  GroupCommand command = GroupCommand::kSplit;
  Replicator::GroupOptions options;
  // Decodes the request as T; false (and *refusal set) when it carries a group that is refused.
  auto take = [&](auto tag, auto read) -> std::optional<Status> {
    using T = decltype(tag);
    std::optional<Result<T>> request = GroupRequest<T>(frame);
    if (!request) return std::nullopt;
    if (!request->ok()) return request->status();
    group = request->value().group;
    read(request->value());
    return Status::Ok();
  };
  std::optional<Status> taken;
  switch (frame.type) {
    case MessageType::kDisplay:
      taken = take(wire::DisplayRequest{}, [](const auto&) {});
      if (taken && taken->ok()) return DisplayGroup(group);
      break;
    case MessageType::kSplit:
      taken = take(wire::SplitRequest{}, [&](const auto& r) { options.read_write = r.read_write; });
      break;
    case MessageType::kResync:
      taken = take(wire::ResyncRequest{}, [&](const auto& r) {
        command = r.swap ? GroupCommand::kResyncSwap : GroupCommand::kResync;
      });
      break;
    case MessageType::kTakeover:
      taken = take(wire::TakeoverRequest{}, [&](const auto& r) {
        command = GroupCommand::kTakeover;
        options.force = r.force;
      });
      break;
    default: return std::nullopt;
  }
  if (!taken) return std::nullopt;
  if (!taken->ok()) return wire::Reply::FromStatus(*taken);
  if (replicator_ == nullptr) {
    return wire::Reply::FromStatus(Status::InvalidArgument(
        "site " + site_name_ + " has no [peer] in its config: no pairs here"));
  }
  std::vector<wire::PairOutcome> outcomes;
  std::string note;
  Status status = replicator_->RunGroup(group, command, options, &outcomes, &note);
  spdlog::info("{} --group {}: {}", GroupCommandName(command), group,
               status.ok() ? "done" : status.message());
  wire::Reply reply = wire::Reply::FromStatus(status);
  if (status.ok()) reply.message = note;
  for (const wire::PairOutcome& outcome : outcomes) {
    if (std::shared_ptr<Volume> volume = store_.Find(outcome.name))
      reply.volumes.push_back(DescribeVolume(*volume, replicator_));
  }
  reply.outcomes = std::move(outcomes);
  for (wire::VolumeInfo& volume : reply.volumes)
    volume.link_authenticated = link_authenticated_ && !volume.peer_site.empty();
  return reply;
}

wire::Reply ControlServer::DisplayGroup(const std::string& group) {
  wire::Reply reply;
  for (const auto& volume : store_.List()) {
    const VolumeMetadata metadata = volume->metadata();
    if (metadata.status == "SMPL" || EffectiveGroup(metadata.name, metadata.group) != group)
      continue;
    if (reply.volumes.size() == wire::kMaxGroupPairs) break;  // create --group keeps it within
    reply.volumes.push_back(DescribeVolume(*volume, replicator_));
    reply.volumes.back().link_authenticated = link_authenticated_;
  }
  if (reply.volumes.empty())
    return wire::Reply::FromStatus(
        Status::NotFound("no pair in group " + group + " at site " + site_name_));
  return reply;
}

}  // namespace pairfs::node
