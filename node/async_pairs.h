// The replicator's side of async pairs (issue 13; doc/design.md "Async pairs"): the pairs joined
// to their consistency group's journal (node/async_group.h), the primary's journaled writes and
// fsyncs, the journal batches served at the secondary, the async resync, the takeover of a group
// and the four-role swap, resync --swap through the journal, and the async columns of display.
// One per Replicator (Replicator::async_), made with it and destroyed after its Stop(). Defined
// in node/async_replicator.cc, async_resync.cc, async_resync_swap.cc, async_swap.cc and
// async_takeover.cc (node/README.md says which does what). Internal to the replicator's files;
// not part of the node's interface.
//
// How it reaches the replicator: a reference to it, and Replicator names AsyncPairs a friend.
// The async code runs the same pairs as the sync code, through the same machinery: the pair
// table (pairs_, PairFor), the state machine's executor (Change, Commit, RunAfterSave), the calls
// to the peer (Ask, AskStatus, Exchange, Answer, CountRefusal), the copy engine (StartCopy,
// FinishCopy, MergePeerBitmap) and the sync write path a suspended group falls back to
// (WriteTracked). An interface of all that would be about as wide as the class and one more
// thing to keep in step, so the friend is the simple choice (issue 12); what AsyncPairs owns is
// below, and the replicator reaches it only through the public members.
//
// LOCKS (the replicator's order is node/pair_runtime.h's; these fit into it):
//   - groups_mutex_ is a leaf: nothing is taken while it is held. It guards groups_,
//     restart_resync_groups_, rpo_heard_, and every Pair's async_group and group_name (the
//     replicator's files read those under it too: JoinedGroup).
//   - The journal side of a swap (FlipGroup, AfterAsyncDemote, Before/AfterAsyncSwapByPeer,
//     AfterAsyncSwapHere) runs one at a time under a process-wide recursive mutex (SwapMutex in
//     async_swap.cc): its callers hold the pair's gate (1) closed (or run at Start), no pair
//     mutex; it is taken before groups_mutex_ and the AsyncGroup's own locks, and held while the
//     old primary waits for the peer to take the rest of its journal.
//   - WriteJournaled runs in the mount's write with the pair's gate (1) shared: it counts itself
//     in flight (an Activity, when it marks) and holds the written range (2) from the journal
//     append to the image write; Change (5), or the sync path's WriteTracked when the journal is
//     full, runs after both are released. FlushJournaled waits for the journal, no pair lock held.
//   - ResyncAsync, ResyncSwapAsync and TakeoverAsync close the gates (1) of their group's pairs
//     themselves, in name order (one point of the group's write order), and talk to the peer
//     with only the gates held; Pair::mutex (5) and epoch_mutex (6) are taken briefly inside.
//   - ServeJournalBatch runs on a worker thread, with no pair lock held.
//   - The AsyncGroup's hooks (its transfer and restore threads) call FindGroup, StampBatch,
//     SendJournalBatch, VolumeOfEntry and GroupVolumes: they take groups_mutex_, pairs_mutex_
//     (each volume's metadata is read under it), a pair's Snapshot (5) and the group's own
//     mutex (FillRpo), never a gate or a range; SendJournalBatch waits for the peer's answer.
// Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "node/async_rpo.h"
#include "node/replicator.h"
#include "wire/journal_messages.h"

namespace pairfs::node {

class AsyncGroup;  // node/async_group.h

class AsyncPairs {
 public:
  using Pair = Replicator::Pair;
  using PairView = Replicator::PairView;

  explicit AsyncPairs(Replicator& replicator);
  AsyncPairs(const AsyncPairs&) = delete;
  AsyncPairs& operator=(const AsyncPairs&) = delete;

