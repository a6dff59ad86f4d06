// The four-role swap of async pairs (doc/design.md "Async pairs", seed 001 claims 30, 38-41):
// takeover at the secondary site (a planned swap with the old primary answering, SSWS without
// it), resync --swap's journal side, the journal batches' generation fence and the RPO fields, and
// what a restart does with a swap a crash interrupted. The order of the steps and what a restart
// does after each is node/FORMAT.md, "The four-role swap".
//
// A group has one primary site: a takeover of one of its pairs moves all of them, and the
// journal's role (its header) changes only once no pair of the group here needs the old one:
// the old primary's journal turns into a restore journal after its pairs are demoted and its
// entries shipped (or marked dirty), the new primary's into a master journal after everything it
// received is applied and before its pairs are promoted.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "node/async_group.h"
#include "node/async_pairs.h"
#include "node/command_rules.h"
#include "node/fault_point.h"
#include "node/limits.h"
#include "node/names.h"
#include "node/replicator.h"
#include "node/replicator_internal.h"
#include "node/time_source.h"
#include "wire/journal_messages.h"

namespace pairfs::node {

using namespace replicator_internal;

namespace {

int64_t UnixNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string GroupOf(const VolumeMetadata& metadata) {
  return metadata.group.empty() ? metadata.name : metadata.group;
}

// The journal side of a swap runs one at a time (a demote asked again while the first still
// drains must not flip, free or mark through a group object the first replaced). One replicator
// per process in the daemon; tests with two share it, which only serializes them.
std::recursive_mutex& SwapMutex() {
  static std::recursive_mutex mutex;
  return mutex;
}

// A primary status in which the pair's writes go through the master journal.
bool Journals(const PairState& state) {
  return state.role == PairRole::kPrimary &&
         (state.status == PairStatus::kPAIR || state.status == PairStatus::kPFUL ||
          state.status == PairStatus::kCOPY);
}

}  // namespace

// ---- AsyncGroup: the waits and the RPO fields ----

Status AsyncGroup::WaitShipped(int timeout_ms) {
  const int64_t deadline = NowMs() + timeout_ms;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (peer_known_ && peer_durable_ >= journal_->last_sequence()) return Status::Ok();
    }
    wake_.notify_all();  // the transfer thread ships at once
    if (NowMs() >= deadline) {
      return Status::Unreachable("group " + group_ + ": the peer did not take the rest of the " +
                                 "master journal (through " +
                                 std::to_string(journal_->last_sequence()) + ") in time");
    }
    Clock().Pause(kAsyncSwapPollMs);
  }
}

Status AsyncGroup::WaitRestored(int timeout_ms) {
  const int64_t deadline = NowMs() + timeout_ms;
  for (;;) {
    if (journal_->applied_sequence() >= journal_->durable_sequence()) return Status::Ok();
    wake_.notify_all();
    if (NowMs() >= deadline) {
      return Status::Busy("group " + group_ + ": entries received through " +
                          std::to_string(journal_->durable_sequence()) + " are applied only " +
                          "through " + std::to_string(journal_->applied_sequence()));
    }
    Clock().Pause(kAsyncSwapPollMs);
  }
}

void AsyncGroup::FillRpo(uint64_t through, wire::JournalBatchMessage* batch) const {
  std::lock_guard<std::mutex> lock(mutex_);
  batch->appended_sequence = std::max(journal_->last_sequence(), through);
  if (not_applied_.empty()) return;
  const int64_t latest_ms = not_applied_.back().appended_ms;
  batch->appended_unix_ms = static_cast<uint64_t>(UnixNowMs() - (NowMs() - latest_ms));
  bool first = true;
  for (const Pending& pending : not_applied_) {
    if (pending.sequence <= through) continue;
    if (first) batch->unsent_span_ms = static_cast<uint64_t>(latest_ms - pending.appended_ms);
    first = false;
    batch->unsent_bytes += pending.bytes;
  }
}

// ---- the replicator's side ----

std::vector<std::shared_ptr<AsyncPairs::Pair>> AsyncPairs::AsyncGroupPairs(
    const std::string& group) const {
  std::vector<std::shared_ptr<Pair>> pairs;
  std::lock_guard<std::mutex> lock(replicator_.pairs_mutex_);
  for (const auto& [name, pair] : replicator_.pairs_) {
    const VolumeMetadata metadata = pair->volume->metadata();
    if (metadata.pair_mode == "async" && GroupOf(metadata) == group) pairs.push_back(pair);
  }
  return pairs;  // pairs_ is a map: name order
}

