// The resync of async pairs (doc/design.md "Async pairs": "Resync of an async pair keeps the
// secondary consistent when it can"; issue 13 part 4), at the primary.
//
// The order, for the pairs of one consistency group at once:
//  1. each pair checked (kResync allowed, the peer answers) and the peer's dirty bitmap merged
//     into this side's (the union of both is what is copied);
//  2. the journal drained: the secondary applies every entry the journal already holds, so the
//     regions copied next land after them, never under an older entry applied later;
//  3. the pairs' gates closed in name order (no write of theirs in flight, none starts: one point
//     of the group's write order), the plan decided: the regions go through the journal when they
//     fit (AsyncResyncFits), else through the copy engine;
//  4. each peer told (PeerResyncCommand.journaled) and each pair saved in COPY;
//  5. journaled: the regions' current contents read and appended as ONE batch, which the restore
//     side applies only whole (node/journal.h batches), so the secondaries stay a crash-consistent
//     prefix throughout; then both sides saved PAIR (FinishCopy) before the gates open, and
//     writes go on into the journal after the batch. Copy engine: the gates open and the copy
//     runs as a sync resync's does, the secondaries inconsistent until it is done;
//  6. a suspended group (PFUS) is resumed once none of its pairs here is PFUS any more: from
//     then on its writes are journaled again, after the batch (or, COPY, replicated as a copy's).
// The master journal's sequence never restarts: the batch takes the next sequences.
#include <algorithm>
#include <cstring>
#include <deque>
#include <set>

#include <spdlog/spdlog.h>

#include "node/activity_log.h"
#include "node/async_group.h"
#include "node/async_pairs.h"
#include "node/async_resync_internal.h"
#include "node/copy_engine.h"
#include "node/fault_point.h"
#include "node/limits.h"
#include "node/names.h"
#include "node/peer_status_rules.h"
#include "node/replicator.h"
#include "node/replicator_internal.h"

