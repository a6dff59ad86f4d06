// The model behind tests/sim/cluster_sim.h: the virtual clock and network, and the processes of
// each site (a node, a clusterd) and the witness. Everything runs on one thread in virtual time;
// a wait is a continuation that a timer or an arriving message calls. Not thread-safe.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "clusterd/executor.h"
#include "clusterd/limits.h"
#include "node/command_rules.h"
#include "node/fence_rules.h"
#include "node/peer_calls.h"
#include "node/peer_status_rules.h"
#include "node/reserve_rules.h"
#include "node/write_rules.h"
#include "tests/sim/cluster_sim.h"
#include "tests/sim/cluster_sim_calls.h"
#include "tests/sim/cluster_sim_process.h"
#include "tests/sim/network.h"
#include "wire/heartbeat_rules.h"
#include "wire/messages.h"
#include "wire/status.h"

namespace pairfs::sim::cluster {

using ThenStatus = std::function<void(Status)>;

inline constexpr int kBlocks = 8;                 // of vm1
inline constexpr int kHeartbeatIntervalMs = 200;  // [cluster] defaults
inline constexpr int kHeartbeatTimeoutMs = 1000;
inline constexpr int kStandbyDelayMs = 200;
inline constexpr int kLoopTickMs = clusterd::kLoopTickMs;
// ClusterSimOptions::heartbeat_cut: each turn of a clusterd's loop comes up to this much late, as
// on the busy CI machine whose standby won a heartbeat cut (the active site's head start keeps
// standby_delay_ms minus this and the network's 40 ms to spare).
inline constexpr int kBusyLoopLateMs = 100;
inline constexpr int kStartupWaitMs =
    clusterd::StartupWaitMs(kHeartbeatTimeoutMs, kHeartbeatIntervalMs);
inline constexpr int kPeerTimeoutMs = 2000;  // [site] default
inline constexpr int kNodeCallTimeoutMs = kPeerTimeoutMs + clusterd::kNodeCallSlackMs;
inline constexpr int kRetransmitMs = 250;  // ReplicatorOptions defaults
inline constexpr int kStatusIntervalMs = 500;
inline constexpr int kNodeTickMs = 50;
inline constexpr int kTrimIntervalMs = 2000;
inline constexpr int kVoteTimeoutMs = 500;    // node/limits.h kReserveVoteTimeoutMs
inline constexpr int kFailoverProbeMs = 250;  // node/limits.h
inline const std::string kDetermining = "dv";
inline const std::string kManaged = "vm1";

inline std::string SiteName(int site) { return site == 0 ? "a" : "b"; }

using node::IsReplicating;

// What a site keeps durably of one paired volume.
struct Copy {
  node::PairState state;
  node::PairContext context;
  wire::Generation generation;
  wire::ReservationRecord record;  // vm1: holder is who reserved it; dv: the determining record
  std::map<int, uint64_t> blocks;  // vm1: block -> id of the write it holds (absent: never written)
  std::set<int> marked;            // the activity log: blocks written since both copies last agreed
};

// "primary PSUE fenced gen 3/a", and a record "{holder 'a', epoch 2, outdated 'b'}", for traces.
std::string StateText(const Copy& copy);
std::string RecordText(const wire::ReservationRecord& record);
bool SameRecord(const wire::ReservationRecord& x, const wire::ReservationRecord& y);

// The node's control API takes the product's requests (clusterd/executor.h's NodeCall) and
// answers with the volumes as the product's display shows them.
using ControlReply = clusterd::NodeAnswer;

// One site's node: its copies of dv and vm1, the write paths, the pair commands and the
// reservations (tests/sim/cluster_sim_node.cc, cluster_sim_commands.cc, cluster_sim_reserve.cc).
class Node : public Process {
 public:
  Node(World& world, int site);
  int site() const { return site_; }
  std::string site_name() const { return SiteName(site_); }
  std::string peer_name() const { return SiteName(1 - site_); }
  std::map<std::string, Copy> copies;  // durable, by volume name

  void Crash();
  void Start();  // at boot and after a crash
  // A write at this site's mount: Ok (acknowledged) or the code the mount returns.
  void MountWrite(int block, uint64_t write_id, std::function<void(Code)> done);
  // clusterd's and the operator's requests on the control endpoint.
  void Control(const clusterd::NodeCall& request, std::function<void(ControlReply)> reply);
  void OnMessage(const Message& message);