wire::Generation AsyncPairs::GroupGeneration(const std::string& group) const {
  wire::Generation newest;
  for (const std::shared_ptr<Pair>& pair : AsyncGroupPairs(group)) {
    const wire::Generation generation = pair->Snapshot().generation;
    if (generation.NewerThan(newest)) newest = generation;
  }
  return newest;
}

Result<bool> AsyncPairs::JournalIsMaster(const std::string& group) const {
  const std::string path = options_.journal_dir + "/" + group + ".journal";
  struct stat info {};
  if (options_.journal_dir.empty() || ::stat(path.c_str(), &info) != 0)
    return Status::NotFound("no journal of group " + group);
  Result<std::unique_ptr<Journal>> journal = Journal::OpenFile(path, group);
  if (!journal.ok()) return journal.status();
  return journal.value()->role() == JournalRole::kMaster;
}

Status AsyncPairs::FlipGroup(const std::string& group, bool to_master) {
  std::lock_guard<std::recursive_mutex> one_at_a_time(SwapMutex());
  std::shared_ptr<AsyncGroup> old = FindGroup(group);
  if (old && old->master() == to_master) return Status::Ok();
  const std::vector<std::shared_ptr<Pair>> pairs = AsyncGroupPairs(group);
  if (old) {
    old->Stop();
    std::lock_guard<std::mutex> lock(groups_mutex_);
    groups_.erase(group);
    for (const std::shared_ptr<Pair>& pair : pairs) {
      if (pair->async_group == old) pair->async_group = nullptr;
    }
  }
  {
    // One header write: the old role with its entries, or the new role empty (FORMAT.md).
    const std::string path = options_.journal_dir + "/" + group + ".journal";
    Result<std::unique_ptr<Journal>> journal = Journal::OpenFile(path, group);
    if (!journal.ok()) return journal.status();
    Status reset = journal.value()->ResetAs(
        kAsyncSwapFirstSequence, to_master ? JournalRole::kMaster : JournalRole::kRestore);
    if (!reset.ok()) return reset;
  }
  Result<std::shared_ptr<AsyncGroup>> opened = OpenGroup(group, to_master, false);
  if (!opened.ok()) return opened.status();
  {
    std::lock_guard<std::mutex> lock(groups_mutex_);
    for (const std::shared_ptr<Pair>& pair : pairs) {
      pair->async_group = opened.value();
      pair->group_name = group;
      pair->last_journal_sequence.store(0);
    }
    rpo_heard_.erase(group);
  }
  opened.value()->Start();
  spdlog::info("group {}: the journal here is now the {} journal", group,
               to_master ? "master" : "restore");
  return Status::Ok();
}

// ---- takeover ----

Result<AsyncPairs::AsyncTakeoverPlan> AsyncPairs::PlanAsyncTakeover(Pair& first, bool force,
                                                                    bool cluster, bool peer_lost) {
  AsyncTakeoverPlan plan;
  plan.group = GroupOf(first.volume->metadata());
  std::shared_ptr<AsyncGroup> journal = FindGroup(plan.group);
  // The pairs still to move: a pair the group's takeover moved already (`takeover --group` runs
  // this for each of its pairs) is done.
  for (const std::shared_ptr<Pair>& pair : AsyncGroupPairs(plan.group)) {
    const PairState state = pair->Snapshot().state;
    const bool moved = state.status == PairStatus::kSSWS ||
                       (state.role == PairRole::kPrimary && journal && journal->master());
    if (!moved) plan.pairs.push_back(pair);
  }
  if (plan.pairs.empty()) return plan;
  Result<wire::PeerAnswerMessage> peer =
      peer_lost ? Result<wire::PeerAnswerMessage>(
                      Status::Unreachable("site " + options_.peer_site + " is lost"))
                : ProbePeerForTakeover(*plan.pairs.front(), cluster);
  plan.planned = peer.ok();
  for (const std::shared_ptr<Pair>& pair : plan.pairs) {
    PairContext context = pair->Snapshot().context;
    context.force = force;
    context.peer_reachable = peer.ok();
    if (peer.ok()) (void)ParseStatus(peer->status, &context.peer_status);
    Result<PairTransition> transition = [&]() -> Result<PairTransition> {
      std::lock_guard<std::mutex> lock(pair->mutex);
      return Transit(pair->state, PairEvent::kTakeover, context);
    }();
    if (!transition.ok()) {
      return Status(transition.status().code(), "volume " + pair->volume->name() + " of group " +
                                                    plan.group + ": " +
                                                    transition.status().message());
    }
    plan.planned = plan.planned && transition->next.role == PairRole::kPrimary;
    plan.contexts.push_back(context);
    plan.generations.push_back(NextGeneration(
        pair->Snapshot().generation,
        std::max(pair->peer_counter_heard.load(), peer.ok() ? peer->generation.counter : 0),
        options_.site));
  }
  return plan;
}

