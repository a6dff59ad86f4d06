// Synchronous pairs between two sites (doc/design.md "Pairs", "Pair statuses"): the write paths at
// the primary and the secondary, the initial copy and resync, the activity log, the pair commands
// and the status exchange with the peer. One class, defined in one file per concept (the file
// beside each group of members below; node/README.md lists them all). Async pairs (their groups'
// journals, resync, takeover and swap) are a member of their own: AsyncPairs, node/async_pairs.h.
//
// Threads: mount I/O and control commands call in from their own threads and block on their own
// completions; frames from the peer arrive through OnFrame() (the transport's thread), where
// answers are matched to their waiters at once, small replica writes are served there, and other
// requests go to a small worker pool. One background thread sends the pair statuses and trims the
// activity log. Thread-safe. The transport is an interface (node/replicator_options.h) so that
// the simulation (tests/sim) runs this very code over an injected network; the daemon uses
// wire::PeerLink.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "node/group_commands.h"
#include "node/pair_state.h"
#include "node/replicator_options.h"
#include "node/store.h"
#include "wire/envelope.h"
#include "wire/messages.h"
#include "wire/peer_messages.h"
#include "wire/status.h"

namespace pairfs::node {

class AsyncGroup;        // node/async_group.h
class AsyncPairs;        // node/async_pairs.h
class PeerCalls;         // node/peer_calls.h
class AnsweredRequests;  // node/peer_calls.h
class DataWindow;        // node/peer_calls.h
namespace replicator_internal {
class SharedGate;  // node/pair_runtime.h
}

class Replicator {
 public:
  // `witness` may be null (no [witness]): the determining volume's reserve is then ordered at its
  // primary like any other; with a witness it is a majority vote of three copies.
  Replicator(VolumeStore& store, ReplicatorOptions options, PeerTransport* transport,
             WitnessTransport* witness = nullptr);
  ~Replicator();
  Replicator(const Replicator&) = delete;
  Replicator& operator=(const Replicator&) = delete;

  // Loads every volume that is in a pair (opening its region set), resumes interrupted copies and
  // starts the workers. IoError/Corruption if a pair's region set cannot be opened.
  Status Start();
  // Stops copies, workers and the background thread. Idempotent.
  void Stop();

  // A checked frame from the peer (any thread; blocks at most for a small replica write or a
  // flush ahead): handled where node/frame_routes.h RouteOf says.
  void OnFrame(wire::Frame frame);

  // ---- mount I/O: what doc/design.md says a write, discard or fsync does in each status ----
  // (write_path.cc; Flush: flush_path.cc)
  Result<size_t> Write(Volume& volume, const std::string& origin_site, uint64_t offset,
                       const char* data, size_t length, bool direct);
  // Write, answered through `done` (called once, with what Write returns) instead of returning
  // (speed, issue 14: no thread waits for the peer). A replicated write of one part returns once
  // it is sent and written here; `done` then runs on the thread that delivers the peer's answer
  // (the link thread) when it is a success, else on the write-finisher thread (a failure, or no
  // answer within peer_timeout_ms: the pair reacts first, as for Write). Any other write is done,
  // and `done` called, before this returns. `data` is not used after it returns. Stop() waits
  // for every `done` of a write begun before it.
  using WriteDone = std::function<void(Result<size_t>)>;
  void WriteAsync(Volume& volume, const std::string& origin_site, uint64_t offset, const char* data,
                  size_t length, bool direct, WriteDone done);
  Status Discard(Volume& volume, const std::string& origin_site, wire::WriteKind kind,
                 uint64_t offset, uint64_t length);
  Status Flush(Volume& volume);