 private:
  struct PairMemory {  // one pair's runtime, lost in a crash
    explicit PairMemory(Process& owner)
        : gate(owner), locks(owner), reserve_mutex(owner), reserve_ask_mutex(owner) {}
    Gate gate;
    BlockLocks locks;
    Mutex reserve_mutex;             // orders reserve and release at the primary
    Mutex reserve_ask_mutex;         // fence reserve: one ask after a link loss
    node::StatusWatch status_watch;  // the timed readings of the peer's status
    bool unfinished_swap_logged = false;
    uint64_t copy_run = 0;                 // bumped to stop the running copy
    std::map<int, int64_t> written_at_ms;  // for the activity log's trim
    std::map<int, int> in_flight;          // writes begun and not finished, by block
  };
  struct ReserveOptions {
    std::string holder;
    bool release = false, preempt = false, force = false;
    std::string outdated;
  };

  PairMemory& memory(const std::string& name) { return *memory_.at(name); }
  wire::VolumeInfo Describe(const std::string& name);
  Copy& copy(const std::string& name) { return copies.at(name); }
  node::WriteRule RuleOf(const Copy& copy) const;
  void Trace(const std::string& line);

  // Talking to the peer (and the witness, through calls_).
  void Ask(Message command, int timeout_ms, std::function<void(std::optional<Message>)> then);
  // A peer command named `command` about `volume` (at `generation`, for those that carry one).
  static Message Command(const std::string& command, const std::string& volume,
                         const wire::Generation& generation = {});
  // An answer that says `status`: its code, and its message unless it is Ok.
  static Message Reply(const Status& status) {
    return {.code = status.code(), .message = status.ok() ? "" : status.message()};
  }
  // Replicator::AskStatus: the peer's answer to "status", none when it did not answer or
  // answered with an error.
  void AskStatus(const std::string& name, int timeout_ms,
                 std::function<void(std::optional<Message>)> then);
  void SendToPeer(const Message& message);
  std::string PeerEndpoint() const { return SiteName(1 - site_) + ".node"; }
  static Message WriteMessage(Message::Kind kind, const wire::Generation& generation, int block,
                              uint64_t write_id);
  void Answer(const Message& request, Message answer) {
    calls_.Answer(request, std::move(answer), PeerEndpoint());
  }
  void Serve(const Message& request);

  // Writes (cluster_sim_node.cc).
  void WriteTracked(int block, uint64_t write_id, std::function<void(Code)> done);
  void WriteReplicated(const Copy& view, int block, uint64_t write_id,
                       std::function<void(Code)> done);
  void WriteForwarded(const Copy& view, int block, uint64_t write_id,
                      std::function<void(Code)> done);
  Code AfterLinkLoss();
  void WriteLocally(int block, uint64_t write_id);
  void BeginWrite(int block);
  void EndWrite(int block);
  void TrimActivityLog(bool keep_hot);
  void ServeReplicaWrite(const Message& request);
  void ServeForwardedWrite(const Message& request);

  // State changes.
  Status Commit(const std::string& name, const node::PairTransition& transition,
                const wire::Generation* generation);
  Status Change(const std::string& name, node::PairEvent event, const node::PairContext* context,
                const wire::Generation* generation);
  void OnLinkLost(const std::string& name, const wire::Generation& seen, Done then);
  void OnPeerNewer(const std::string& name, const wire::Generation& seen,
                   const wire::Generation& peer);
  void FinishSwap(const std::string& name, const wire::Generation& seen,
                  const wire::Generation& peer, const node::PairState& peer_state);
  void StartCopy(const std::string& name);
  void FinishCopy(const std::string& name, const wire::Generation& generation);
  void ServeStatus(const Message& status);
  void Background();

  // Pair commands.
  void Resync(const std::string& name, bool swap, ThenStatus then);
  // `peer_lost`: clusterd knows the peer is gone; the takeover does not ask it.
  void Takeover(const std::string& name, bool peer_lost, ThenStatus then);
  void Fence(const std::string& name, bool fenced, bool winner, ThenStatus then);
  void ServeCommand(const Message& command, std::function<void(Message)> answer);