Status AsyncPairs::DemotePeerForSwap(const AsyncTakeoverPlan& plan, AsyncGroup* journal) {
  for (size_t i = 0; i < plan.pairs.size(); ++i) {
    uint64_t received = journal ? journal->journal().durable_sequence() : 0;
    for (;;) {
      Result<wire::PeerAnswerMessage> answer = replicator_.Ask(
          wire::PeerDemoteCommand{plan.pairs[i]->Snapshot().peer_volume, plan.generations[i]},
          options_.peer_timeout_ms * kAsyncSwapAskTimeouts);
      if (answer.ok()) {
        if (answer->code != 0) return StatusFromCode(answer->code, answer->message);
        break;
      }
      const uint64_t now = journal ? journal->journal().durable_sequence() : 0;
      if (now <= received) {
        return Status::Unreachable("site " + options_.peer_site +
                                   " stopped answering during the swap of group " + plan.group +
                                   " (run takeover again: every step is idempotent)");
      }
      received = now;  // still draining: ask again
    }
  }
  return Status::Ok();
}

std::string AsyncPairs::TakeoverRpoLine(const std::string& group, AsyncGroup& journal,
                                        RpoEstimate* estimate) {
  RpoHeard heard;
  {
    std::lock_guard<std::mutex> lock(groups_mutex_);
    auto it = rpo_heard_.find(group);
    if (it != rpo_heard_.end()) heard = it->second;
  }
  *estimate = EstimateRpo(heard, journal.journal().durable_sequence(), false, UnixNowMs());
  const std::string line = DescribeRpo(group, options_.peer_site, *estimate);
  spdlog::warn("takeover without site {}: {}", options_.peer_site, line);
  return line;
}

Status AsyncPairs::TakeoverAsync(Pair& first, bool force, bool cluster, bool peer_lost,
                                 std::string* note) {
  Result<AsyncTakeoverPlan> checked = PlanAsyncTakeover(first, force, cluster, peer_lost);
  if (!checked.ok()) return checked.status();
  const AsyncTakeoverPlan& plan = checked.value();
  const std::string& group = plan.group;
  if (plan.pairs.empty()) {
    *note = "taken over with its group " + group + " (" +
            StatusName(first.Snapshot().state.status) + " here)";
    return Status::Ok();
  }
  std::shared_ptr<AsyncGroup> journal = FindGroup(group);
  const bool restore = journal && !journal->master();
  std::vector<std::unique_ptr<ClosedGate>> closed;
  for (const std::shared_ptr<Pair>& pair : plan.pairs)
    closed.push_back(std::make_unique<ClosedGate>(pair->gate));
  if (plan.planned) {  // 1. the old primary demotes, drains and turns its journal
    Status demoted = DemotePeerForSwap(plan, journal.get());
    if (!demoted.ok()) return demoted;
    FaultPoint("async-swap-after-demote");
  }
  // 2. Everything received is applied here (a planned swap: everything the old primary wrote).
  if (restore) {
    Status restored = journal->WaitRestored(kAsyncSwapRestoreMs);
    if (!restored.ok()) return restored;
  }
  RpoEstimate estimate;
  const std::string rpo =
      !plan.planned && restore ? TakeoverRpoLine(group, *journal, &estimate) : "";
  if (!rpo.empty()) RecordTakeoverRpo(plan.pairs, estimate);  // asyncrest: display's rpo_*
  if (plan.planned) {
    // 3. The restore journal becomes the master journal (empty, from the agreed sequence),
    //    4. then the pairs are promoted: the first write here is journaled.
    Status flipped = FlipGroup(group, true);
    if (!flipped.ok()) return flipped;
    FaultPoint("async-swap-after-flip");
  }
  for (size_t i = 0; i < plan.pairs.size(); ++i) {
    Status changed = replicator_.Change(*plan.pairs[i], PairEvent::kTakeover, &plan.contexts[i],
                                        &plan.generations[i]);
    if (!changed.ok()) return changed;
  }
  if (!plan.planned && restore) {
    // SSWS: nothing more is applied from the old primary (its later batches are refused by
    // generation), and what this copy writes now is tracked in the dirty bitmaps.
    Status restored = journal->WaitRestored(kAsyncSwapRestoreMs);  // a batch racing the change
    if (!restored.ok()) spdlog::warn("takeover of group {}: {}", group, restored.message());
    journal->Stop();
  }
  const std::string count = std::to_string(plan.pairs.size());
  if (plan.planned) {
    *note = "swapped group " + group + " (" + count + " pairs): site " + options_.site +
            " is the primary with the master journal, site " + options_.peer_site +
            " the secondary with the restore journal (PAIR); nothing lost";
    return Status::Ok();
  }
  *note = "took over group " + group + " (" + count + " pairs): writable here (SSWS)" +
          (rpo.empty() ? "" : "; " + rpo) + "; run resync --swap here once site " +
          options_.peer_site + " is back";
  return Status::Ok();
}

