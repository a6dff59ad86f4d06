#include "wire/event_messages.h"

#include "wire/peer_messages.h"

namespace pairfs::wire {
namespace {

std::string EventFlag(bool value) { return value ? "true" : "false"; }

// One event's text fields: UTF-8 without control characters, within their limits (what a
// terminal or a JSON parser is given must not be able to move the cursor or break a line).
Status CheckEvent(const Event& event) {
  const std::pair<const char*, const std::string*> texts[] = {
      {"event source", &event.source},       {"event site", &event.site},
      {"event kind", &event.kind},           {"event field", &event.field},
      {"event old value", &event.old_value}, {"event new value", &event.new_value}};
  for (const auto& [name, text] : texts) {
    if (Status checked = CheckTextField(name, *text, kMaxEventTextBytes); !checked.ok())
      return checked;
  }
  if (!event.volume.empty()) return CheckVolumeNameField("event volume", event.volume);
  return Status::Ok();
}

}  // namespace

Status EventsReply::ToStatus() const {
  Reply reply;
  reply.code = code;
  reply.message = message;
  return reply.ToStatus();
}

Status CheckEventsReply(const EventsReply& reply) {
  if (reply.events.size() > kEventsPerReply) {
    return Status::InvalidArgument("events reply carries " + std::to_string(reply.events.size()) +
                                   " events, more than " + std::to_string(kEventsPerReply));
  }
  if (Status checked = CheckTextField("events message", reply.message, kMaxEventTextBytes * 8);
      !checked.ok())
    return checked;
  uint64_t previous = 0;
  for (const Event& event : reply.events) {
    if (event.sequence <= previous || event.sequence > reply.last) {
      return Status::InvalidArgument("events reply: sequence " + std::to_string(event.sequence) +
                                     " out of order (after " + std::to_string(previous) +
                                     ", last " + std::to_string(reply.last) + ")");
    }
    previous = event.sequence;
    if (Status checked = CheckEvent(event); !checked.ok()) return checked;
  }
  return Status::Ok();
}

Status DecodeEventsReply(std::string_view bytes, EventsReply* reply) {
  Status decoded = DecodeBody(bytes, reply);
  if (!decoded.ok()) return decoded;
  return CheckEventsReply(*reply);
}

EventFields PairFieldsOf(const VolumeInfo& volume) {
  const std::string generation =
      volume.generation == 0 && volume.generation_site.empty()
          ? "0"
          : std::to_string(volume.generation) + "@" + volume.generation_site;
  return {{"status", volume.status},
          {"role", volume.role},
          {"generation", generation},
          {"reserved_by", volume.reserved_by},
          {"reserve_epoch", std::to_string(volume.reserve_epoch)},
          {"fence", volume.fence},
          {"fenced", EventFlag(volume.fenced)},
          {"outdated", EventFlag(volume.outdated)},
          {"consistent", EventFlag(volume.consistent)}};
}

EventFields ClusterFieldsOf(const ClusterInfo& cluster) {
  EventFields fields = {{"state", cluster.state},
                        {"peer_alive", EventFlag(cluster.peer_alive)},
                        {"started", EventFlag(cluster.started)},
                        {"reservation", cluster.reservation.holder},
                        {"reservation_epoch", std::to_string(cluster.reservation.epoch)}};
  for (const LinkInfo& link : cluster.links)
    fields.emplace_back("heartbeat:" + link.peer, link.alive ? "up" : "down");
  return fields;
}

std::vector<FieldChange> DiffFields(const EventFields& before, const EventFields& after) {
  std::vector<FieldChange> changes;
  for (const auto& [field, value] : after) {
    std::string old_value;
    for (const auto& [old_field, old] : before) {
      if (old_field == field) old_value = old;
    }
    if (old_value != value) changes.push_back({field, old_value, value});
  }
  return changes;
}

std::string DataLinkState(int64_t peer_heard_ms_ago) {
  return peer_heard_ms_ago >= 0 && peer_heard_ms_ago <= kDataLinkSilentMs ? "up" : "down";
}

std::string ClusterEventKind(const std::string& field) {
  return field.rfind("heartbeat:", 0) == 0 ? "link" : "cluster";
}

}  // namespace pairfs::wire
