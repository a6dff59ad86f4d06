// ops (issue 15 part 1): the node's answer to `pairctl events` (wire::EventsRequest). Pair fields
// are recorded where the metadata is saved (node/event_log.h); what is not saved is sampled here,
// as a follower asks: a copy's progress (at most once per kEventProgressIntervalMs per pair) and
// the data link's state (up/down from the peer's last frame). Sampling as a follower asks records
// nothing while nobody follows, which is when nobody would read it.
//
// Thread-safe (the sampling state is guarded); called on the control endpoint's thread.
#pragma once

#include "node/replicator.h"
#include "node/store.h"
#include "wire/envelope.h"
#include "wire/event_messages.h"

namespace pairfs::node {

// Decodes `frame` as an EventsRequest and answers it from the node's log (NodeEvents), sampling
// progress and link first. A body that does not decode, or a node without a log, is answered with
// the refusal (code and message), never an exception.
wire::EventsReply AnswerEvents(const wire::Frame& frame, VolumeStore& store,
                               Replicator* replicator);

}  // namespace pairfs::node
