// ops (issue 15 part 1): the bodies of `pairctl events` (wire/protocol.md "Events"): the request a
// node's and clusterd's control endpoints serve (kEvents), one recorded event, and the reply that
// carries a page of them; the field check every received reply passes before pairctl prints it.
// Plain value types; the codec functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wire/messages.h"

namespace pairfs::wire {

// "The events recorded after `after` by the log of `instance`". `instance` 0 (a first call) asks
// for none: the reply names the log's instance and its newest sequence, where the asker starts.
// A node answers at once (no long poll: its control endpoint has one thread); the asker asks again
// after a short pause (pairctl: kEventsPollMs).
struct EventsRequest {
  static constexpr MessageType kType = MessageType::kEvents;
  uint64_t instance = 0;
  uint64_t after = 0;
  MSGPACK_DEFINE_MAP(instance, after);
};

// One change. `kind` says what it is about: "pair" (a volume's pair field: status, role,
// generation, reserved_by, reserve_epoch, fence, fenced, outdated, consistent), "progress" (a
// copy's percentage, at most once a second per pair), "link" (the data link to the peer, or a
// heartbeat link of clusterd) or "cluster" (clusterd's state, peer, started, reservation).
// `volume` is empty for events of the site. `old_value`/`new_value` are text (numbers in decimal,
// booleans as true/false, "" for none).
struct Event {
  uint64_t sequence = 0;  // 1, 2, ... within one instance of the log
  int64_t unix_ms = 0;    // when it was recorded (the recorder's clock)
  std::string source;     // "node" or "clusterd"
  std::string site;
  std::string kind;
  std::string volume;
  std::string field;
  std::string old_value;
  std::string new_value;
  MSGPACK_DEFINE_MAP(sequence, unix_ms, source, site, kind, volume, field, old_value, new_value);
};

// The answer to an EventsRequest (a kReply on the wire: `code` and `message` as in Reply, so a
// server that does not know kEvents answers in a form this decodes). `instance`: the log's, chosen
// at random when its process started (a different one: the process restarted). `last`: the
// sequence of the newest event here, or of the newest recorded when `events` is empty: the next
// request's `after`. `gap`: events after `after` were dropped (the ring is bounded) or the
// instance is not the one asked about: `events` is then empty, and the asker shows the current
// state again. `more`: more events wait; ask again at once.
struct EventsReply {
  static constexpr MessageType kType = MessageType::kReply;
  uint8_t code = 0;
  std::string message;
  uint64_t instance = 0;
  uint64_t last = 0;
  bool gap = false;
  bool more = false;
  std::vector<Event> events;
  MSGPACK_DEFINE_MAP(code, message, instance, last, gap, more, events);

  Status ToStatus() const;
};

// The checks of a received reply: at most kEventsPerReply events, each with its text fields within
// kMaxEventTextBytes (kMaxVolumeNameBytes for `volume`), in increasing sequence, none after `last`.
// InvalidArgument naming the field that breaks its rule.
Status CheckEventsReply(const EventsReply& reply);

// DecodeBody, then CheckEventsReply: Corruption for bytes that are not a reply, InvalidArgument
// for one that breaks a rule.
Status DecodeEventsReply(std::string_view bytes, EventsReply* reply);

// A volume's (or clusterd's) state as named fields in a fixed order, for comparing two states and
// for printing the current state as events (DiffFields).
using EventFields = std::vector<std::pair<std::string, std::string>>;

// The pair fields of a display row (pairctl's current state) and of clusterd's view.
EventFields PairFieldsOf(const VolumeInfo& volume);
EventFields ClusterFieldsOf(const ClusterInfo& cluster);

// The fields whose value differs from `before` to `after` (same names, same order; a field
// missing in `before` has "" there): (field, old, new) each.
struct FieldChange {
  std::string field;
  std::string old_value;
  std::string new_value;
};
std::vector<FieldChange> DiffFields(const EventFields& before, const EventFields& after);

// The data link to the peer's node counts as up while the peer was heard within this long (a
// display row's peer_heard_ms_ago): it sends every pair's status each 500 ms, so 2 s (the default
// peer_timeout_ms) of silence is four missed in a row.
inline constexpr int64_t kDataLinkSilentMs = 2000;
// "up" or "down" (-1: never heard since the node started: "down").
std::string DataLinkState(int64_t peer_heard_ms_ago);

// The kind an event of `field` has ("cluster" fields of clusterd named link:* are "link").
std::string ClusterEventKind(const std::string& field);

}  // namespace pairfs::wire
