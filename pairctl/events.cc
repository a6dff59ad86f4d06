// ops (issue 15 part 1): pairctl events (pairctl/events.h).
#include "pairctl/events.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <optional>
#include <thread>

#include "wire/link.h"
#include "wire/paging.h"

namespace pairfs::pairctl {
namespace {

// A follower asks a log at most this many pages in one poll, so that a log that keeps saying
// `more` (a hostile or broken one) cannot keep pairctl from the other log.
constexpr int kEventPagesPerPoll = 64;

int64_t EventNowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string EventTimeText(int64_t unix_ms) {
  const time_t seconds = static_cast<time_t>(unix_ms / 1000);
  struct tm utc {};
  gmtime_r(&seconds, &utc);
  char text[40];
  const size_t length = strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + length, sizeof text - length, ".%03dZ",
                static_cast<int>(((unix_ms % 1000) + 1000) % 1000));
  return text;
}

std::string EventTextValue(const std::string& value) { return value.empty() ? "\"\"" : value; }

EventLine MadeEventLine(const std::string& source, const std::string& site, const std::string& kind,
                        const std::string& volume, const std::string& field,
                        const std::string& old_value, const std::string& new_value,
                        bool current = false) {
  EventLine line;
  line.event.unix_ms = EventNowUnixMs();
  line.event.source = source;
  line.event.site = site;
  line.event.kind = kind;
  line.event.volume = volume;
  line.event.field = field;
  line.event.old_value = old_value;
  line.event.new_value = new_value;
  line.current = current;
  return line;
}

std::string InstanceText(uint64_t instance) {
  char text[20];
  std::snprintf(text, sizeof text, "%016" PRIx64, instance);
  return text;
}

// One log pairctl follows: the node's or clusterd's.
struct FollowedLog {
  std::string source;  // "node" or "clusterd"
  std::string endpoint;
  std::unique_ptr<wire::Client> client;
  uint64_t instance = 0;  // 0: never reached yet
  uint64_t after = 0;
  bool reachable = true;    // false from a failed call until one is answered
  bool state_owed = false;  // its current state is still to be printed (it did not answer)
};

// One events call: the checked reply, or why there is none (the client is dropped then, so that
// the next call connects afresh to a restarted daemon).
Result<wire::EventsReply> AskEvents(wire::Context& context, const Config& config,
                                    FollowedLog& log) {
  Status listening = wire::ProbeEndpoint(log.endpoint);
  if (!listening.ok()) {
    log.client.reset();
    return Status::Unreachable(log.source + " for site " + config.site.name +
                               " is not running: " + listening.message());
  }
  if (!log.client) {
    Result<std::unique_ptr<wire::Client>> client =
        wire::Client::Connect(context, log.endpoint, config.site.name);
    if (!client.ok()) return client.status();
    log.client = std::move(client.value());
  }
  const wire::EventsRequest request{log.instance, log.after};
  Result<wire::Frame> frame = log.client->CallRaw(wire::MessageType::kEvents,
                                                  wire::EncodeBody(request), kEventsCallTimeoutMs);
  if (!frame.ok()) {
    log.client.reset();
    return Status::Unreachable(log.source + " for site " + config.site.name +
                               " did not answer at " + log.endpoint + ": " +
                               frame.status().message());
  }
  if (frame->type != wire::MessageType::kReply)
    return Status::Corruption("the answer to events is not a reply");
  wire::EventsReply reply;
  if (Status decoded = wire::DecodeEventsReply(frame->body, &reply); !decoded.ok()) return decoded;
  if (Status refused = reply.ToStatus(); !refused.ok()) return refused;
  return reply;
}

// The current state of the log's source as lines (its display, or clusterd's cluster status), or
// why it did not answer.
Result<std::vector<EventLine>> CurrentStateOf(const Config& config, const FollowedLog& log) {
  Result<wire::Reply> reply =
      log.source == "clusterd"
          ? Ask(config, wire::ClusterStatusRequest{config.site.name}, log.endpoint, "clusterd",
                kEventsCallTimeoutMs)
          : wire::CallEveryPage(wire::DisplayRequest{}, [&](const auto& page) {
              return Ask(config, page, log.endpoint, "pairfs", kEventsCallTimeoutMs);
            });
  if (!reply.ok()) return reply.status();
  if (Status refused = reply->ToStatus(); !refused.ok()) return refused;
  if (log.source == "clusterd") return ClusterStateLines(config.site.name, reply->cluster);
  return NodeStateLines(config.site.name, reply->volumes);
}

// Appends the log's current state to `batch` if it is owed and the log answers now.
void PayStateOwed(const Config& config, FollowedLog& log, std::vector<EventLine>* batch) {
  if (!log.state_owed) return;
  Result<std::vector<EventLine>> state = CurrentStateOf(config, log);
  if (!state.ok()) return;  // owed still: asked again at the next poll
  for (EventLine& line : state.value()) batch->push_back(std::move(line));
  log.state_owed = false;
}

// One poll of `log`: its new events, or the lines pairctl makes for a lost or regained
// connection, a restart or a gap (then the current state again), appended to `batch`.
void PollLog(wire::Context& context, const Config& config, FollowedLog& log,
             std::vector<EventLine>* batch) {
  const std::string& site = config.site.name;
  for (int page = 0; page < kEventPagesPerPoll; ++page) {
    Result<wire::EventsReply> reply = AskEvents(context, config, log);
    if (!reply.ok()) {
      if (log.reachable)
        batch->push_back(
            MadeEventLine(log.source, site, "connection", "", "control", "up", "down"));
      log.reachable = false;
      return;
    }
    const bool first_contact = log.instance == 0;
    if (!log.reachable) {
      batch->push_back(MadeEventLine(log.source, site, "connection", "", "control", "down", "up"));
      log.reachable = true;
    }
    if (reply->instance != log.instance || reply->gap) {
      if (first_contact) {
        // Nothing to say but the state (a clusterd that was not running when pairctl started).
      } else if (reply->instance != log.instance) {
        batch->push_back(MadeEventLine(log.source, site, "restart", "", "instance",
                                       InstanceText(log.instance), InstanceText(reply->instance)));
      } else {
        batch->push_back(MadeEventLine(log.source, site, "gap", "", "sequence",
                                       std::to_string(log.after), std::to_string(reply->last)));
      }
      log.instance = reply->instance;
      log.after = reply->last;
      log.state_owed = true;
      return PayStateOwed(config, log, batch);
    }
    PayStateOwed(config, log, batch);
    for (wire::Event& event : reply->events) batch->push_back({std::move(event), false});
    log.after = reply->last;
    if (!reply->more) return;
  }
}

void PrintEventLines(std::vector<EventLine> lines, bool json) {
  std::stable_sort(lines.begin(), lines.end(), [](const EventLine& a, const EventLine& b) {
    return a.event.unix_ms < b.event.unix_ms;
  });
  for (const EventLine& line : lines) {
    if (json) {
      std::cout << EventJson(line).dump(-1, ' ', false,
                                        nlohmann::ordered_json::error_handler_t::replace);
    } else {
      std::cout << EventText(line);
    }
    std::cout << std::endl;  // flushed: a script reading a pipe or a file sees each event at once
  }
}

}  // namespace

