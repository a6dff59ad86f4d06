// resync --swap of async pairs at the site that took over (SSWS; doc/design.md "Async pairs":
// "Regions the old primary wrote but never shipped are copied back from the new primary on
// resync", and "Resync of an async pair keeps the secondary consistent when it can").
//
// The order, for the named pairs of one consistency group at once, under their closed gates
// (name order):
//  1. each pair checked (kResyncSwapHere allowed, the peer answers) and its new generation made;
//  2. each peer told in turn (PeerResyncCommand swap, journaled, with a budget): the old primary
//     marks the regions of every entry its master journal still holds (a superset of what it
//     never shipped), demotes the pair to secondary COPY and, once none of the group's pairs
//     there journals, turns its journal into the restore journal. It stays consistent only when
//     its own marks fit the budget (the batch must fit the journal), and says so in its answer;
//  3. its bitmap merged here (the union is what is copied), the pair saved primary COPY;
//  4. this side's journal turned into the master journal (empty, from sequence 1), the rpo_*
//     fields cleared (the lost writes are overwritten now: the operator's choice of --swap);
//  5. the regions of the pairs whose targets stayed consistent read and appended as ONE batch,
//     which the restore side applies only whole: the new secondaries stay a crash-consistent
//     image throughout (the old primary's own, then the new primary's); both sides saved PAIR;
//  6. the gates open; the other pairs are copied by the copy engine (inconsistent until done).
// The budgets: B is the batch limit of the journal (ResyncBatchLimitBytes). Pair i's target may
// hold B - (the batches of the pairs before it) - (this side's marks of it and the pairs after
// it) bytes of its own marks; then the union of every journaled pair fits B (each union is at
// most this side's marks plus the target's).
#include <spdlog/spdlog.h>

#include "node/async_group.h"
#include "node/async_pairs.h"
#include "node/async_resync_internal.h"
#include "node/command_rules.h"
#include "node/copy_engine.h"
#include "node/fault_point.h"
#include "node/limits.h"
#include "node/names.h"
#include "node/replicator.h"
#include "node/replicator_internal.h"

