// The one runner of the cluster state machine (cluster_state.h): it turns what the heartbeats
// and the node's answers say into events (through choices.h), feeds each to Decide, carries out
// the actions (what each asks of the node, in which order, and what its answers
// mean, through choices.h) and feeds the events those answers make. It reaches
// the world through an ExecutorEnv: the daemon's (daemon.cc) calls the node over its control
// socket and answers at once, on its one thread; the cluster simulation's
// (tests/sim/cluster_sim_clusterd.cc) answers after simulated time. Every step continues in a
// callback, so the same code runs in both.
//
// Not thread-safe: one owner, on one thread. The executor reads the owner's ClusterState (the
// peer's liveness and phase, this site's phase) as it is when a step runs, and writes only
// `copies_fenced` (an unfence the node refused).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "clusterd/choices.h"
#include "clusterd/cluster_state.h"
#include "wire/messages.h"
#include "wire/status.h"

namespace pairfs::clusterd {

using Done = std::function<void()>;

// A request to the node's control API.
using NodeCall = std::variant<wire::DisplayRequest, wire::ReserveRequest, wire::ReleaseRequest,
                              wire::ResyncRequest, wire::TakeoverRequest, wire::FenceRequest>;

// The node's answer: its status (Unreachable when it did not answer in time), the volumes it
// described, and its message on success.
struct NodeAnswer {
  Status status;
  std::vector<wire::VolumeInfo> volumes;
  std::string message;
};

enum class LogLevel : uint8_t { kInfo, kWarn, kError };

// What the executor needs around it. Each method calls its callback once, when done (a
// simulation drops the callbacks of a process that crashed).
class ExecutorEnv {
 public:
  virtual ~ExecutorEnv() = default;
  virtual void CallNode(const NodeCall& call, std::function<void(NodeAnswer)> answered) = 0;
  // The race timer: due after `delay_ms` (replacing one scheduled), or cancelled.
  virtual void ScheduleRace(int64_t delay_ms) = 0;
  virtual void CancelRace() = 0;
  // Runs on_start (`start`) or on_stop and records that it ran (clusterd.state).
  virtual void RunHook(bool start, Done done) = 0;
  // The state machine took `transition` on `input` in phase `before` (the state is already
  // the next one): log its reason; when the phase changed, the heartbeats say it at once.
  virtual void Transitioned(Phase before, const Input& input, const Transition& transition) = 0;
  // One line for the log, without the "clusterd SITE: " prefix.
  virtual void Log(LogLevel level, const std::string& line) = 0;
  // A monotonic clock in milliseconds (the retries of Polled are paced by it).
  virtual int64_t NowMs() = 0;
};

struct ExecutorConfig {
  std::string site;
  std::string peer;
  std::string determining_volume;
  std::vector<std::string> volumes;  // the managed volumes
  int64_t standby_delay_ms = 0;
  int64_t timeout_ms = 0;
  bool auto_resync = false;
};

using DecideFunction = Transition (*)(const ClusterState&, const Input&);

class Executor {
 public:
  // `state` and `applications_running` are the owner's, read when a step runs; both outlive
  // the executor. `decide` is Decide (a simulation's mutation test passes a broken one).
  Executor(ExecutorConfig config, ExecutorEnv& env, ClusterState& state,
           const bool& applications_running, DecideFunction decide = &Decide);

  // Decides `input`, carries out the transition's actions (and the events their answers make),
  // then, if this clusterd restarted with its applications running and settled without winning,
  // runs on_stop; then calls `done`.
  void Feed(const Input& input, Done done);

  // Carries out `actions` in order, then calls `done`.
  void Execute(std::vector<Action> actions, Done done);

  // Daemon::Observe: feeds the event the heartbeats make (HeartbeatInput; the view's
  // known_incarnation is the executor's), if any, then calls `done`.
  void Heard(HeartbeatView view, Done done);
  // Daemon::PollNode, once the node answered (`answered`, with `volumes`) or did not: feeds the
  // events of JudgePoll, each paced retry (kStillFenced, kPairsSuspended) at most once per
  // timeout_ms and only when due as it comes; then calls `done`.
  void Polled(bool answered, std::vector<wire::VolumeInfo> volumes, Done done);
  // The peer clusterd's incarnation the executor fed last (0: none yet).
  uint64_t peer_incarnation() const { return peer_incarnation_; }

 private:
  void FeedEach(std::shared_ptr<std::vector<Event>> events, size_t next, Done done);
  void ExecuteFrom(std::shared_ptr<std::vector<Action>> actions, size_t next, Done done);
  void ExecuteOne(Action action, Done done);
  void ReserveDetermining(Done done);
  void ReserveManaged(size_t next, Done done);
  void ResyncSuspended(size_t next, Done done);
  void SwapPairs(size_t next, Done done);
  void FenceManaged(bool fence, size_t next, Done done);
  void ReleaseDetermining(Done done);
  // The determining volume, then the managed ones.
  std::vector<std::string> PairsToMove() const;
  // Asks the node for `name` and calls `then` with it, or with nullopt when it did not say.
  void VolumeAtNode(const std::string& name,
                    std::function<void(std::optional<wire::VolumeInfo>)> then);

  const ExecutorConfig config_;
  ExecutorEnv& env_;
  ClusterState& state_;
  const bool& applications_running_;
  const DecideFunction decide_;
  bool peer_storage_lost_ = false;  // this race found the peer's node unreachable
  uint64_t peer_incarnation_ = 0;
  int64_t last_node_answer_ms_;  // since the executor was made, at first
  int64_t next_unfence_ms_;      // ACTIVE with copies still fenced: the next try
  int64_t next_auto_resync_ms_;
};

}  // namespace pairfs::clusterd