namespace pairfs::node {

using namespace replicator_internal;
using namespace async_resync_internal;

namespace {

bool AllZero(const std::string& data) {
  return std::all_of(data.begin(), data.end(), [](char c) { return c == 0; });
}

}  // namespace

bool AsyncResyncFits(uint64_t batch_bytes, uint64_t capacity_bytes, uint64_t free_bytes,
                     uint64_t slack_bytes) {
  return batch_bytes <= async_resync_internal::ResyncBatchLimitBytes(capacity_bytes) &&
         batch_bytes + slack_bytes <= free_bytes;
}

namespace async_resync_internal {

uint64_t ResyncBatchLimitBytes(uint64_t capacity_bytes) {
  return std::min<uint64_t>(capacity_bytes / kAsyncResyncJournalShare, kMaxAsyncResyncBatchBytes);
}

wire::PairOutcome OutcomeOf(const std::string& name, const Status& status,
                            const std::string& done) {
  std::string message = status.ok() ? done : status.message();
  if (message.size() > wire::kMaxOutcomeMessageBytes) message.resize(wire::kMaxOutcomeMessageBytes);
  return {name, static_cast<uint8_t>(status.code()), message};
}

}  // namespace async_resync_internal

Status AsyncPairs::PrepareAsyncResync(AsyncResyncMember& member) {
  Pair& pair = *member.pair;
  const PairView view = pair.Snapshot();
  if (view.state.role != PairRole::kPrimary)
    return Status::InvalidArgument("pair " + member.name + ": an async resync runs at the primary");
  Result<wire::PeerAnswerMessage> peer = replicator_.AskStatus(pair);
  if (!peer.ok())
    return Status::Unreachable("site " + options_.peer_site +
                               " is unreachable: " + peer.status().message());
  member.context = view.context;
  (void)ParseStatus(peer->status, &member.context.peer_status);
  {
    std::lock_guard<std::mutex> lock(pair.mutex);
    Result<PairTransition> check = Transit(pair.state, PairEvent::kResync, member.context);
    if (!check.ok()) return check.status();
  }
  member.peer_writable = member.context.peer_status == PairStatus::kSSUS;
  // The peer's marks now (at its own generation), so that the plan counts them: a secondary
  // that is not writable marks nothing more until it is told.
  return replicator_.MergePeerBitmap(pair, view.peer_volume, peer->generation);
}

Status AsyncPairs::StartAsyncResync(AsyncResyncMember& member, bool journaled) {
  Pair& pair = *member.pair;
  Status stopped = StopCopyFor(pair, *replicator_.calls_, PairEvent::kResync, member.context);
  if (!stopped.ok()) return stopped;  // node/copy_engine.h
  member.generation = pair.Snapshot().generation;
  const std::string peer_volume = pair.Snapshot().peer_volume;
  wire::PeerResyncCommand command{peer_volume, member.generation, false};
  command.journaled = journaled;
  Result<wire::PeerAnswerMessage> answer = replicator_.Ask(command);
  if (!answer.ok())
    return Status::Unreachable("site " + options_.peer_site +
                               " is unreachable: " + answer.status().message());
  if (answer->code != 0) return StatusFromCode(answer->code, answer->message);
  FaultPoint("resync-after-peer");
  Status merged = replicator_.MergePeerBitmap(pair, peer_volume, member.generation);
  if (!merged.ok()) return merged;
  Status changed = replicator_.Change(pair, PairEvent::kResync, &member.context, &member.generation,
                                      &member.after);
  if (!changed.ok()) return changed;
  member.regions = pair.regions->MarkedRegions();
  return Status::Ok();
}

Status AsyncPairs::AppendResyncBatch(AsyncGroup& group, std::vector<AsyncResyncMember>& members) {
  std::deque<std::string> buffers;  // owns the data the writes view (a deque never moves them)
  std::vector<JournalWrite> writes;
  for (AsyncResyncMember& member : members) {
    if (!member.status.ok()) continue;
    Volume& volume = *member.pair->volume;
    const uint64_t region_bytes = member.pair->regions->region_bytes();
    const uint64_t size = volume.size_bytes();
    const std::vector<uint64_t>& regions = member.regions;
    for (size_t i = 0; i < regions.size();) {
      size_t j = i + 1;  // consecutive regions, one entry of at most kMaxJournalEntryDataBytes
      while (j < regions.size() && regions[j] == regions[j - 1] + 1 &&
             (j + 1 - i) * region_bytes <= kMaxJournalEntryDataBytes)
        ++j;
      const uint64_t offset = regions[i] * region_bytes;
      const uint64_t length =
          offset < size ? std::min<uint64_t>((j - i) * region_bytes, size - offset) : 0;
      i = j;
      if (length == 0) continue;
      std::string& data = buffers.emplace_back(length, '\0');
      Result<size_t> read = volume.Read(offset, length, data.data(), false);
      if (!read.ok() || read.value() != length) {
        return Status::IoError(
            "the resync cannot read volume " + volume.name() + " at " + std::to_string(offset) +
                ": " + (read.ok() ? std::string("short read") : read.status().message()),
            EIO);
      }
      JournalWrite write;
      write.volume = volume.name();
      write.offset = offset;
      write.length = length;
      // A region of zeros goes as a hole: no journal space, and it stays a hole there.
      if (AllZero(data)) {
        write.kind = wire::WriteKind::kPunchHole;
        data.clear();
      } else {
        write.kind = wire::WriteKind::kData;
        write.data = data;
      }
      writes.push_back(write);
    }
  }
  if (writes.empty()) return Status::Ok();
  Result<uint64_t> last = group.AppendBatch(writes);
  if (!last.ok()) return last.status();
  spdlog::info("group {}: resync batch of {} entries appended through entry {}", group.name(),
               writes.size(), last.value());
  return Status::Ok();
}

void AsyncPairs::ResumeGroupIfResynced(const std::shared_ptr<AsyncGroup>& group) {
  if (!group->suspended()) return;
  for (const GroupMember& member : replicator_.GroupMembers(group->name())) {
    if (member.status == PairStatus::kPFUS) return;
  }
  group->Resume();
}

void AsyncPairs::SuspendGroupsOfSuspendedPairs() {
  std::vector<std::shared_ptr<Pair>> pairs;
  {
    std::lock_guard<std::mutex> lock(replicator_.pairs_mutex_);
    for (const auto& [name, pair] : replicator_.pairs_) pairs.push_back(pair);
  }
  for (const std::shared_ptr<Pair>& pair : pairs) {
    if (pair->Snapshot().state.status != PairStatus::kPFUS) continue;
    std::shared_ptr<AsyncGroup> group;
    {
      std::lock_guard<std::mutex> lock(groups_mutex_);
      group = pair->async_group;
    }
    // Its writes since the suspension are in its dirty bitmap only: journaling the group's new
    // writes would put them in the journal after ones it never got (no prefix any more).
    if (group && group->master() && group->Suspend()) {
      spdlog::warn("group {}: pair {} is PFUS: the group stays suspended until resync --group {}",
                   group->name(), pair->volume->name(), group->name());
    }
  }
}

Status AsyncPairs::SyncJournalOf(Pair& pair) {
  std::shared_ptr<AsyncGroup> group;
  {
    std::lock_guard<std::mutex> lock(groups_mutex_);
    group = pair.async_group;
  }
  if (!group) return Status::NotFound("pair " + pair.volume->name() + " has no journal here");
  return group->journal().Sync();
}

void AsyncPairs::ReappendMarkedRegions(const std::shared_ptr<AsyncGroup>& group) {
  if (group->suspended()) return;  // PFUS: the marks are the dirty regions a resync copies
  std::vector<AsyncResyncMember> members;
  {
    std::lock_guard<std::mutex> lock(replicator_.pairs_mutex_);
    for (const auto& [name, pair] : replicator_.pairs_) {
      const PairView view = pair->Snapshot();
      if (pair->async_group != group || view.state.role != PairRole::kPrimary ||
          (view.state.status != PairStatus::kPAIR && view.state.status != PairStatus::kPFUL))
        continue;
      AsyncResyncMember member;
      member.name = name;
      member.pair = pair;
      // A region the replay wrote whole is what the journal holds already: a lost entry's write
      // there was overwritten by the older entries replayed (nothing to re-journal).
      const uint64_t region_bytes = pair->regions->region_bytes();
      const uint64_t size = pair->volume->size_bytes();
      for (uint64_t region : pair->regions->MarkedRegions()) {
        const uint64_t offset = region * region_bytes;
        if (offset >= size) continue;
        if (!group->ReplayCovered(name, offset, std::min(region_bytes, size - offset)))
          member.regions.push_back(region);
        else
          member.covered.push_back(region);
      }
      if (!member.regions.empty() || !member.covered.empty()) members.push_back(std::move(member));
    }
  }
  group->ForgetReplayed();
  if (members.empty()) return;
  uint64_t batch_bytes = 0;
  for (AsyncResyncMember& member : members)
    batch_bytes += BatchBytesOf(*member.pair, member.regions);
  // Applied only whole: the batch must fit the restore journal too.
  Status appended =
      batch_bytes == 0 || AsyncResyncFits(batch_bytes, group->resync_capacity_bytes(),
                                          group->free_bytes(), ResyncSlackBytes())
          ? AppendResyncBatch(*group, members)
          : Status::NoSpace(std::to_string(batch_bytes) + " bytes are more than half the journal");
  if (!appended.ok()) {
    // What an operator expects of a restart: the pair catches up by itself. The marks become
    // the dirty regions (PFUS: no write of the group is journaled after the ones lost), and
    // the group is resynced as soon as the peer answers and the journal drained.
    spdlog::warn(
        "group {}: the regions marked at the restart cannot be re-journaled ({}): "
        "suspended; resynced automatically once site {} answers",
        group->name(), appended.message(), options_.peer_site);
    (void)group->Suspend();
    SuspendGroup(group);
    std::lock_guard<std::mutex> lock(groups_mutex_);
    restart_resync_groups_[group->name()];
    return;
  }
  for (AsyncResyncMember& member : members) {
    // Journaled durably (or replayed whole): the trim may clear them (pinned at the load).
    std::lock_guard<std::mutex> lock(member.pair->epoch_mutex);
    for (const std::vector<uint64_t>* regions : {&member.regions, &member.covered}) {
      for (uint64_t region : *regions) {
        if (member.pair->last_epoch[region] == kPinnedEpoch) member.pair->last_epoch[region] = 0;
      }
    }
  }
  spdlog::info("group {}: the regions its activity log marked are journaled again", group->name());
}

void AsyncPairs::RunRestartResyncs() {
  std::vector<std::shared_ptr<AsyncGroup>> due;
  {
    std::lock_guard<std::mutex> lock(groups_mutex_);
    for (auto entry = restart_resync_groups_.begin(); entry != restart_resync_groups_.end();) {
      auto found = groups_.find(entry->first);
      if (found == groups_.end() || !found->second->master() || !found->second->suspended()) {
        entry = restart_resync_groups_.erase(entry);  // gone, swapped, or resumed by an operator
        continue;
      }
      due.push_back(found->second);
      ++entry;
    }
  }
  if (due.empty() || replicator_.transport_ == nullptr ||
      LinkIsSilent(replicator_.heard_since_start_.load(), replicator_.last_heard_ms_.load(),
                   replicator_.NowMs(), options_.peer_timeout_ms) ||
      !replicator_.heard_since_start_.load())
    return;
  for (const std::shared_ptr<AsyncGroup>& group : due) {
    // The resync waits for the drain itself; the status thread does not: next interval.
    if (!group->WaitPeerApplied(group->journal().last_sequence(), 0).ok()) continue;
    std::vector<std::string> names;
    for (const GroupMember& member : replicator_.GroupMembers(group->name()))
      names.push_back(member.name);
    std::vector<wire::PairOutcome> outcomes;
    std::string note;
    Status resynced = ResyncAsync(names, &outcomes, &note);
    std::string failed;
    for (const wire::PairOutcome& outcome : outcomes)
      if (outcome.code != 0) failed += (failed.empty() ? "" : "; ") + outcome.message;
    if (!resynced.ok() && failed.empty()) failed = resynced.message();
    if (!failed.empty()) {
      std::lock_guard<std::mutex> lock(groups_mutex_);
      auto entry = restart_resync_groups_.find(group->name());
      if (entry != restart_resync_groups_.end() && entry->second != failed) {
        spdlog::warn("group {}: the automatic resync after the restart failed ({}): retried",
                     group->name(), failed);
        entry->second = failed;
      }
      continue;
    }
    spdlog::warn("group {}: resynced after the restart without an operator: {}", group->name(),
                 note);
    std::lock_guard<std::mutex> lock(groups_mutex_);
    restart_resync_groups_.erase(group->name());
  }
}

std::vector<AsyncPairs::AsyncResyncMember> AsyncPairs::AsyncResyncMembersOf(
    const std::vector<std::string>& names, std::shared_ptr<AsyncGroup>* group) {
  std::vector<AsyncResyncMember> members;
  const std::set<std::string> sorted(names.begin(), names.end());
  for (const std::string& name : sorted) {
    AsyncResyncMember member;
    member.name = name;
    Result<std::shared_ptr<Pair>> found = replicator_.PairFor(name);
    member.status = found.status();
    if (found.ok()) {
      member.pair = found.value();
      std::lock_guard<std::mutex> lock(groups_mutex_);
      if (!member.pair->async_group) {
        member.status = Status::InvalidArgument("pair " + name + " is not an async pair");
      } else if (*group && member.pair->async_group != *group) {
        member.status = Status::InvalidArgument("pair " + name + " is in another group");
      } else {
        *group = member.pair->async_group;
      }
    }
    members.push_back(std::move(member));
  }
  return members;
}

Status AsyncPairs::CheckSuspendedGroupWhole(const AsyncGroup& group,
                                            const std::set<std::string>& names) {
  if (!group.suspended()) return Status::Ok();
  std::string missing;
  for (const GroupMember& other : replicator_.GroupMembers(group.name())) {
    if (other.status == PairStatus::kPFUS && !names.count(other.name))
      missing += (missing.empty() ? "" : ", ") + other.name;
  }
  if (missing.empty()) return Status::Ok();
  return Status::InvalidArgument("group " + group.name() +
                                 " is suspended (PFUS): its pairs resync together "
                                 "(resync --group " +
                                 group.name() + "); also PFUS: " + missing);
}

bool AsyncPairs::RunAsyncResyncClosed(const std::shared_ptr<AsyncGroup>& group,
                                      std::vector<AsyncResyncMember>& members,
                                      uint64_t* copy_bytes) {
  uint64_t batch_bytes = 0;
  bool writable_peer = false;
  for (AsyncResyncMember& member : members) {
    if (!member.status.ok()) continue;
    const std::vector<uint64_t> marked = member.pair->regions->MarkedRegions();
    *copy_bytes += RegionBytes(marked, member.pair->regions->region_bytes(),
                               member.pair->volume->size_bytes());
    batch_bytes += BatchBytesOf(*member.pair, marked);
    writable_peer = writable_peer || member.peer_writable;
  }
  bool journaled = !writable_peer && AsyncResyncFits(batch_bytes, group->resync_capacity_bytes(),
                                                     group->free_bytes(), ResyncSlackBytes());
  for (AsyncResyncMember& member : members)
    if (member.status.ok()) member.status = StartAsyncResync(member, journaled);
  Status batch;
  if (journaled) batch = AppendResyncBatch(*group, members);
  if (!batch.ok()) {
    // Nothing of the batch is applicable (no end durable): the copy engine copies instead.
    spdlog::error("group {}: the resync batch failed ({}): copying instead", group->name(),
                  batch.message());
    journaled = false;
  }
  ResumeGroupIfResynced(group);  // every pair is COPY now: none PFUS
  if (!journaled) return false;
  for (AsyncResyncMember& member : members) member.journaled = member.status.ok();
  FinishJournaledResync(members);
  return true;
}

void AsyncPairs::FinishJournaledResync(std::vector<AsyncResyncMember>& members) {
  for (AsyncResyncMember& member : members) {
    if (!member.status.ok() || !member.journaled) continue;
    {
      std::lock_guard<std::mutex> lock(member.pair->epoch_mutex);  // in the journal now
      for (uint64_t region : member.regions) {
        if (member.pair->last_epoch[region] == kPinnedEpoch) member.pair->last_epoch[region] = 0;
      }
    }
    member.status = replicator_.FinishCopy(*member.pair, member.after.generation);
  }
}

Status AsyncPairs::ResyncAsync(const std::vector<std::string>& names,
                               std::vector<wire::PairOutcome>* outcomes, std::string* note) {
  std::shared_ptr<AsyncGroup> group;
  std::vector<AsyncResyncMember> members = AsyncResyncMembersOf(names, &group);
  if (!group) return OutcomesOf(members, outcomes);
  Status whole =
      CheckSuspendedGroupWhole(*group, std::set<std::string>(names.begin(), names.end()));
  if (!whole.ok()) {
    FailEach(members, whole);
    return OutcomesOf(members, outcomes);
  }
  for (AsyncResyncMember& member : members)
    if (member.status.ok()) member.status = PrepareAsyncResync(member);
  if (!AnyGoing(members)) return OutcomesOf(members, outcomes);
  // The journal drained: the copied regions must land after every entry it holds.
  const uint64_t held = group->journal().last_sequence();
  Status drained = group->WaitPeerApplied(held, kAsyncResyncDrainMs);
  if (!drained.ok()) {
    FailEach(members, Status::Unreachable("the resync waits for the secondary to apply the "
                                          "journal: " +
                                          drained.message()));
    return OutcomesOf(members, outcomes);
  }
  (void)group->CheckpointAndFree();
  bool journaled = false;
  uint64_t copy_bytes = 0;
  {
    std::vector<std::unique_ptr<ClosedGate>> closed;
    for (AsyncResyncMember& member : members)
      if (member.status.ok()) closed.push_back(std::make_unique<ClosedGate>(member.pair->gate));
    journaled = RunAsyncResyncClosed(group, members, &copy_bytes);
  }
  if (!journaled) {
    for (AsyncResyncMember& member : members)
      if (member.status.ok())
        replicator_.RunAfterSave(*member.pair, member.after);  // the copy engine
  }
  *note = (journaled ? "resynced through the journal: "
                     : "copying (the secondary is inconsistent until it is done): ") +
          FormatSize(copy_bytes) + " of changed regions to site " + options_.peer_site;
  return OutcomesOf(members, outcomes);
}

}  // namespace pairfs::node
