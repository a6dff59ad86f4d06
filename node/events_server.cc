#include "node/events_server.h"

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "node/control_server.h"
#include "node/event_log.h"
#include "node/limits.h"
#include "node/time_source.h"

namespace pairfs::node {
namespace {

// What the sampling saw last: per pair in COPY its progress and when it was recorded; the data
// link's state ("" before the first sample).
struct SampledState {
  std::mutex mutex;
  std::map<std::string, std::pair<uint32_t, int64_t>> progress;  // volume -> (percent, when)
  std::string link;
};

SampledState& Sampled() {
  static SampledState state;
  return state;
}

// Records the copy progress of each pair in COPY (when it changed, at most once per
// kEventProgressIntervalMs) and the data link's state (when it changed), as seen now.
void SampleProgressAndLink(EventLog& log, VolumeStore& store, Replicator* replicator) {
  if (replicator == nullptr) return;
  SampledState& sampled = Sampled();
  std::lock_guard<std::mutex> lock(sampled.mutex);
  const int64_t now = SteadyNowMs();
  std::map<std::string, std::pair<uint32_t, int64_t>> still_copying;
  // The data link (one per node: Replicator::PeerHeardMsAgo): said only once there is a pair
  // ("" with none: nothing to say). Only pairs in COPY are described, for their progress.
  std::string link;
  for (const auto& volume : store.List()) {
    const std::string status = volume->metadata().status;
    if (status == "SMPL") continue;
    if (link.empty()) link = wire::DataLinkState(replicator->PeerHeardMsAgo());
    if (status != "COPY") continue;
    const wire::VolumeInfo info = DescribeVolume(*volume, replicator);
    if (info.status != "COPY") continue;
    auto previous = sampled.progress.find(info.name);
    if (previous == sampled.progress.end()) {
      still_copying[info.name] = {0, now - kEventProgressIntervalMs};  // 0 %: recorded below
      previous = still_copying.find(info.name);
    } else {
      still_copying[info.name] = previous->second;
      previous = still_copying.find(info.name);
    }
    auto& [percent, when] = previous->second;
    if (info.copy_progress != percent && now - when >= kEventProgressIntervalMs) {
      log.Record("progress", info.name, "copy_progress", std::to_string(percent),
                 std::to_string(info.copy_progress));
      percent = info.copy_progress;
      when = now;
    }
  }
  sampled.progress = std::move(still_copying);
  if (!link.empty() && link != sampled.link) {
    log.Record("link", "", "data_link", sampled.link, link);
    sampled.link = link;
  }
}

}  // namespace

wire::EventsReply AnswerEvents(const wire::Frame& frame, VolumeStore& store,
                               Replicator* replicator) {
  wire::EventsReply reply;
  wire::EventsRequest request;
  Status status = wire::DecodeBody(frame.body, &request);
  if (!status.ok()) status = Status::InvalidArgument("events request: " + status.message());
  EventLog* log = NodeEvents();
  if (status.ok() && log == nullptr) status = Status::Unsupported("this node keeps no events");
  if (!status.ok()) {
    reply.code = static_cast<uint8_t>(status.code());
    reply.message = status.message();
    return reply;
  }
  SampleProgressAndLink(*log, store, replicator);
  return log->Read(request);
}

}  // namespace pairfs::node