  // ---- pair commands (pairctl(8)); `note` gets a line for the user when there is one ----
  // (operator_commands.cc; Reserve, ReservationOf and Fence: replicator_reserve.cc)
  Status CreatePair(const wire::PairCreateRequest& request, std::string* note);
  Status Split(const std::string& name, bool read_write, bool forwarded, std::string* note);
  Status Resync(const std::string& name, bool swap, bool forwarded, std::string* note);
  // `peer_lost`: clusterd knows the peer is gone; skip asking it (a dead peer costs a timeout).
  Status Takeover(const std::string& name, bool force, bool cluster, bool peer_lost,
                  std::string* note);
  Status Dissolve(const std::string& name, std::string* note);
  // Reserve (or release) ordered at the primary and mirrored to the secondary; for the
  // determining volume with a witness, a majority vote of its three record copies. Conflict
  // (held by another site, outdated, preempt without the determining volume), Unreachable (the
  // primary, or a majority, did not answer), NotFound. `forwarded`: the peer asked (no
  // forwarding back).
  Status Reserve(const std::string& name, const ReserveOptions& options, bool forwarded);
  // This node's copy of a volume's reservation record (holder, epoch, outdated site).
  wire::ReservationRecord ReservationOf(const std::string& name);
  // clusterd: this site's copy of a managed volume refuses writes (EROFS) until unfenced. An
  // unfence never lifts a fence into writing without the peer (a suspended primary, SSUS),
  // except for `winner` (clusterd won the determining volume) where this site holds its record,
  // the record marks the peer outdated and this copy is not outdated. Conflict otherwise.
  Status Fence(const std::string& name, bool fenced, bool winner = false);
  // Mismatching byte ranges (offset, length pairs) among the regions overlapping the range.
  Result<std::vector<uint64_t>> Verify(const std::string& name, uint64_t offset, uint64_t length);

  // ---- commands carried between the sites (node/carried_commands.cc; pairctl --site) ----
  // Sends a control request for `site`'s node (which must be the peer) over the peer link and
  // returns that node's reply as it gave it. NotFound for a site that is not the peer,
  // InvalidArgument for a request that cannot be carried (wire::CheckCarriedRequest), Unreachable
  // if the peer does not answer within options.carry_timeout_ms, Corruption (counted as a
  // refusal) for a reply that fails wire::CheckCarriedReply. Thread-safe.
  Result<wire::Reply> Carry(const std::string& site, uint16_t type, std::vector<char> body);
  // The peer's carried requests are answered by `handler` (the control endpoint's dispatch); until
  // it is set they are refused. Call before Start().
  void ServeCarriedWith(std::function<wire::Reply(const wire::Frame&)> handler);
  // ---- consistency groups (node/group_commands.h plans; node/replicator_groups.cc runs) ----
  // The pairs of `group` at this site (EffectiveGroup), in name order.
  std::vector<GroupMember> GroupMembers(const std::string& group) const;
  // create --group: what CheckGroupJoin says of the new pair and its group here.
  Status CheckJoinsGroup(const wire::PairCreateRequest& request) const;
  struct GroupOptions {
    bool read_write = false;  // split --rw
    bool force = false;       // takeover --force
    bool forwarded = false;   // the peer asked (a split --group issued at the secondaries' site)
  };
  // Runs `command` on every pair of `group` at this site (PlanGroupCommand): a split at one point
  // of the write order (every pair's new writes wait while each pair saves its split; forwarded
  // to the primary site when issued at the secondaries'), the others pair by pair, each pair run
  // even when an earlier one failed. `outcomes` gets one per pair of the group, in name order.
  // Ok when every pair is done; else what SummarizeGroupOutcomes says; NotFound (no such group
  // here), InvalidArgument (an inconsistent group), Unreachable (a forward not answered).
  Status RunGroup(const std::string& group, GroupCommand command, const GroupOptions& options,
                  std::vector<wire::PairOutcome>* outcomes, std::string* note);

  // How many messages from the peer failed their checks (wire/peer_messages.h) and were refused.
  uint64_t peer_refusals() const { return peer_refusals_.load(); }
  // Fills the pair columns of `info` (copy_progress, dirty_bytes).
  void Describe(Volume& volume, wire::VolumeInfo* info);

