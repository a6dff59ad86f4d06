// The two ends of an async takeover without the old primary (node/async_swap.cc runs it): how
// long it asks whether the old primary answers, and the RPO it saves for display.
//
// The ask (kTakeoverProbeMs, node/limits.h): a takeover whose peer answers is the planned,
// lossless four-role swap; one whose peer does not is SSWS and loses the journal's unshipped
// tail. So the ask must not give up on a live peer, and need not wait long for a dead one (the
// rules are pure functions of node/peer_status_rules.h: TakeoverProbeMs, AskAgainAfterProbe):
//  - clusterd's failover, or nothing heard from the peer for peer_timeout_ms (the background
//    thread's own link-loss rule, LinkIsSilent): it is asked only kFailoverProbeMs (the whole
//    other site may be gone; a link that just healed may not have carried a frame yet, and a
//    peer that answers must still get the lossless swap);
//  - else it is asked kTakeoverProbeMs (at least two status intervals: a live peer sends every
//    pair's status each interval);
//  - either way, no answer but a frame of it arrived meanwhile or within two status intervals
//    of the ask's end: it lives, and it is asked again for the whole peer_timeout_ms (as before
//    this limit). A site that is gone has been silent for clusterd's timeout by then.
// Neither makes two writers: the takeover without the peer bumps the generation, which the old
// primary's batches and statuses are refused by, and which makes it outdated (no writes) the
// moment it hears of it; a cut link already allowed the same.
//
// The RPO record: saved in each pair's metadata before the pairs change (so a takeover done is
// a takeover recorded), shown by display (rpo_* fields), kept across restarts, cleared by
// resync --swap here (node/async_resync_swap.cc) and by dissolve.
#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "node/async_pairs.h"
#include "node/async_rpo.h"
#include "node/peer_status_rules.h"
#include "node/replicator.h"
#include "node/replicator_internal.h"

namespace pairfs::node {

using namespace replicator_internal;

Result<wire::PeerAnswerMessage> AsyncPairs::ProbePeerForTakeover(Pair& pair, bool cluster) {
  const bool silent =
      LinkIsSilent(replicator_.heard_since_start_.load(), replicator_.last_heard_ms_.load(),
                   replicator_.NowMs(), options_.peer_timeout_ms);
  const int probe_ms =
      TakeoverProbeMs(cluster, silent, options_.peer_timeout_ms, options_.status_interval_ms);
  const int64_t asked_ms = replicator_.NowMs();
  Result<wire::PeerAnswerMessage> answer = replicator_.AskStatus(pair, probe_ms);
  if (answer.ok() || answer.status().code() != Code::kUnreachable) return answer;
  // A loaded live peer answers late (clusterd's 250 ms ask lost the planned swap to a live old
  // primary, cluster_async.sh under load): heard lately, it is asked again.
  if (!AskAgainAfterProbe(probe_ms, options_.peer_timeout_ms, asked_ms,
                          replicator_.last_heard_ms_.load(), replicator_.NowMs(),
                          options_.status_interval_ms))
    return answer;  // silent throughout: gone
  spdlog::info("takeover: site {} did not answer in {} ms but is heard: asking again",
               options_.peer_site, probe_ms);
  return replicator_.AskStatus(pair, options_.peer_timeout_ms);
}

void AsyncPairs::RecordTakeoverRpo(const std::vector<std::shared_ptr<Pair>>& pairs,
                                   const RpoEstimate& estimate) {
  const int64_t now_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  for (const std::shared_ptr<Pair>& pair : pairs) {
    Status saved = pair->volume->UpdateMetadata([&](VolumeMetadata& metadata) {
      metadata.rpo_takeover_unix_ms = std::max<int64_t>(now_unix_ms, 1);
      metadata.rpo_lost_writes =
          estimate.known ? static_cast<int64_t>(estimate.lost_writes) : int64_t{-1};
      metadata.rpo_lost_bytes = estimate.known ? estimate.lost_bytes : 0;
    });
    if (!saved.ok()) {
      spdlog::warn("pair {}: the takeover's RPO is not saved (it is in the log): {}",
                   pair->volume->name(), saved.message());
    }
  }
}

}  // namespace pairfs::node
