// pairctl cluster takeover --force (ops, issue 15 part 3): the operator's way on at the survivor
// when the whole other site is lost without a witness. The steps clusterd(8) used to list for the
// operator, in the one order that works: take over the determining volume, release the lost
// holder's record (forced: the managed pairs are apart from their peer), take over each managed
// volume, then race at once (kTakeover) so that the winner reserves the managed volumes, lifts
// its own fence and runs on_start. What is allowed is decided in clusterd/takeover_rules.h.
#include <spdlog/spdlog.h>

#include "clusterd/daemon.h"
#include "clusterd/takeover_rules.h"
#include "wire/paging.h"

namespace pairfs::clusterd {

// The node's answer to `call` (CallNode answers at once in the daemon): its status, and its
// message in `*message`.
Status Daemon::AskNodeNow(const NodeCall& call, std::string* message) {
  Status result;
  CallNode(call, [&](NodeAnswer answer) {
    result = answer.status;
    *message = std::move(answer.message);
  });
  return result;
}

Result<std::vector<wire::VolumeInfo>> Daemon::DisplayAtNode() {
  Result<wire::Reply> answer =
      wire::CallEveryPage(wire::DisplayRequest{}, [&](const wire::DisplayRequest& page) {
        return node_->Call(page, static_cast<int>(cluster_.timeout_ms));
      });
  if (!answer.ok()) return answer.status();
  if (Status status = answer->ToStatus(); !status.ok()) return status;
  return answer->volumes;
}

void Daemon::ReleaseLostHolder(const std::function<void(const std::string&)>& step) {
  const std::string& name = cluster_.determining_volume;
  Result<std::vector<wire::VolumeInfo>> volumes = DisplayAtNode();
  if (!volumes.ok())
    return step("release " + name +
                ": FAILED: the node did not answer: " + volumes.status().message());
  for (const wire::VolumeInfo& row : volumes.value()) {
    if (row.name != name) continue;
    const bool held_elsewhere = !row.reserved_by.empty() && row.reserved_by != config_.site.name;
    const bool outdated_here = row.reserve_outdated == config_.site.name;
    if (!held_elsewhere && !outdated_here) return;
    const std::string holder = held_elsewhere ? row.reserved_by : config_.site.name;
    std::string message;
    const Status released = AskNodeNow(wire::ReleaseRequest{name, holder, true}, &message);
    const std::string what =
        held_elsewhere ? "held by site " + holder : "this site marked outdated";
    return step("release " + name + " (" + what +
                "): " + (released.ok() ? "released" : "FAILED: " + released.message()));
  }
}

TakeoverView Daemon::ViewForTakeover(bool force) {
  TakeoverView view;
  view.force = force;
  view.phase = state_.phase;
  view.peer = config_.peer.name;
  view.peer_timeout_ms = config_.site.peer_timeout_ms;
  const std::vector<wire::HeartbeatSnapshot> links = heartbeats_->Snapshot();
  for (size_t i = 0; i < links.size(); ++i) {
    if (links[i].heard && links[i].last_heard_ms_ago >= 0 &&
        links[i].last_heard_ms_ago < cluster_.timeout_ms)
      view.links_hearing_peer.push_back(cluster_.heartbeat_listen[i]);
  }
  Result<std::vector<wire::VolumeInfo>> volumes = DisplayAtNode();
  view.node_answered = volumes.ok();
  if (volumes.ok()) view.volumes = volumes.value();
  return view;
}

wire::Reply Daemon::OperatorTakeover(const wire::Frame& frame) {
  wire::ClusterTakeoverRequest request;
  if (Status decoded = wire::DecodeBody(frame.body, &request); !decoded.ok()) {
    return wire::Reply::FromStatus(
        Status::InvalidArgument("cluster takeover: " + decoded.message()));
  }
  const TakeoverView view = ViewForTakeover(request.force);
  if (std::string refusal = TakeoverRefusal(view); !refusal.empty()) {
    spdlog::warn("clusterd {}: refused the operator's cluster takeover: {}", config_.site.name,
                 refusal);
    return wire::Reply::FromStatus(Status::InvalidArgument(refusal));
  }
  spdlog::warn("clusterd {}: the operator's cluster takeover --force: carrying on without site {}",
               config_.site.name, config_.peer.name);
  std::string said = "may be lost:";
  for (const std::string& line : WhatMayBeLost(view.volumes, cluster_.volumes, view.peer))
    said += "\n  " + line;
  said += "\ndone:";
  auto step = [&](const std::string& line) {
    spdlog::warn("clusterd {}: cluster takeover: {}", config_.site.name, line);
    said += "\n  " + line;
  };
  auto take_over = [&](const std::string& name) {
    std::string message;
    const Status taken = AskNodeNow(wire::TakeoverRequest{name, true, true, true, ""}, &message);
    step("takeover " + name + ": " + (taken.ok() ? message : "FAILED: " + taken.message()));
    return taken;
  };
  const std::vector<std::string> chosen =
      VolumesToTakeOver(view.volumes, cluster_.determining_volume, cluster_.volumes);
  const bool determining_first = !chosen.empty() && chosen[0] == cluster_.determining_volume;
  if (determining_first) {
    if (Status taken = take_over(chosen[0]); !taken.ok()) {
      wire::Reply failed = wire::Reply::FromStatus(taken);
      failed.message = said +
                       "\nthe determining volume could not be taken over: " + taken.message() +
                       "; nothing else done";
      return failed;
    }
  }
  ReleaseLostHolder(step);
  for (size_t i = determining_first ? 1 : 0; i < chosen.size(); ++i) (void)take_over(chosen[i]);
  Feed({Event::kTakeover});
  // The view after the race: the record it won, not the one polled before the steps.
  if (Result<std::vector<wire::VolumeInfo>> fresh = DisplayAtNode(); fresh.ok())
    volumes_ = fresh.value();
  wire::Reply reply;
  reply.cluster = Describe();
  if (state_.phase != Phase::kActive) {
    reply =
        wire::Reply::FromStatus(Status::Conflict(said + "\nbut this site did not win: " + reason_));
    reply.cluster = Describe();
    return reply;
  }
  reply.message = said + "\nsite " + config_.site.name + " is ACTIVE";
  return reply;
}

}  // namespace pairfs::clusterd