  // metrics (issue 15, node/metrics_counters.cc): the writes and bytes replicated in `name`'s
  // pair since it was loaded (Pair::CountReplicated); zeros when it is not in a pair. Reads
  // atomics after a short lookup under pairs_mutex_.
  struct ReplicatedCounts {
    uint64_t writes = 0;
    uint64_t bytes = 0;
  };
  ReplicatedCounts ReplicatedOf(const std::string& name) const;
  // Milliseconds since the last frame from the peer's node arrived; -1 when none arrived since
  // this node started (no peer, or never heard).
  int64_t PeerHeardMsAgo() const;
  int peer_timeout_ms() const { return options_.peer_timeout_ms; }

  struct Pair;  // one volume's pair runtime (node/pair_runtime.h)
  // A consistent copy of a pair's state, taken under its lock.
  struct PairView {
    PairState state;
    PairContext context;
    wire::Generation generation;
    std::string peer_volume;
  };

 private:
  std::shared_ptr<Pair> FindPair(const std::string& name) const;
  Result<std::shared_ptr<Pair>> PairFor(const std::string& name) const;  // NotFound / not in a pair
  Result<std::shared_ptr<Pair>> LoadPair(std::shared_ptr<Volume> volume, bool fresh);
  void DropPair(const std::string& name);

  // Talking to the peer (replicator.cc, over node/peer_calls.h). Exchange sends, then waits for
  // the answer with its id, resending every `resend_ms` (0: retransmit_ms), up to `timeout_ms`.
  Result<wire::Frame> Exchange(wire::MessageType type, const std::string& body, int timeout_ms,
                               int resend_ms = 0);
  // Sends a pair command (wire/peer_messages.h) and waits for its answer, which must pass its
  // checks (Corruption if not).
  template <class T>
  Result<wire::PeerAnswerMessage> Ask(const T& command, int timeout_ms = -1) {
    return AskBody(T::kType, wire::EncodeBody(command), timeout_ms);
  }
  Result<wire::PeerAnswerMessage> AskBody(wire::MessageType type, const std::string& body,
                                          int timeout_ms);
  Result<wire::PeerAnswerMessage> AskStatus(Pair& pair, int timeout_ms = -1);
  Status Transmit(std::string frame_bytes);  // Unreachable without a transport
  // A frame kept for retransmits (a write's): sent without a copy where the transport can.
  Status Transmit(const std::shared_ptr<const std::string>& frame_bytes);
  Status SendOneWay(wire::MessageType type, uint64_t request_id, const std::string& body);
  void Answer(const wire::Frame& request, wire::MessageType type, const std::string& body);
  template <class T>
  Status ForwardToPrimary(const T& request, std::string* note);

  // Reservations (replicator_reserve.cc).
  bool IsDetermining(const std::string& name) const;
  Status ReserveDetermining(const std::string& name, const ReserveOptions& options, bool forwarded);
  Status ReserveByMajority(const std::string& name, const ReserveOptions& options);
  // The vote of `options` on the determining volume `name`'s record, numbered (NextVoteNumber,
  // node/reserve_rules.h) so that a copy knows a late release of it. Takes determining_mutex_.
  wire::ReserveVoteRequest NumberedVote(const std::string& name, const ReserveOptions& options);
  // Applies the vote rule to this node's copy of `name`'s record, durably; the outcome.
  Result<wire::ReservationRecord> VoteHere(const std::string& name,
                                           const wire::ReserveVoteRequest& request,
                                           std::string* refusal);
  // Sends `record` to the peer's copy (reserve-mirror), waiting kReserveVoteTimeoutMs.
  Status MirrorReservation(const PairView& view, const wire::ReservationRecord& record);
  // fence reserve, after a link loss at the primary: writes wait while this asks.
  void AskReserveAfterLinkLoss(Pair& pair, const wire::Generation& seen);
  wire::PeerAnswerMessage ServeReserveAsk(const wire::PeerReserveAskCommand& command);
  wire::PeerAnswerMessage ServeReserveMirror(const wire::PeerReserveMirrorCommand& command);
  wire::PeerAnswerMessage ServeVote(const wire::PeerVoteCommand& command);

