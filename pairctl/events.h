// ops (issue 15 part 1): `pairctl events [--now] [--json]` (pairctl(8) EVENTS): follows the node's
// and clusterd's event logs (wire/event_messages.h) and prints one line (or JSON object) per
// event, merged by time. Not thread-safe: pairctl has one thread.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pairctl/client.h"
#include "wire/event_messages.h"

namespace pairfs::pairctl {

// pairctl polls each log this often: the node answers at once (no long poll, so that its one
// control thread stays free for display and clusterd), and a fifth of a second is prompt enough
// for a person or a script while costing the node next to nothing.
constexpr int kEventsPollMs = 200;
// One events (or display, or cluster status) call waits this long for its answer, the usual
// control wait: a node that does not answer within it is shown as lost (a `connection` event) and
// asked again every poll until it answers. A stopped daemon is seen at once (its socket refuses
// the connection); only a hung or very busy one makes pairctl wait this long.
constexpr int kEventsCallTimeoutMs = wire::kDefaultControlTimeoutMs;

// One line to print: an event from a log, or one pairctl makes (the current state, a lost or
// regained connection, a restart, a gap). `current`: a line of the current state (no old value).
struct EventLine {
  wire::Event event;
  bool current = false;
};

// The text form: TIME SOURCE SITE KIND VOLUME FIELD OLD -> NEW, or TIME SOURCE SITE KIND VOLUME
// FIELD = NEW for the current state; TIME is UTC with milliseconds (2026-12-03T16:00:00.123Z),
// VOLUME `-` for none, an empty value `""`.
std::string EventText(const EventLine& line);
// The JSON form, one object: time, unix_ms, source, site, kind, volume (or null), field, old (or
// null for the current state), new, current.
nlohmann::ordered_json EventJson(const EventLine& line);

// The current state as lines: each volume's pair fields and the data link (from a display), and
// clusterd's fields (from cluster status, when `cluster` is given).
std::vector<EventLine> NodeStateLines(const std::string& site,
                                      const std::vector<wire::VolumeInfo>& volumes);
std::vector<EventLine> ClusterStateLines(const std::string& site, const wire::ClusterInfo& cluster);

// The command: exit 0 after --now; otherwise follows until interrupted. Fails (pairctl(8)'s exit
// codes) only when the node does not answer the first time.
int Events(const Config& config, const Options& options, bool now);

}  // namespace pairfs::pairctl