std::string EventText(const EventLine& line) {
  const wire::Event& e = line.event;
  std::string text = EventTimeText(e.unix_ms) + " " + e.source + " " + e.site + " " + e.kind + " " +
                     (e.volume.empty() ? "-" : e.volume) + " " + e.field + " ";
  if (line.current) return text + "= " + EventTextValue(e.new_value);
  return text + EventTextValue(e.old_value) + " -> " + EventTextValue(e.new_value);
}

nlohmann::ordered_json EventJson(const EventLine& line) {
  const wire::Event& e = line.event;
  nlohmann::ordered_json document;
  document["time"] = EventTimeText(e.unix_ms);
  document["unix_ms"] = e.unix_ms;
  document["source"] = e.source;
  document["site"] = e.site;
  document["kind"] = e.kind;
  const nlohmann::ordered_json null;
  document["volume"] = e.volume.empty() ? null : nlohmann::ordered_json(e.volume);
  document["field"] = e.field;
  document["old"] = line.current ? null : nlohmann::ordered_json(e.old_value);
  document["new"] = e.new_value;
  document["current"] = line.current;
  return document;
}

std::vector<EventLine> NodeStateLines(const std::string& site,
                                      const std::vector<wire::VolumeInfo>& volumes) {
  std::vector<EventLine> lines;
  std::string link;
  for (const wire::VolumeInfo& volume : volumes) {
    for (const auto& [field, value] : wire::PairFieldsOf(volume))
      lines.push_back(MadeEventLine("node", site, "pair", volume.name, field, "", value, true));
    if (volume.status == "COPY") {
      lines.push_back(MadeEventLine("node", site, "progress", volume.name, "copy_progress", "",
                                    std::to_string(volume.copy_progress), true));
    }
    if (link.empty() && !volume.peer_site.empty())
      link = wire::DataLinkState(volume.peer_heard_ms_ago);
  }
  if (!link.empty())
    lines.push_back(MadeEventLine("node", site, "link", "", "data_link", "", link, true));
  return lines;
}