  // Write paths (write_path.cc). EncodeWrite registers a call for the answer and returns its id and
  // frame.
  struct OutgoingWrite {
    uint64_t id;
    std::shared_ptr<const std::string> frame;  // shared with the link until sent (no copy)
  };
  Result<OutgoingWrite> EncodeWrite(wire::MessageType type, const std::string& peer_volume,
                                    const wire::Generation& generation,
                                    const std::string& origin_site, wire::WriteKind kind,
                                    uint64_t offset, const char* data, size_t length);
  // A replica write as parts of at most kReplicaPartBytes (node/limits.h), each its own call,
  // each queued to the peer as soon as it is encoded (the peer receives the first while this site
  // encodes the next). On failure no more parts are sent and their calls are cancelled; the
  // parts sent before may be applied at the peer (the caller suspends the pair, region kept).
  Result<std::vector<OutgoingWrite>> SendReplicaParts(const std::string& peer_volume,
                                                      const wire::Generation& generation,
                                                      const std::string& origin_site,
                                                      wire::WriteKind kind, uint64_t offset,
                                                      const char* data, size_t length);
  // Waits for every part's answer in order: the first failed answer, nullopt for a part not
  // answered, else the last (successful) answer, delivered at `*answered_at` (if given).
  std::optional<wire::Frame> WaitForParts(
      const std::vector<OutgoingWrite>& parts,
      std::chrono::steady_clock::time_point* answered_at = nullptr);
  // What a WriteAsync hands down to the replicated write, which takes it (done_ empty after)
  // when it leaves the answer to be awaited (write_path.cc ReplicatedWrite).
  struct AsyncTail {
    std::shared_ptr<Pair> pair;
    std::unique_ptr<replicator_internal::SharedGate> inside;  // DoWrite's
    WriteDone done;
  };
  struct ReplicatedWrite;
  Result<size_t> DoWrite(Volume& volume, const std::string& origin_site, wire::WriteKind kind,
                         uint64_t offset, const char* data, size_t length, bool direct,
                         WriteDone* async = nullptr);
  // `view` is the pair as the write found it (DoWrite decided the rule from it). With `tail`, a
  // write of one part sent and written here is left to the peer's answer (tail->done taken).
  Result<size_t> WriteReplicated(Pair& pair, const PairView& view, const std::string& origin_site,
                                 wire::WriteKind kind, uint64_t offset, const char* data,
                                 size_t length, bool direct, AsyncTail* tail = nullptr);
  // The end of an awaited replicated write (its answer, or nullopt): completed on the thread that
  // has it when it is a success, else on the write-finisher thread (Defer). Completing reads the
  // answer as WriteReplicated does, lets go of the write's range, activity, window share and
  // gate, then calls its `done`.
  void FinishReplicated(std::shared_ptr<ReplicatedWrite> write, std::optional<wire::Frame> answer,
                        std::chrono::steady_clock::time_point answered_at);
  void CompleteReplicated(std::shared_ptr<ReplicatedWrite> write,
                          const std::optional<wire::Frame>& answer,
                          std::chrono::steady_clock::time_point answered_at);
  // Runs `task` on the write-finisher thread (here when it is not running), RunDeferred's loop.
  // The finisher depends on no other thread: a failed write's end never waits for a worker that
  // waits for it (a gate closed by a peer command).
  void Defer(std::function<void()> task);
  void RunDeferred();
  // The write-timer thread: every tick_ms, the retransmits and deadlines of the awaited writes
  // (PeerCalls::Expire).
  void RunWriteTimer();
  // The peer's answer to a replicated write that is written here (the secondary's verdict,
  // node/write_rules.h ReadReplicaAnswer): `length`, or the pair reacts (outdated, suspended on a
  // disk fault, the link lost) and the write gets what that leaves.
  Result<size_t> ReadReplicatedAnswer(Pair& pair, const wire::Generation& generation,
                                      uint64_t offset, size_t length,
                                      const std::optional<wire::Frame>& answer);
  Result<size_t> WriteForwarded(Pair& pair, const PairView& view, const std::string& origin_site,
                                wire::WriteKind kind, uint64_t offset, const char* data,
                                size_t length, bool direct);
  Result<size_t> WriteTracked(Pair& pair, wire::WriteKind kind, uint64_t offset, const char* data,
                              size_t length, bool direct);
  Result<size_t> AfterLinkLoss(Pair& pair, size_t length);
  // speed (issue 14): fsync with the peer (flush_path.cc). SendFlush registers a call, sends a
  // flush (ahead of the fsync when `through_sequence` names the write it follows) and returns its
  // id and frame. SendFlushAhead sends one behind a lone write when the application fsyncs after
  // each write (Pair::flush_ahead) and says whether it did; TakeFlushAhead counts the flush and
  // returns the flush ahead if it covers every write sent, else cancels it. FlushWithPeer: both
  // fdatasyncs at once.
  Result<OutgoingWrite> SendFlush(const PairView& view, uint64_t through_sequence);
  bool SendFlushAhead(Pair& pair, const PairView& view, uint64_t write_id, uint64_t writes_sent);
  std::optional<OutgoingWrite> TakeFlushAhead(Pair& pair, const PairView& view);
  Status FlushWithPeer(Pair& pair, const PairView& view);
  // The local sync ahead (Pair::local_sync_ahead): a write that sent a flush ahead syncs this
  // site's copy while its answer is on its way (SyncAhead: the fdatasync's outcome, recorded when
  // it succeeded); TakeLocalSyncAhead says whether the flush now finds this copy synced through
  // every write sent in its generation (then it skips its own fdatasync), and forgets it.
  Status SyncAhead(Pair& pair, const PairView& view, uint64_t writes_sent);
  bool TakeLocalSyncAhead(Pair& pair, const PairView& view);