namespace pairfs::node {

using namespace replicator_internal;
using namespace async_resync_internal;

namespace {

// Ok, or why: the member's pair checked for kResyncSwapHere against the peer's status, and its
// context and new generation filled.
Status Checked(const Status& asked, const std::string& peer_site) {
  if (asked.ok()) return asked;
  return Status::Unreachable("site " + peer_site + " is unreachable: " + asked.message());
}

uint64_t Remaining(uint64_t limit, uint64_t taken) { return taken >= limit ? 0 : limit - taken; }

}  // namespace

bool AsyncPairs::AsyncSwapTargetFits(Pair& pair, uint64_t budget_bytes) const {
  return budget_bytes > 0 && BatchBytesOf(pair, pair.regions->MarkedRegions()) <= budget_bytes;
}

Status AsyncPairs::StartAsyncSwap(AsyncResyncMember& member, uint64_t budget_bytes,
                                  bool* journaled) {
  Pair& pair = *member.pair;
  Status stopped =
      StopCopyFor(pair, *replicator_.calls_, PairEvent::kResyncSwapHere, member.context);
  if (!stopped.ok()) return stopped;  // node/copy_engine.h
  const std::string peer_volume = pair.Snapshot().peer_volume;
  wire::PeerResyncCommand command{peer_volume, member.generation, true};
  command.journaled = budget_bytes > 0;
  command.swap_budget_bytes = budget_bytes;
  Result<wire::PeerAnswerMessage> answer = replicator_.Ask(command);
  if (!answer.ok()) return Checked(answer.status(), options_.peer_site);
  if (answer->code != 0) return StatusFromCode(answer->code, answer->message);
  FaultPoint("swap-after-peer");
  // An older peer ignores `journaled` for a swap and answers inconsistent: the copy engine.
  *journaled = command.journaled && answer->consistent;
  Status merged = replicator_.MergePeerBitmap(pair, peer_volume, member.generation);
  if (!merged.ok()) return merged;
  Status changed = replicator_.Change(pair, PairEvent::kResyncSwapHere, &member.context,
                                      &member.generation, &member.after);
  if (!changed.ok()) return changed;
  member.regions = pair.regions->MarkedRegions();
  return Status::Ok();
}

Status AsyncPairs::PrepareAsyncSwap(AsyncResyncMember& member, uint64_t* own_bytes) {
  Pair& pair = *member.pair;
  Result<wire::PeerAnswerMessage> peer = replicator_.AskStatus(pair);
  if (!peer.ok()) return Checked(peer.status(), options_.peer_site);
  member.context = pair.Snapshot().context;
  (void)ParseStatus(peer->status, &member.context.peer_status);
  {
    std::lock_guard<std::mutex> lock(pair.mutex);
    Status allowed = Transit(pair.state, PairEvent::kResyncSwapHere, member.context).status();
    if (!allowed.ok()) return allowed;
  }
  member.generation =
      NextGeneration(pair.Snapshot().generation, peer->generation.counter, options_.site);
  *own_bytes = BatchBytesOf(pair, pair.regions->MarkedRegions());
  return Status::Ok();
}

void AsyncPairs::TellAsyncSwapPeers(std::vector<AsyncResyncMember>& members,
                                    const std::vector<uint64_t>& own_bytes, uint64_t limit,
                                    uint64_t* copy_bytes, uint64_t* batch_bytes) {
  uint64_t later_own = 0;  // this side's marks of the pairs not told yet
  for (size_t i = 0; i < members.size(); ++i) later_own += own_bytes[i];
  for (size_t i = 0; i < members.size(); ++i) {
    AsyncResyncMember& member = members[i];
    later_own -= own_bytes[i];
    if (!member.status.ok()) continue;
    const uint64_t budget = Remaining(limit, *batch_bytes + later_own + own_bytes[i]);
    member.status = StartAsyncSwap(member, budget, &member.journaled);
    if (!member.status.ok()) continue;
    Pair& pair = *member.pair;
    *copy_bytes +=
        RegionBytes(member.regions, pair.regions->region_bytes(), pair.volume->size_bytes());
    if (member.journaled) *batch_bytes += BatchBytesOf(pair, member.regions);
  }
}

bool AsyncPairs::FinishAsyncSwapHere(const std::string& group,
                                     std::vector<AsyncResyncMember>& members,
                                     uint64_t batch_bytes) {
  for (AsyncResyncMember& member : members) {  // the master journal is here now
    if (!member.status.ok()) continue;
    Status flipped = AfterAsyncSwapHere(*member.pair);
    if (!flipped.ok()) FailEach(members, flipped);
    break;
  }
  std::vector<AsyncResyncMember> in_batch;
  for (AsyncResyncMember& member : members) {
    if (!member.status.ok()) continue;
    // The writes the takeover lost are overwritten now (the operator's choice of --swap).
    Status cleared = member.pair->volume->UpdateMetadata([](VolumeMetadata& metadata) {
      metadata.rpo_takeover_unix_ms = 0;
      metadata.rpo_lost_writes = -1;
      metadata.rpo_lost_bytes = 0;
    });
    if (!cleared.ok())
      spdlog::warn("pair {}: the RPO record stays: {}", member.name, cleared.message());
    if (member.journaled) in_batch.push_back(member);
  }
  if (in_batch.empty()) return false;
  std::shared_ptr<AsyncGroup> master = FindGroup(group);
  Status batch =
      !master ? Status::NotFound("group " + group + " has no master journal here")
      : !AsyncResyncFits(batch_bytes, master->resync_capacity_bytes(), master->free_bytes(),
                         ResyncSlackBytes())
          ? Status::NoSpace(std::to_string(batch_bytes) + " bytes do not fit the journal")
          : AppendResyncBatch(*master, in_batch);
  if (!batch.ok()) {
    // Nothing of the batch is applicable (no end durable): the copy engine copies instead.
    spdlog::error("group {}: the resync --swap batch failed ({}): copying instead", group,
                  batch.message());
    for (AsyncResyncMember& member : members) member.journaled = false;
    return false;
  }
  FinishJournaledResync(members);  // both sides PAIR before the gates open
  return true;
}

Status AsyncPairs::ResyncSwapAsync(const std::vector<std::string>& names,
                                   std::vector<wire::PairOutcome>* outcomes, std::string* note) {
  std::shared_ptr<AsyncGroup> group;
  std::vector<AsyncResyncMember> members = AsyncResyncMembersOf(names, &group);
  if (!group) return OutcomesOf(members, outcomes);
  const std::string group_name = group->name();
  std::vector<uint64_t> own_bytes(members.size(), 0);
  for (size_t i = 0; i < members.size(); ++i)
    if (members[i].status.ok()) members[i].status = PrepareAsyncSwap(members[i], &own_bytes[i]);
  if (!AnyGoing(members)) return OutcomesOf(members, outcomes);
  const uint64_t limit = ResyncBatchLimitBytes(group->resync_capacity_bytes());
  uint64_t copy_bytes = 0, batch_bytes = 0;
  bool journaled = false;
  {
    std::vector<std::unique_ptr<ClosedGate>> closed;  // one point of the group's writes
    for (AsyncResyncMember& member : members)
      if (member.status.ok()) closed.push_back(std::make_unique<ClosedGate>(member.pair->gate));
    TellAsyncSwapPeers(members, own_bytes, limit, &copy_bytes, &batch_bytes);
    if (AnyGoing(members)) journaled = FinishAsyncSwapHere(group_name, members, batch_bytes);
  }
  for (AsyncResyncMember& member : members)  // the copy engine for the others
    if (member.status.ok() && !member.journaled)
      replicator_.RunAfterSave(*member.pair, member.after);
  *note = std::string(journaled ? "resynced through the journal" : "copying") +
          " (--swap): " + FormatSize(copy_bytes) + " of changed regions to site " +
          options_.peer_site;
  for (const AsyncResyncMember& member : members) {
    if (member.status.ok() && !member.journaled) {
      *note += "; the copy engine copies " + member.name + " (inconsistent there until done)";
    }
  }
  return OutcomesOf(members, outcomes);
}

}  // namespace pairfs::node