  // Reservations (cluster_sim_reserve.cc).
  // `determining_held`: the caller holds determining_mutex_ (the real one is recursive).
  void Reserve(const std::string& name, const ReserveOptions& options, bool forwarded,
               ThenStatus then, bool determining_held = false);
  void ReserveDetermining(const ReserveOptions& options, bool forwarded, bool determining_held,
                          ThenStatus then);
  struct Tally {  // a majority reserve's votes
    wire::ReserveVoteRequest request;
    bool determining_held = false;
    node::VoteTally votes;
    uint64_t peer_id = 0;
    std::optional<Message> peer;  // the peer's answer, if it came
    bool waiting_for_peer = false, done = false;
    ThenStatus then;
  };
  void ReserveByMajority(const ReserveOptions& options, bool determining_held, ThenStatus then);
  static void Count(Tally& tally, const Message& answer, const std::string& who);
  std::string PeerWho() const { return "site " + peer_name(); }
  void FinishMajority(const std::shared_ptr<Tally>& tally);
  void WithDeterminingMutex(bool held, std::function<void(Done)> body);
  // Applies the vote rule to this copy of dv's record; "" = granted, else the refusal.
  std::string VoteHere(const wire::ReserveVoteRequest& request);
  void AskPeerToReserve(const std::string& name, const ReserveOptions& options, int timeout_ms,
                        ThenStatus then);
  // Replicator::NumberedVote: the vote on dv's record, numbered by node::NextVoteNumber (the
  // virtual clock for the wall clock).
  wire::ReserveVoteRequest NumberedVote(const ReserveOptions& options);
  void MirrorReservation(const std::string& name, const wire::ReservationRecord& record,
                         ThenStatus then);
  void AskReserveAfterLinkLoss(const wire::Generation& seen, Done then);
  void AskReserveHolding(const wire::Generation& seen, Done then);
  void ServeReservationCommand(const Message& command, std::function<void(Message)> answer);

  const int site_;
  std::map<std::string, std::unique_ptr<PairMemory>> memory_;
  Calls calls_;  // this node's requests, and the answers it gave
  int64_t last_heard_ms_ = 0;
  bool heard_since_start_ = false;
  int64_t next_status_ms_ = 0, next_trim_ms_ = 0;
  // Orders what reads or changes this copy of dv's record: this copy's votes (and, deciding,
  // its mirror), the release check, and a fence-reserve ask from its reserve to its state
  // change. Lost in a crash.
  std::unique_ptr<Mutex> determining_mutex_;
  uint64_t last_vote_number_ = 0;  // NumberedVote's last; lost in a crash
};

// The witness: a third copy of dv's record, answering votes.
class Witness : public Process {
 public:
  explicit Witness(World& world) : Process(world, "w") {}
  wire::ReservationRecord record;  // durable
  void Crash();
  void Start() { MarkUp(); }
  void OnMessage(const Message& message);
};

// One site's clusterd (clusterd/daemon.cc over the real Decide).
class Clusterd : public Process, private clusterd::ExecutorEnv {
 public:
  Clusterd(World& world, int site, int links);
  clusterd::ClusterState state;
  bool applications_running = false;  // durable (clusterd.state); true while on_start ran last
  void Crash();
  void Start();
  void OnHeartbeat(int link, const Message& beat);
  void OperatorUnfence();  // pairctl cluster unfence

 private:
  using Then = std::function<void(ControlReply)>;
  void Tick();
  void Observe(Done then);
  void PollNode(Done then);
  // clusterd::ExecutorEnv: the product's executor runs the actions over these.
  void CallNode(const clusterd::NodeCall& call, Then then) override {
    CallNode(call, then, kNodeCallTimeoutMs);
  }
  void CallNode(const clusterd::NodeCall& call, Then then, int timeout_ms);
  void ScheduleRace(int64_t delay_ms) override;
  void CancelRace() override;
  void RunHook(bool start, Done then) override;
  void Feed(const clusterd::Input& input, Done then);
  void Transitioned(clusterd::Phase before, const clusterd::Input& input,
                    const clusterd::Transition& transition) override;
  void Log(clusterd::LogLevel level, const std::string& line) override;
  int64_t NowMs() override;
  void SendBeats();
  void BeatLoop();
  void Trace(const std::string& line);