  // ---- async pairs (issue 13; node/async_replicator.cc, the group itself node/async_group.h) ----
  // The group's journal here, opened (or created, `size_bytes`) with `role`; one per group,
  // shared by its pairs. InvalidArgument if it exists with the other role; IoError/Corruption.
  Result<std::shared_ptr<AsyncGroup>> OpenGroup(const std::string& group, bool master, bool create);
  std::shared_ptr<AsyncGroup> FindGroup(const std::string& group) const;
  // The group `pair` is joined to (null for a sync pair), read under groups_mutex_.
  std::shared_ptr<AsyncGroup> JoinedGroup(const Pair& pair) const;
  // An async pair joins its group's journal (the primary's master, the secondary's restore),
  // creating the journal with `create`; the group's thread starts. Ok for a sync pair.
  Status AttachAsync(Pair& pair, bool create);
  // At Start: attaches every loaded async pair to its group, replays the master journals into
  // the images (before anything is served), then starts the groups' threads.
  Status StartGroups();
  void StopGroups();
  // The peer's journal batch (worker thread): stored in the restore journal, answered with
  // kJournalAck.
  void ServeJournalBatch(const wire::Frame& frame);
  // The async primary's write in PAIR/PFUL: local image and master journal, no round trip.
  Result<size_t> WriteJournaled(Pair& pair, wire::WriteKind kind, uint64_t offset, const char* data,
                                size_t length, bool direct);
  // After a journaled write: over high_water_percent the pair goes PFUL and the writer is paced
  // (kAsyncPaceMs, never failed); back under it, PAIR again.
  void PaceAtHighWater(Pair& pair, AsyncGroup& group);
  // fsync of an async primary's volume: its journal entries durable (the write-ahead log).
  Status FlushJournaled(Pair& pair);
  // The async columns of display.
  void DescribeAsync(Pair& pair, const PairView& view, wire::VolumeInfo* info);
  // The background trim of a journaling async primary's activity log (activity_log.cc): its
  // marks may go once the journal holds their writes durably. Ok, or the journal's failure.
  Status SyncJournalOf(Pair& pair);

  // ---- async resync (issue 13 part 4; node/async_resync.cc) ----
  // Resyncs the async pairs `names` (primaries here, one consistency group) at one point: each
  // copies the union of both sides' dirty bitmaps. When the regions fit the journal
  // (AsyncResyncFits) they are appended to the master journal as one batch, read under the
  // pairs' closed gates, which the secondary applies only whole (it stays consistent) and the
  // pairs are PAIR at once; otherwise the copy engine copies them (COPY, the secondaries
  // inconsistent until it is done). A suspended group (PFUS) is resumed once none of its pairs
  // is PFUS any more. One outcome per pair; the summary status is the first failure.
  // Resync and resync --group of async pairs come here.
  Status ResyncAsync(const std::vector<std::string>& names,
                     std::vector<wire::PairOutcome>* outcomes, std::string* note);
  // asyncfix (issue 13): each status interval (Background), every group whose restart
  // re-journal did not fit is resynced as `resync --group G` would (node/async_resync.cc):
  // once the peer is heard and the journal has drained; through the journal when the regions
  // fit it then, else by the copy engine with the secondary shown inconsistent until done.
  // A group an operator resumed meanwhile is dropped. Failures are retried, and logged when
  // the reason changes (not every interval).
  void RunRestartResyncs();

  // ---- async takeover and the four-role swap (issue 13 part 5; node/async_swap.cc) ----
  // Takeover of an async pair moves its whole group (one primary site per group): with the old
  // primary answering and the group in PAIR, the four-role swap (demote and drain there, restore
  // everything here, both journals flipped, then the pairs promoted); otherwise everything
  // received is restored and the pairs go SSWS (their new generation fences the old primary's
  // batches), the note says what may be lost (RPO). A pair already swapped with its group: Ok.
  Status TakeoverAsync(Pair& pair, bool force, bool cluster, bool peer_lost, std::string* note);
  // ServeDemote, after this pair's demotion: once no pair of the group here is primary, ships the
  // rest of the master journal to the peer and turns it into the restore journal.
  Status AfterAsyncDemote(Pair& pair);
  // ServeResync --swap here at the old primary, before the demotion: every region of an entry
  // the master journal still holds is marked in its pair's dirty bitmap and the images flushed.
  Status BeforeAsyncSwapByPeer(Pair& pair);
  // After it: the master journal becomes the restore journal once no pair of the group here
  // journals as a primary.
  Status AfterAsyncSwapByPeer(Pair& pair);
  // resync --swap issued here, once this side is the primary: the restore journal becomes the
  // master journal.
  Status AfterAsyncSwapHere(Pair& pair);
  // ---- the RPO record, resync --swap through the journal, the takeover's probe (issue 13;
  // node/async_resync_swap.cc, node/async_takeover.cc) ----
  // The takeover's status ask of the old primary (node/limits.h kTakeoverProbeMs): asked
  // kFailoverProbeMs when nothing was heard from it for peer_timeout_ms, else kTakeoverProbeMs,
  // and again for peer_timeout_ms when a frame of it arrived meanwhile (it lives). clusterd's
  // asks kFailoverProbeMs as before.
  Result<wire::PeerAnswerMessage> ProbePeerForTakeover(Pair& pair, bool cluster);
  // resync --swap of async pairs here (one group; SSWS after a takeover): each peer told (the old
  // primary marks its master journal's regions, demotes and turns its journal), this journal
  // turned master, then the union of the regions goes through it as one batch when it fits
  // (AsyncResyncFits; the new secondaries stay consistent), else through the copy engine (those
  // the target said are over the budget: inconsistent until it is done). The rpo_* fields are
  // cleared. One outcome per pair; the summary is the first failure.
  Status ResyncSwapAsync(const std::vector<std::string>& names,
                         std::vector<wire::PairOutcome>* outcomes, std::string* note);
  // At the old primary (ServeResync of a journaled --swap): whether this pair's marked regions,
  // as batch bytes, are within `budget_bytes` (then it stays consistent).
  bool AsyncSwapTargetFits(Pair& pair, uint64_t budget_bytes) const;