  // The peer's requests (worker threads). Serve dispatches (replicator.cc); the writes and the
  // flush are replica_server.cc's, the status peer_status.cc's.
  void Serve(wire::Frame frame);
  // OnFrame's FrameRoute::kWorker: queued for a worker (a flush served here while stopping);
  // dropped, logged, when the queue is full or the site stops.
  void QueueForWorkers(wire::Frame frame);
  void ServeReplicaWrite(const wire::Frame& frame);
  void ServeForwardedWrite(const wire::Frame& frame);
  void ServeFlush(const wire::Frame& frame);
  void ServeStatus(const wire::Frame& frame);
  wire::Reply ServeCarry(const wire::Frame& frame);
  // A message from the peer that failed its checks: counted, logged at most one line per type
  // every 10 s with the count (wire/log_limit.h), never acted on.
  void CountRefusal(wire::MessageType type, const Status& why);

  // Pair commands (node/pair_commands.cc): ServePairCommand decodes and checks the frame's body
  // as its type's command and runs the one handler for it; the answer says what happened.
  wire::PeerAnswerMessage ServePairCommand(const wire::Frame& frame);
  wire::PeerAnswerMessage ServeCreate(const wire::PeerCreateCommand& command);
  // ServeCreate's check that no pair here has the command's peer volume: InvalidArgument if one
  // has.
  Status CheckPeerVolumeUnpaired(const wire::PeerCreateCommand& command);
  // ServeCreate's part once `volume` exists: checks its size and that it is in no pair, opens an
  // async group's restore journal, saves and loads the pair as the secondary. InvalidArgument
  // for a volume that does not fit, or what opening, saving or loading returns.
  Status PairAsSecondary(const std::shared_ptr<Volume>& volume,
                         const wire::PeerCreateCommand& command, PairMode mode);
  wire::PeerAnswerMessage ServeForwardSplit(const wire::PeerForwardSplitCommand& command);
  wire::PeerAnswerMessage ServeForwardResync(const wire::PeerForwardResyncCommand& command);
  wire::PeerAnswerMessage ServeStatusAsk(const wire::PeerStatusAskCommand& command);
  wire::PeerAnswerMessage ServeVerify(const wire::PeerVerifyCommand& command);
  wire::PeerAnswerMessage ServeSplit(const wire::PeerSplitCommand& command);
  wire::PeerAnswerMessage ServeResync(const wire::PeerResyncCommand& command);
  wire::PeerAnswerMessage ServeDemote(const wire::PeerDemoteCommand& command);
  wire::PeerAnswerMessage ServeCopyDone(const wire::PeerCopyDoneCommand& command);
  wire::PeerAnswerMessage ServeTrim(const wire::PeerTrimCommand& command);
  wire::PeerAnswerMessage ServeDissolve(const wire::PeerDissolveCommand& command);
  wire::PeerAnswerMessage ServeBitmap(const wire::PeerBitmapCommand& command);
  // The pair a command names, or the refusal to answer with (no such volume, not in a pair).
  Result<std::shared_ptr<Pair>> CommandPair(const std::string& name) const;
  // The peer's dirty bitmap at `generation`, chunk by chunk, marked into this side's.
  Status MergePeerBitmap(Pair& pair, const std::string& peer_volume,
                         const wire::Generation& generation);