Status AsyncPairs::AfterAsyncDemote(Pair& pair) {
  std::lock_guard<std::recursive_mutex> one_at_a_time(SwapMutex());
  const std::string group = GroupOf(pair.volume->metadata());
  std::shared_ptr<AsyncGroup> journal = FindGroup(group);
  if (!journal || !journal->master()) return Status::Ok();
  for (const std::shared_ptr<Pair>& member : AsyncGroupPairs(group)) {
    if (member->Snapshot().state.role == PairRole::kPrimary) return Status::Ok();  // not the last
  }
  Status shipped = journal->WaitShipped(kAsyncSwapDrainMs);
  if (!shipped.ok()) return shipped;
  Status checkpointed = journal->CheckpointAndFree();  // the images hold every entry durably
  if (!checkpointed.ok()) return checkpointed;
  FaultPoint("async-swap-demoted-drained");
  return FlipGroup(group, false);
}

// ---- resync --swap ----

Status AsyncPairs::BeforeAsyncSwapByPeer(Pair& pair) {
  std::lock_guard<std::recursive_mutex> one_at_a_time(SwapMutex());
  const std::string group = GroupOf(pair.volume->metadata());
  std::shared_ptr<AsyncGroup> journal = FindGroup(group);
  if (!journal || !journal->master()) return Status::Ok();
  std::map<std::string, std::shared_ptr<Pair>> by_name;
  for (const std::shared_ptr<Pair>& member : AsyncGroupPairs(group))
    by_name[member->volume->name()] = member;
  // The entries the new primary may never have received (a superset: those it applied too, until
  // freed here): their regions are copied back by the resync, overwriting them.
  uint64_t marked = 0;
  for (uint64_t from = journal->journal().first_sequence();
       from <= journal->journal().last_sequence();) {
    Result<std::vector<JournalEntry>> entries =
        journal->journal().Read(from, kAsyncRestoreReadBytes);
    if (!entries.ok()) return entries.status();
    if (entries->empty()) break;
    for (const JournalEntry& entry : entries.value()) {
      auto it = by_name.find(entry.volume);
      if (it != by_name.end()) {
        Status done = it->second->regions->MarkBeforeWrite(entry.offset, entry.length);
        if (!done.ok()) return done;
        ++marked;
      }
      from = entry.sequence + 1;
    }
  }
  for (const auto& [name, member] : by_name) {
    Status flushed = member->volume->Flush();
    if (!flushed.ok()) return flushed;
  }
  if (marked > 0) {
    spdlog::warn(
        "group {}: {} writes of the master journal that site {} may lack are marked "
        "dirty: resync --swap overwrites them",
        group, marked, options_.peer_site);
  }
  return Status::Ok();
}

Status AsyncPairs::AfterAsyncSwapByPeer(Pair& pair) {
  std::lock_guard<std::recursive_mutex> one_at_a_time(SwapMutex());
  const std::string group = GroupOf(pair.volume->metadata());
  std::shared_ptr<AsyncGroup> journal = FindGroup(group);
  if (!journal || !journal->master()) return Status::Ok();
  for (const std::shared_ptr<Pair>& member : AsyncGroupPairs(group)) {
    if (Journals(member->Snapshot().state)) return Status::Ok();  // still written through it
  }
  FaultPoint("async-resync-swap-before-flip");
  return FlipGroup(group, false);
}