  // One pair of an async resync while it runs: its peer's generation, the context, the
  // generation the resync runs in and the actions after its save (the copy path's kStartCopy).
  // Defined in node/async_resync_internal.h.
  struct AsyncResyncMember;

 private:
  using AfterSave = Replicator::AfterSave;

  // ---- the journals (node/async_replicator.cc) ----
  // Sends a batch and waits for its checked ack (the transfer thread).
  Result<std::string> SendJournalBatch(const std::string& body);
  // A full journal: the group refuses further appends and every pair of the group here goes PFUS
  // (node/async_group.h Suspend), so the group's secondaries stay together a prefix.
  void SuspendGroup(const std::shared_ptr<AsyncGroup>& group);
  // The group's volumes here (by local name), and the one a journal entry names: at the
  // primary its own name, at the secondary the peer volume of one of the group's pairs.
  std::vector<std::shared_ptr<Volume>> GroupVolumes(const std::string& group) const;
  std::shared_ptr<Volume> VolumeOfEntry(const std::string& group, bool master,
                                        const std::string& entry_volume) const;

  // ---- async resync (node/async_resync.cc) ----
  // Prepares one pair (checks, the peer's bitmap merged): Ok or why it is refused.
  Status PrepareAsyncResync(AsyncResyncMember& member);
  // Under the closed gates: the peer told, the bitmap merged again, the pair saved in COPY.
  Status StartAsyncResync(AsyncResyncMember& member, bool journaled);
  // The regions of `members` appended as one journal batch (durable on return).
  Status AppendResyncBatch(AsyncGroup& group, std::vector<AsyncResyncMember>& members);
  // The named pairs (in name order: the gates' order), each with its pair or why it is refused,
  // and their one group in `group` (null when none is an async pair here).
  std::vector<AsyncResyncMember> AsyncResyncMembersOf(const std::vector<std::string>& names,
                                                      std::shared_ptr<AsyncGroup>* group);
  // Ok, or why a resync of `names` may not run alone: the group is suspended (PFUS) and another
  // of its PFUS pairs is not among them (a suspended group comes back whole).
  Status CheckSuspendedGroupWhole(const AsyncGroup& group, const std::set<std::string>& names);
  // Under the members' closed gates: sizes the regions, starts each pair and appends them as one
  // journal batch when they fit; true when they went through the journal (the pairs are PAIR),
  // false when the copy engine is to copy them. `copy_bytes`: the changed regions' bytes.
  bool RunAsyncResyncClosed(const std::shared_ptr<AsyncGroup>& group,
                            std::vector<AsyncResyncMember>& members, uint64_t* copy_bytes);
  // asyncrest: the members whose regions a batch carried, finished (their marks unpinned, both
  // sides saved PAIR).
  void FinishJournaledResync(std::vector<AsyncResyncMember>& members);
  // The group leaves PFUS when none of its pairs here is PFUS any more.
  void ResumeGroupIfResynced(const std::shared_ptr<AsyncGroup>& group);
  // At Start: a group with a PFUS pair stays suspended (durable PFUS: the status is saved).
  void SuspendGroupsOfSuspendedPairs();
  // At Start, after the replay (finding F1): the regions the activity log still marks for the
  // group's journaling pairs (PAIR, PFUL) may hold an image write whose journal entry a power
  // loss took: their current contents are appended as one batch, so the secondary gets them.
  // A batch that does not fit suspends the group (PFUS: the marks are then the dirty regions)
  // and leaves it to RunRestartResyncs (asyncfix), which resyncs it without an operator.
  void ReappendMarkedRegions(const std::shared_ptr<AsyncGroup>& group);