  // State changes (pair_actions.cc: the executor of the state machine's actions, every one of
  // them). Commit saves a transition (caller holds the pair's mutex), carrying out the actions of
  // the save (generations, stopping a copy, clearing the pair fields); a suspension that cannot be
  // saved is held in memory when the transition says so (hold_if_unsaved), the error still
  // returned. A transition that asks for the reserve saves nothing (its answer is the next event).
  // The actions that talk to the peer, wait or start the copy thread (kStartCopy, kClearDirty,
  // kAskReserve) must run after the save with the pair's mutex released: Commit puts them in
  // `after` (a transition that has any needs one), RunAfterSave runs them in order. Change runs
  // the state machine and commits; without `after`, it runs them itself once the lock is released.
  struct AfterSave {
    std::vector<PairAction> actions;
    wire::Generation generation;  // the pair's, as saved
  };
  Status Commit(Pair& pair, const PairTransition& transition, const wire::Generation* generation,
                AfterSave* after = nullptr);
  Status Change(Pair& pair, PairEvent event, const PairContext* context,
                const wire::Generation* generation, AfterSave* after = nullptr);
  void RunAfterSave(Pair& pair, const AfterSave& after);
  // Disk faults (replicator_faults.cc). KeepChanged marks [offset, offset+length) durably and
  // pins its regions (only a copy clears them, never the activity-log trim); KeepAllChanged pins
  // every marked region (a failed flush may have lost any write since the last one).
  void KeepChanged(Pair& pair, uint64_t offset, uint64_t length);
  void KeepAllChanged(Pair& pair);
  // A write or flush failed at either copy: suspends the pair (PSUE) if it is still in `seen`
  // and replicating; if the metadata cannot be saved, PSUE holds in memory (the pinned marks make
  // a restart copy the regions) and the failure is logged.
  void SuspendOnDiskFault(Pair& pair, const wire::Generation& seen, const std::string& why);
  // Reactions to the peer (peer_status.cc). The peer was lost while the pair replicated in
  // `seen`: suspends (fence never or data) or asks for the determining volume (fence reserve).
  void OnLinkLost(Pair& pair, const wire::Generation& seen);
  // The peer showed `peer`, newer than `seen` (this side's generation then): outdated, no bump.
  void OnPeerNewer(Pair& pair, const wire::Generation& seen, const wire::Generation& peer);
  // The peer stays at `peer`, a generation this site made and never committed: finishes a swap
  // whose last step was lost (the peer demoted: a secondary), else leaves the copy as it is.
  void FinishSwap(Pair& pair, const wire::Generation& seen, const wire::Generation& peer,
                  PairRole peer_role, PairStatus peer_status);
  // Fence (replicator_reserve.cc): whether the winner's fenced copy may write alone (`why` says
  // why, or why not).
  bool WinnerCopyIsNewest(Pair& pair, const PairView& view, std::string* why);
  // The copy engine (copy_engine.cc). RunCopy is the copy thread: SendMarkedRegions sends the
  // marked regions, OnCopyFailed reacts to a failed copy, AfterCopied finishes a complete one.
  void StartCopy(const std::shared_ptr<Pair>& pair);
  void RunCopy(std::shared_ptr<Pair> pair);
  struct CopyOutcome {
    bool failed = false;
    std::string disk_fault;  // a copy write failed at the peer, or a read here: not a lost link
    std::optional<wire::Generation> peer_newer;  // the peer refused a copy write: it moved on
  };
  CopyOutcome SendMarkedRegions(Pair& pair, const PairView& view,
                                const std::vector<uint64_t>& regions);
  // One chunk's answer (or none) into `*outcome`: a refusal fails the copy, one of a newer
  // generation also cancels the copy's other calls (`scope`); a success counts `length` copied.
  void ReadCopyAnswer(Pair& pair, const PairView& view, uint64_t scope, uint64_t length,
                      const std::optional<wire::Frame>& answer, CopyOutcome* outcome);
  void OnCopyFailed(Pair& pair, const PairView& view, const CopyOutcome& outcome);
  void AfterCopied(Pair& pair, const PairView& view, const std::vector<uint64_t>& regions);
  Status FinishCopy(Pair& pair, const wire::Generation& generation);
  // The activity log's trim (activity_log.cc): in PAIR, closes an epoch, waits for its writes,
  // flushes both copies and clears the regions no later write touched (`keep_hot`: keeps those
  // of the epoch closed, the background trim).
  void TrimActivityLog(Pair& pair, bool keep_hot);
  // Starts a new activity-log epoch; returns the one closed.
  uint32_t CloseEpoch(Pair& pair);
  // Clears the marks last touched in epoch `closing` or before (before it, with `keep_hot`), if
  // the pair is still in `generation` and `status`; the caller made sure both copies hold, and
  // have flushed, every write of those epochs: the trim in PAIR, and a split from PAIR (every
  // write before it is at both copies, so its marks are no changes; the dirty bitmap keeps what
  // is written after the split only).
  void ClearActivityThrough(Pair& pair, uint32_t closing, bool keep_hot,
                            const wire::Generation& generation, PairStatus status);
  // A pair create, checked against the config and this side's volume (operator_commands.cc):
  // InvalidArgument (an async group that is no name), NotFound, or what the state machine refuses.
  struct CreatePlan {
    std::shared_ptr<Volume> volume;
    PairMode mode = PairMode::kSync;
    FenceLevel fence = FenceLevel::kNever;
    std::string peer_volume;
    wire::Generation generation;  // the pair's first
    PairState next;               // this side once created (primary, COPY)
    // The create's actions after its save (the initial copy); its generation is `generation`,
    // saved by SaveCreatedPrimary.
    AfterSave after;
  };
  Result<CreatePlan> PlanCreate(const wire::PairCreateRequest& request);
  // The new primary's region set (every region marked), then its metadata; IoError if either
  // cannot be written (crash points between the steps: FORMAT.md).
  Status SaveCreatedPrimary(const wire::PairCreateRequest& request, const CreatePlan& plan);
  Status DissolveHere(const std::string& name);
  // A split in two halves (operator_commands.cc), so that a group split can hold every pair's
  // gate closed across the first half of all of them. SplitHere: the caller holds the pair's gate
  // closed; changes the state (PSUS, or SSUS with read_write) and closes the activity log's epoch.
  // SplitAtPeer: with the gate open, tells the peer and, once it flushed, clears the marks of the
  // writes before the split.
  struct SplitPoint {
    wire::Generation generation;
    bool from_pair = false;
    uint32_t closing = 0;
    PairStatus status{};
  };
  Result<SplitPoint> SplitHere(Pair& pair, bool read_write);
  Status SplitAtPeer(Pair& pair, const SplitPoint& point, bool read_write, std::string* note);
  // Group commands at this site (replicator_groups.cc).
  void SplitGroupHere(const GroupPlan& plan, bool read_write,
                      std::vector<wire::PairOutcome>* outcomes);
  Status ForwardGroupSplit(const std::string& group, const GroupPlan& plan, bool read_write,
                           std::string* note);
  void RunEachOfGroup(const GroupPlan& plan, GroupCommand command, const GroupOptions& options,
                      std::vector<wire::PairOutcome>* outcomes);
  // What pairctl status shows of a pair (operator_commands.cc).
  void DescribePair(Pair& pair, const PairView& view, wire::VolumeInfo* info);
  // Takeover's work (operator_commands.cc); Takeover then moves the peer's reservation of the
  // copies it made SSWS.
  Status TakeoverPair(const std::string& name, bool force, bool cluster, bool peer_lost,
                      std::string* note);
  // After a takeover of `name` (with its async group): each copy now SSWS that the peer still
  // holds the reservation of (not the determining volume) is reserved for this site, and `note`
  // says so; a save that fails is said in `note` too (the copy stays as it was).
  void ReserveTakenOverCopies(const std::string& name, std::string* note);
  Result<std::vector<uint64_t>> HashRegions(Pair& pair, uint64_t first, uint64_t count);
  // The background thread (replicator.cc): statuses to the peer, a silent link, the trims.
  void Background();

