// A takeover and the reservation of the copies it made writable (ops, issue 15 part 3): the
// pair's own takeover (a swap, or SSWS) is TakeoverPair in operator_commands.cc, the four-role
// swap of async groups TakeoverAsync in async_swap.cc.
#include <spdlog/spdlog.h>

#include "node/replicator.h"
#include "node/replicator_internal.h"

namespace pairfs::node {

using namespace replicator_internal;

Status Replicator::Takeover(const std::string& name, bool force, bool cluster, bool peer_lost,
                            std::string* note) {
  Status taken = TakeoverPair(name, force, cluster, peer_lost, note);
  if (taken.ok()) ReserveTakenOverCopies(name, note);
  return taken;
}

// ops (issue 15): a takeover into SSWS makes this copy the one that writes, but a reservation
// the peer still holds here refused every write (EBADE) until clusterd's preempting reserve, so
// an operator's `takeover --force` left a volume nobody could write. The reservation moves to
// this site, as clusterd's reserve after a won race does (writes from the old site, should it
// come back, get EBADE). The determining volume's record is left alone: only a reserve or a
// release moves it.
void Replicator::ReserveTakenOverCopies(const std::string& name, std::string* note) {
  std::shared_ptr<Pair> taken = FindPair(name);
  if (!taken) return;
  std::vector<std::shared_ptr<Pair>> moved = {taken};
  if (taken->Snapshot().context.mode == PairMode::kAsync) {  // the group moved with it
    std::lock_guard<std::mutex> lock(pairs_mutex_);
    for (auto& [other, pair] : pairs_)
      if (pair != taken && pair->async_group && pair->group_name == taken->group_name)
        moved.push_back(pair);
  }
  for (const std::shared_ptr<Pair>& pair : moved) {
    const std::string volume = pair->volume->name();
    if (IsDetermining(volume) || pair->Snapshot().state.status != PairStatus::kSSWS) continue;
    std::lock_guard<std::mutex> ordered(pair->reserve_mutex);
    if (pair->volume->metadata().reserved_by != options_.peer_site) continue;
    Status saved = pair->volume->UpdateMetadata(
        [&](VolumeMetadata& metadata) { metadata.reserved_by = options_.site; });
    if (!saved.ok()) {
      *note += "; " + volume + " is still reserved by site " + options_.peer_site +
               " (writes here get EBADE): " + saved.message();
      continue;
    }
    spdlog::warn("pair {}: taken over: its reservation moves from site {} to site {}", volume,
                 options_.peer_site, options_.site);
    *note += "; " + volume + "'s reservation moved from site " + options_.peer_site + " to site " +
             options_.site;
  }
}
}  // namespace pairfs::node
