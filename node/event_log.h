// ops (issue 15 part 1): the in-memory log of state changes that `pairctl events` follows
// (wire/event_messages.h; wire/protocol.md "Events"). A ring bounded in events and bytes
// (kEventLogMaxEvents, kEventLogMaxBytes), a sequence number that only grows (1, 2, ...), and an
// instance chosen at random when the log is made, so that a follower notices a restart. A node
// and clusterd each keep one; nothing is saved (a restart starts a new instance, and the follower
// shows the current state again).
//
// Thread-safe: Record and Read may be called from any thread at once.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

#include "node/limits.h"
#include "node/metadata.h"
#include "wire/event_messages.h"

namespace pairfs::node {

class EventLog {
 public:
  // `source` ("node" or "clusterd") and `site` are written into every event. `instance` 0: one
  // chosen at random (never 0).
  EventLog(std::string source, std::string site, size_t max_events = kEventLogMaxEvents,
           size_t max_bytes = kEventLogMaxBytes, uint64_t instance = 0);

  // Records one change now (the system clock). Text longer than wire::kMaxEventTextBytes is cut
  // (an event is shown, never refused). The oldest events are dropped past either bound.
  void Record(const std::string& kind, const std::string& volume, const std::string& field,
              const std::string& old_value, const std::string& new_value);
  // Records each change of `changes` as an event of `kind` about `volume`.
  void RecordAll(const std::string& kind, const std::string& volume,
                 const std::vector<wire::FieldChange>& changes);

  // The answer to `request`: at most wire::kEventsPerReply events after `request.after`, `more`
  // when others wait; none, with `gap`, when the request's instance is another one (a restart)
  // or events after `after` were dropped; none without `gap` for instance 0 (a first call).
  wire::EventsReply Read(const wire::EventsRequest& request) const;

  uint64_t instance() const { return instance_; }
  uint64_t last_sequence() const;

 private:
  const std::string source_;
  const std::string site_;
  const size_t max_events_;
  const size_t max_bytes_;
  const uint64_t instance_;
  mutable std::mutex mutex_;  // guards the three below
  std::deque<wire::Event> events_;
  size_t bytes_ = 0;
  uint64_t last_sequence_ = 0;
};

// ---- the node's log (one per process) ----
// The node's log: made by EnableNodeEvents (the control endpoint's Start, which knows the site);
// until then none, and a metadata save records nothing (unit tests and simulations pay nothing).
// Thread-safe.
void EnableNodeEvents(const std::string& site);
EventLog* NodeEvents();  // null until EnableNodeEvents

// The hook of a volume's metadata save (node/volume.cc): the pair fields that changed from
// `before` to `after` as "pair" events of the volume, in the node's log if there is one.
void RecordMetadataChange(const VolumeMetadata& before, const VolumeMetadata& after);

// The pair fields of saved metadata (wire::PairFieldsOf of the same values).
wire::EventFields PairFieldsOfMetadata(const VolumeMetadata& metadata);

}  // namespace pairfs::node
