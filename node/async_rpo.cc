#include "node/async_rpo.h"

#include "node/names.h"

namespace pairfs::node {

RpoEstimate EstimateRpo(const RpoHeard& heard, uint64_t received, bool old_primary_answered,
                        int64_t now_unix_ms) {
  RpoEstimate estimate;
  if (old_primary_answered) {  // a planned swap pulled everything
    estimate.known = true;
    return estimate;
  }
  estimate.known = heard.heard;
  estimate.lower_bound = true;  // whatever it acknowledged after it was last heard is not counted
  if (!heard.heard) return estimate;
  estimate.heard_ago_ms = now_unix_ms > heard.heard_unix_ms ? now_unix_ms - heard.heard_unix_ms : 0;
  if (heard.appended_sequence > received) estimate.lost_writes = heard.appended_sequence - received;
  // The bytes: those after the heard batch (unsent_bytes, counted by the primary) and those of
  // the batch's own entries that are not durable here. Entries received beyond `through` (a
  // later batch whose fields were refused) are no longer lost, but their sizes are unknown here:
  // then the bytes are an upper bound of what was heard. Entries between what is durable and the
  // batch's first (an earlier batch lost in flight) have no size known here: then they are
  // counted as writes and not as bytes. Either way still a lower bound of what the primary
  // acknowledged.
  if (estimate.lost_writes > 0) {
    estimate.lost_bytes = heard.unsent_bytes;
    for (size_t i = 0; i < heard.entry_bytes.size(); ++i) {
      if (heard.first_sequence + i > received) estimate.lost_bytes += heard.entry_bytes[i];
    }
    estimate.span_ms = heard.unsent_span_ms;
  }
  return estimate;
}

std::string DescribeRpo(const std::string& group, const std::string& peer_site,
                        const RpoEstimate& estimate) {
  const std::string prefix = "group " + group + ": ";
  if (!estimate.known) {
    return prefix + "RPO unknown: nothing was heard from site " + peer_site +
           " since this site started (writes it acknowledged may be lost)";
  }
  if (!estimate.lower_bound) return prefix + "lost 0 writes (site " + peer_site + " answered)";
  return prefix + "lost at most " + std::to_string(estimate.lost_writes) + " writes / " +
         FormatSize(estimate.lost_bytes) + " written in the last " +
         std::to_string(estimate.span_ms) + " ms before the link to site " + peer_site +
         " was lost, as last heard " + std::to_string(estimate.heard_ago_ms) +
         " ms before the takeover (a lower bound: writes it acknowledged after that were never "
         "heard of)";
}

bool RpoHeardIsNewer(const RpoHeard& candidate, const RpoHeard& kept) {
  if (!kept.heard) return true;
  if (candidate.appended_sequence != kept.appended_sequence)
    return candidate.appended_sequence > kept.appended_sequence;
  return candidate.through >= kept.through;
}

}  // namespace pairfs::node
