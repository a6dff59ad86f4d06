#include "node/event_log.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <random>

namespace pairfs::node {
namespace {

std::string CutToEventText(const std::string& text) {
  return text.size() <= wire::kMaxEventTextBytes ? text : text.substr(0, wire::kMaxEventTextBytes);
}

// An event's weight against the byte bound: its text and a fixed overhead for the rest.
size_t EventBytes(const wire::Event& event) {
  return 64 + event.source.size() + event.site.size() + event.kind.size() + event.volume.size() +
         event.field.size() + event.old_value.size() + event.new_value.size();
}

uint64_t RandomEventInstance() {
  std::random_device device;
  uint64_t value = 0;
  while (value == 0) value = (uint64_t{device()} << 32) ^ device();
  return value;
}

int64_t EventNowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::atomic<EventLog*> node_events{nullptr};

}  // namespace

EventLog::EventLog(std::string source, std::string site, size_t max_events, size_t max_bytes,
                   uint64_t instance)
    : source_(std::move(source)),
      site_(std::move(site)),
      max_events_(max_events == 0 ? 1 : max_events),
      max_bytes_(max_bytes),
      instance_(instance == 0 ? RandomEventInstance() : instance) {}

void EventLog::Record(const std::string& kind, const std::string& volume, const std::string& field,
                      const std::string& old_value, const std::string& new_value) {
  wire::Event event;
  event.unix_ms = EventNowUnixMs();
  event.source = source_;
  event.site = site_;
  event.kind = CutToEventText(kind);
  event.volume = volume.size() <= wire::kMaxVolumeNameBytes ? volume : "";
  event.field = CutToEventText(field);
  event.old_value = CutToEventText(old_value);
  event.new_value = CutToEventText(new_value);
  const size_t bytes = EventBytes(event);
  std::lock_guard<std::mutex> lock(mutex_);
  event.sequence = ++last_sequence_;
  events_.push_back(std::move(event));
  bytes_ += bytes;
  while (events_.size() > max_events_ || (bytes_ > max_bytes_ && events_.size() > 1)) {
    bytes_ -= EventBytes(events_.front());
    events_.pop_front();
  }
}

void EventLog::RecordAll(const std::string& kind, const std::string& volume,
                         const std::vector<wire::FieldChange>& changes) {
  for (const wire::FieldChange& change : changes)
    Record(kind, volume, change.field, change.old_value, change.new_value);
}

uint64_t EventLog::last_sequence() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_sequence_;
}

wire::EventsReply EventLog::Read(const wire::EventsRequest& request) const {
  wire::EventsReply reply;
  reply.instance = instance_;
  std::lock_guard<std::mutex> lock(mutex_);
  reply.last = last_sequence_;
  if (request.instance == 0) return reply;  // a first call: start after the newest
  const uint64_t oldest = events_.empty() ? last_sequence_ + 1 : events_.front().sequence;
  // A restart (another instance), a follower ahead of the log (a hostile or confused one), or
  // events after `after` that the ring dropped: the follower shows the current state again.
  if (request.instance != instance_ || request.after > last_sequence_ ||
      request.after + 1 < oldest) {
    reply.gap = true;
    return reply;
  }
  for (const wire::Event& event : events_) {
    if (event.sequence <= request.after) continue;
    if (reply.events.size() == wire::kEventsPerReply) {
      reply.more = true;
      break;
    }
    reply.events.push_back(event);
  }
  if (!reply.events.empty()) reply.last = reply.events.back().sequence;
  return reply;
}

void EnableNodeEvents(const std::string& site) {
  // Made once and kept for the life of the process: a metadata save may read the pointer at any
  // moment, so it is never freed (one per process, bounded).
  static std::once_flag once;
  std::call_once(once, [&] { node_events.store(new EventLog("node", site)); });
}

EventLog* NodeEvents() { return node_events.load(); }

wire::EventFields PairFieldsOfMetadata(const VolumeMetadata& metadata) {
  wire::VolumeInfo info;
  info.status = metadata.status;
  info.role = metadata.role;
  info.generation = metadata.generation;
  info.generation_site = metadata.generation_site;
  info.reserved_by = metadata.reserved_by;
  info.reserve_epoch = metadata.reserve_epoch;
  info.fence = metadata.fence;
  info.fenced = metadata.fenced;
  info.outdated = metadata.outdated;
  info.consistent = metadata.consistent;
  return wire::PairFieldsOf(info);
}

void RecordMetadataChange(const VolumeMetadata& before, const VolumeMetadata& after) {
  EventLog* log = NodeEvents();
  if (log == nullptr) return;
  log->RecordAll("pair", after.name,
                 wire::DiffFields(PairFieldsOfMetadata(before), PairFieldsOfMetadata(after)));
}

}  // namespace pairfs::node
