// ops (issue 15 part 1): clusterd's events for `pairctl events` (clusterd/daemon.h).
#include "clusterd/daemon.h"

namespace pairfs::clusterd {

void Daemon::RecordClusterChanges() {
  wire::EventFields fields = wire::ClusterFieldsOf(Describe());
  // The state is recorded at each transition (Transitioned), which a comparison once a tick would
  // miss when one tick runs several.
  std::erase_if(fields, [](const auto& field) { return field.first == "state"; });
  for (const wire::FieldChange& change : wire::DiffFields(recorded_fields_, fields)) {
    // Before the first comparison every field is "new": that is the state at start, which a
    // follower is shown from cluster status, not a change.
    if (!recorded_fields_.empty())
      events_.Record(wire::ClusterEventKind(change.field), "", change.field, change.old_value,
                     change.new_value);
  }
  recorded_fields_ = std::move(fields);
}

wire::EventsReply Daemon::AnswerEvents(const wire::Frame& frame) {
  wire::EventsRequest request;
  Status decoded = wire::DecodeBody(frame.body, &request);
  if (!decoded.ok()) {
    wire::EventsReply refused;
    refused.code = static_cast<uint8_t>(Code::kInvalidArgument);
    refused.message = "events request: " + decoded.message();
    return refused;
  }
  return events_.Read(request);
}

}  // namespace pairfs::clusterd