  const int site_;
  const int links_;
  bool busy_ = false;
  std::optional<int64_t> race_due_ms_;
  int64_t started_at_ms_ = 0, next_poll_ms_ = 0;
  uint64_t beat_counter_ = 0;
  std::vector<int64_t> last_heard_ms_;     // per link; -1 = never
  std::vector<wire::BeatSeen> last_beat_;  // per link: the last beat taken in
  std::optional<Message> latest_beat_;
  uint64_t beat_incarnation_ = 0;
  bool unfence_asked_ = false;
  std::unique_ptr<clusterd::Executor> executor_;  // made anew at each start
  bool node_silent_ = false;
};

// Directed links (from endpoint, to endpoint) of the network.
using Links = std::vector<std::pair<std::string, std::string>>;

// The clock, the network, the processes and the checks of one run.
class World {
 public:
  explicit World(const ClusterSimOptions& options);
  ClusterSimResult Run();
  ClusterSimResult RunHeartbeatCut();  // ClusterSimOptions::heartbeat_cut
  void StartSites();
  ClusterSimResult Finish();  // the end of a run: its last trace line, time and trace
  // The wait before a clusterd's next turn of its loop: kLoopTickMs, and in the heartbeat-cut
  // scenario up to kBusyLoopLateMs more (a busy machine; the schedules of the other runs do not
  // change).
  int64_t LoopTickMs();

  int64_t now() const { return now_ms_; }
  void After(int64_t delay_ms, Done fn);
  int64_t Uniform(int64_t low, int64_t high);  // inclusive
  bool Chance(double probability);
  uint64_t NextId() { return ++last_id_; }
  // `to` is a process's endpoint: "a.node", "w", "b.hb0", ...
  void Send(const std::string& from, const std::string& to, Message message);
  bool tracing() const { return options_.trace; }
  void Trace(const std::string& line);
  const ClusterLogic& logic() const { return options_.logic; }
  bool has_witness() const { return options_.witness; }
  Node& node(int site) { return *nodes_[site]; }
  Clusterd& clusterd(int site) { return *clusterds_[site]; }
  Witness& witness() { return *witness_; }

  // What the checks need to hear about.
  // Invariant 3: a site holds dv from a reserve that returned OK to it until it asks to release
  // it; a release that goes through for a site that did not hold it while the other did fails.
  void OnDeterminingReserved(int site, bool release, const Status& status);
  void OnDeterminingReleaseAsked(int site);
  // A copy of dv's record refused a late release (VoteOutcome::late).
  void OnLateVote() { ++result_.late_votes; }
  void OnTakeover() { ++result_.takeovers; }
  bool auto_resync() const { return auto_resync_; }
  void Fail(const std::string& what);

 private:
  struct WriteRecord {
    int site;
    int block;
    int64_t started_ms;
    int64_t returned_ms = -1;  // -1: not returned yet
    std::optional<Code> code;  // Ok = acknowledged
  };
  void Deliver(const Delivery& delivery);
  void ScheduleFaults(int64_t until_ms);
  void ScheduleWrites(int site, int64_t until_ms);
  Links DataLinks() const;
  Links HeartbeatLinks() const;
  Links WitnessLinks(int site) const;
  Links LinksToCut(int64_t kind, int site, int64_t direction) const;
  void CutLinks(const Links& links, bool cut);
  void CrashAndRestart(const std::string& what, int site, int64_t down_ms);
  void HealLinks();
  void HealEverything();
  void RunUntil(int64_t until_ms);
  bool LocalWriter(int site);
  void CheckUnorderedWriters();
  bool PairsInPair();
  int ActiveSites();
  std::optional<std::pair<int, bool>> CopyToKeep(const std::string& name, int active);
  bool SafeToUnfence(int site);
  void OperatorUnfence(int site);
  void OperatorRound();
  void CheckAcknowledgedWrites();
  std::string Describe();

  ClusterSimOptions options_;
  std::mt19937_64 random_;
  Network network_;
  int heartbeat_links_ = 1;
  bool auto_resync_ = false;
  int64_t now_ms_ = 0;
  uint64_t last_id_ = 0;
  uint64_t timer_order_ = 0;
  struct Timer {
    int64_t at_ms;
    uint64_t order;
    std::shared_ptr<Done> fn;
    bool operator>(const Timer& other) const {
      return at_ms != other.at_ms ? at_ms > other.at_ms : order > other.order;
    }
  };
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  struct InFlight {
    int deliveries;  // 2 when the network duplicated it
    std::string to;
    Message message;
  };
  std::map<uint64_t, InFlight> in_flight_;  // by the id the network carries
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::unique_ptr<Clusterd>> clusterds_;
  std::unique_ptr<Witness> witness_;
  std::vector<WriteRecord> writes_;
  std::optional<int> holder_;  // invariant 3: the site that holds dv, as the grants said
  int64_t holder_since_ms_ = 0;
  int releases_asked_as_holder_[2] = {0, 0};  // in flight, asked while holding (or nobody held)
  ClusterSimResult result_;
  std::string trace_;
};

}  // namespace pairfs::sim::cluster