Status AsyncPairs::AfterAsyncSwapHere(Pair& pair) {
  return FlipGroup(GroupOf(pair.volume->metadata()), true);
}

// ---- restart ----

Status AsyncPairs::ResolveSwapsAtStart() {
  std::vector<std::string> names;
  {
    std::lock_guard<std::mutex> lock(groups_mutex_);
    for (const auto& [name, group] : groups_) names.push_back(name);
  }
  for (const std::string& group : names) {
    std::shared_ptr<AsyncGroup> journal = FindGroup(group);
    const std::vector<std::shared_ptr<Pair>> pairs = AsyncGroupPairs(group);
    bool any_primary = false, all_secondary_copy = !pairs.empty(), any_ssws = false;
    for (const std::shared_ptr<Pair>& pair : pairs) {
      const PairState state = pair->Snapshot().state;
      any_primary = any_primary || state.role == PairRole::kPrimary;
      all_secondary_copy = all_secondary_copy && state.role == PairRole::kSecondary &&
                           state.status == PairStatus::kCOPY;
      any_ssws = any_ssws || state.status == PairStatus::kSSWS;
    }
    if (!journal->master() && any_primary) {
      // resync --swap here promoted a pair and the crash came before the flip: the old primary
      // marked its journal's regions before it answered, so this journal's entries are applied
      // or copied back.
      spdlog::warn("group {}: finishing a swap a restart interrupted: restore -> master journal",
                   group);
      Status flipped = FlipGroup(group, true);
      if (!flipped.ok()) return flipped;
    } else if (journal->master() && !any_primary && all_secondary_copy) {
      // resync --swap at the peer demoted this side after its entries were marked dirty.
      Status marked = BeforeAsyncSwapByPeer(*pairs.front());
      if (!marked.ok()) return marked;
      spdlog::warn("group {}: finishing a swap a restart interrupted: master -> restore journal",
                   group);
      Status flipped = FlipGroup(group, false);
      if (!flipped.ok()) return flipped;
    }
    (void)any_ssws;  // a group taken over is left stopped by StartGroups (GroupTakenOver)
  }
  return Status::Ok();
}

bool AsyncPairs::GroupTakenOver(const std::string& group) const {
  std::shared_ptr<AsyncGroup> journal = FindGroup(group);
  if (!journal || journal->master()) return false;
  for (const std::shared_ptr<Pair>& pair : AsyncGroupPairs(group)) {
    if (pair->Snapshot().state.status == PairStatus::kSSWS) return true;
  }
  return false;
}

// ---- the journal batches: generation fence and RPO ----

void AsyncPairs::StampBatch(AsyncGroup& group, wire::JournalBatchMessage* batch) const {
  batch->generation = GroupGeneration(group.name());
  group.FillRpo(batch->first_sequence - 1 + batch->entries.size(), batch);
}

Status AsyncPairs::CheckAndNoteBatch(const wire::JournalBatchMessage& batch) {
  const wire::Generation here = GroupGeneration(batch.group);
  if (!batch.generation.site.empty() || batch.generation.counter != 0) {
    if (here.NewerThan(batch.generation)) {
      return Status::InvalidArgument(
          "journal batch of generation " + std::to_string(batch.generation.counter) + "/" +
          batch.generation.site + ", older than this copy's " + std::to_string(here.counter) + "/" +
          here.site + " (taken over or swapped): refused");
    }
  }
  RpoHeard heard;
  heard.heard = true;
  heard.through = batch.first_sequence - 1 + batch.entries.size();
  heard.appended_sequence = std::max(batch.appended_sequence, heard.through);
  heard.unsent_bytes = batch.unsent_bytes;
  heard.unsent_span_ms = batch.unsent_span_ms;
  heard.heard_unix_ms = UnixNowMs();
  heard.first_sequence = batch.first_sequence;
  heard.entry_bytes.reserve(batch.entries.size());
  for (const wire::JournalEntryMessage& entry : batch.entries)
    heard.entry_bytes.push_back(entry.data.size());
  std::lock_guard<std::mutex> lock(groups_mutex_);
  // Several batches of a window are served by several workers at once: an older one served last
  // must not replace what a newer one said (its unsent bytes would count entries received since).
  RpoHeard& kept = rpo_heard_[batch.group];
  if (!RpoHeardIsNewer(heard, kept)) return Status::Ok();
  kept = std::move(heard);
  return Status::Ok();
}

}  // namespace pairfs::node