  // ---- async takeover and the four-role swap (node/async_swap.cc) ----
  // What a takeover of an async group moves: the pairs not moved yet, each one's context and new
  // generation, and whether it is the planned swap (the peer answered, every pair in PAIR).
  struct AsyncTakeoverPlan {
    std::string group;
    std::vector<std::shared_ptr<Pair>> pairs;
    std::vector<PairContext> contexts;
    std::vector<wire::Generation> generations;
    bool planned = false;
  };
  // Every pair checked by the state machine before anything changes (the group moves whole or
  // not): what it refuses, with the volume named.
  Result<AsyncTakeoverPlan> PlanAsyncTakeover(Pair& first, bool force, bool cluster,
                                              bool peer_lost);
  // Step 1 of the planned swap: the peer demotes every pair (the last ships the rest of its
  // master journal and turns it); asked again while its entries keep arriving. Unreachable.
  Status DemotePeerForSwap(const AsyncTakeoverPlan& plan, AsyncGroup* journal);
  // The RPO line of a takeover without the old primary (node/async_rpo.h), logged.
  // asyncrest: and the estimate in `estimate` (for the metadata).
  std::string TakeoverRpoLine(const std::string& group, AsyncGroup& journal, RpoEstimate* estimate);
  // The group's journal reset in its new role (one header write), reopened and its pairs
  // attached; the old group object stopped first. Ok if it has that role already.
  Status FlipGroup(const std::string& group, bool to_master);
  // The async pairs of `group` at this site.
  std::vector<std::shared_ptr<Pair>> AsyncGroupPairs(const std::string& group) const;
  // The newest generation of the group's pairs here (the journal batches' fence).
  wire::Generation GroupGeneration(const std::string& group) const;
  // The role the journal of `group` has on disk: true master; NotFound if there is none.
  Result<bool> JournalIsMaster(const std::string& group) const;
  // Start: an unfinished swap resolved (FORMAT.md "The four-role swap"), and restore threads
  // of groups taken over (SSWS) left stopped. Before the groups' threads start.
  Status ResolveSwapsAtStart();
  // A restore journal whose pairs were taken over (SSWS): its restore thread stays stopped.
  bool GroupTakenOver(const std::string& group) const;
  // The master's batch stamped with the generation and the RPO fields.
  void StampBatch(AsyncGroup& group, wire::JournalBatchMessage* batch) const;
  // The restore side: InvalidArgument for a batch of a generation older than the group's pairs
  // here; else records its RPO fields (rpo_heard_).
  Status CheckAndNoteBatch(const wire::JournalBatchMessage& batch);

  // ---- the RPO record and resync --swap (node/async_takeover.cc, node/async_resync_swap.cc) ----
  // The RPO of a takeover without the old primary saved in each pair's metadata (display's
  // rpo_* fields), before the pairs change. Logged when a save fails (the takeover goes on).
  void RecordTakeoverRpo(const std::vector<std::shared_ptr<Pair>>& pairs,
                         const RpoEstimate& estimate);
  // One pair of it told, under the closed gates, with the budget left for its target's marks:
  // the peer demoted, its bitmap merged, the pair saved primary COPY; `journaled`: the target
  // stayed consistent (its marks fit the budget).
  Status StartAsyncSwap(AsyncResyncMember& member, uint64_t budget_bytes, bool* journaled);
  // Step 1 of ResyncSwapAsync for one pair: kResyncSwapHere checked against the peer's status,
  // the context and the new generation filled; `own_bytes`: this side's marks as batch bytes.
  Status PrepareAsyncSwap(AsyncResyncMember& member, uint64_t* own_bytes);
  // Steps 2-3 for every member going, in order, each with its budget (`limit`: the batch limit).
  // Adds the changed regions' bytes to `copy_bytes` and the journaled ones' to `batch_bytes`.
  void TellAsyncSwapPeers(std::vector<AsyncResyncMember>& members,
                          const std::vector<uint64_t>& own_bytes, uint64_t limit,
                          uint64_t* copy_bytes, uint64_t* batch_bytes);
  // Steps 4-5: the journal here turned master, the rpo_* fields cleared, the journaled members'
  // regions appended as one batch and finished (PAIR). True when a batch carried any; a batch
  // that fails leaves every member to the copy engine (member.journaled false).
  bool FinishAsyncSwapHere(const std::string& group, std::vector<AsyncResyncMember>& members,
                           uint64_t batch_bytes);

  Replicator& replicator_;
  VolumeStore& store_;                // the replicator's
  const ReplicatorOptions& options_;  // the replicator's
  mutable std::mutex groups_mutex_;   // a leaf; what it guards: LOCKS above
  std::map<std::string, std::shared_ptr<AsyncGroup>> groups_;
  // The groups RunRestartResyncs is due to resync, each with the last failure logged.
  std::map<std::string, std::string> restart_resync_groups_;
  std::map<std::string, RpoHeard> rpo_heard_;  // the restore side's last batch's RPO fields
};

}  // namespace pairfs::node