std::vector<EventLine> ClusterStateLines(const std::string& site,
                                         const wire::ClusterInfo& cluster) {
  std::vector<EventLine> lines;
  for (const auto& [field, value] : wire::ClusterFieldsOf(cluster)) {
    lines.push_back(
        MadeEventLine("clusterd", site, wire::ClusterEventKind(field), "", field, "", value, true));
  }
  return lines;
}

int Events(const Config& config, const Options& options, bool now) {
  wire::Context context;
  FollowedLog node{"node", config.site.control};
  Result<wire::EventsReply> first = AskEvents(context, config, node);
  if (!first.ok()) return Fail(first.status());
  node.instance = first->instance;
  node.after = first->last;
  Result<std::vector<EventLine>> node_state = CurrentStateOf(config, node);
  if (!node_state.ok()) return Fail(node_state.status());
  std::vector<EventLine> lines = std::move(node_state.value());
  std::optional<FollowedLog> clusterd;
  if (config.cluster.present) {
    clusterd = FollowedLog{"clusterd", ClusterdEndpoint(config)};
    Result<wire::EventsReply> answered = AskEvents(context, config, *clusterd);
    if (answered.ok()) {
      clusterd->instance = answered->instance;
      clusterd->after = answered->last;
      clusterd->state_owed = true;
      PayStateOwed(config, *clusterd, &lines);
    } else {
      std::cerr << "pairctl: events: " << answered.status().message()
                << ": node events only until it answers\n";
      clusterd->reachable = false;
    }
  }
  PrintEventLines(std::move(lines), options.json);
  if (now) return 0;
  // Merged by time: a log's answer holds every event it recorded before it was asked, so the
  // lines older than the earlier of the two asks are complete from both and are printed; the
  // rest wait for the next poll (one log may answer late: the node's control thread runs a
  // takeover that clusterd asked for while clusterd's log already has what came after).
  std::vector<EventLine> pending;
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(kEventsPollMs));
    int64_t complete_before = EventNowUnixMs();
    PollLog(context, config, node, &pending);
    if (clusterd) {
      const int64_t asked = EventNowUnixMs();
      PollLog(context, config, *clusterd, &pending);
      if (clusterd->reachable) complete_before = std::min(complete_before, asked);
    }
    auto later = std::stable_partition(pending.begin(), pending.end(), [&](const EventLine& line) {
      return line.event.unix_ms < complete_before;
    });
    PrintEventLines(std::vector<EventLine>(pending.begin(), later), options.json);
    pending.erase(pending.begin(), later);
  }
}

}  // namespace pairfs::pairctl