  VolumeStore& store_;
  const ReplicatorOptions options_;
  PeerTransport* const transport_;
  WitnessTransport* const witness_;
  // Orders everything that reads or changes this node's copy of the determining volume's record:
  // reserves, releases and votes, and a fence-reserve ask from its reserve to its state change
  // (so a release can never slip between a granted fence reserve and the suspend it allows).
  std::recursive_mutex determining_mutex_;
  uint64_t last_vote_number_ = 0;        // NumberedVote's last; guarded by determining_mutex_
  std::unique_ptr<PeerCalls> calls_;     // answers to what this side sent
  std::unique_ptr<PeerCalls> confirms_;  // confirms of writes this side granted
  std::unique_ptr<AnsweredRequests> answered_;
  std::unique_ptr<DataWindow> window_;

  mutable std::mutex pairs_mutex_;
  std::map<std::string, std::shared_ptr<Pair>> pairs_;  // by local volume name
  // Orders the peer's pair creates (ServeCreate): a create the primary asked again (its first
  // ask timed out) waits for the first, then finds the pair made and answers it as done, instead
  // of finding the metadata saved and the pair not yet loaded.
  std::mutex serve_create_mutex_;

  std::mutex work_mutex_;  // guards work_, deferred_, async_writes_ and stopping_
  std::condition_variable work_ready_;
  std::condition_variable background_wake_;  // Stop() wakes the background thread with it
  std::deque<wire::Frame> work_;
  size_t work_bytes_ = 0;                       // bodies in work_, bounded by kPeerWorkQueuedBytes
  std::deque<std::function<void()>> deferred_;  // Defer()'s tasks, for finisher_
  std::condition_variable deferred_ready_;
  std::condition_variable timer_wake_;  // Stop() wakes the write timer with it
  // WriteAsync's writes not done yet; Stop() waits for none (async_writes_done_).
  size_t async_writes_ = 0;
  std::condition_variable async_writes_done_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
  std::thread background_;
  std::thread finisher_;
  std::thread write_timer_;
  std::atomic<int64_t> last_heard_ms_{0};  // steady clock, when the peer's last frame arrived
  std::atomic<bool> heard_since_start_{false};
  std::atomic<uint64_t> peer_refusals_{0};  // messages from the peer that failed their checks
  std::function<wire::Reply(const wire::Frame&)> carried_handler_;  // set before Start()

  // The clock (issue 12's Env seam; node/time_source.h, ReplicatorOptions::clock): milliseconds
  // of options_.clock, the steady clock when none is given. In the member functions it is the
  // NowMs they call (it hides replicator_internal's).
  int64_t NowMs() const;

  // Async pairs (issue 13): their groups' journals, resync, takeover and swap are AsyncPairs'
  // (node/async_pairs.h), which reaches this class's internals as a friend. Declared last:
  // destroyed first, after Stop() stopped the groups' threads.
  friend class AsyncPairs;
  std::unique_ptr<AsyncPairs> async_;
};

}  // namespace pairfs::node
