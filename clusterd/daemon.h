// The clusterd daemon: the thin program around the pure state machine (cluster_state.h). One
// thread runs the loop: it turns the heartbeat links' news, timers, the node's pair statuses and
// pairctl's requests into events, and carries out the actions through the node's control API
// (reserve, fence, takeover, resync) and the on_start/on_stop hooks. The heartbeat links send
// and receive on their own thread, so a long hook never silences this site.
//
// clusterd keeps no state of its own beyond DATA_DIR/clusterd.state (whether on_start ran and
// on_stop did not since): the reservations live in the node. Not thread-safe (one owner).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "clusterd/choices.h"
#include "clusterd/cluster_state.h"
#include "clusterd/executor.h"
#include "clusterd/takeover_rules.h"
#include "node/config.h"
#include "node/event_log.h"       // ops (issue 15 part 1)
#include "wire/event_messages.h"  // ops (issue 15 part 1)
#include "wire/heartbeat.h"
#include "wire/link.h"
#include "wire/messages.h"

namespace pairfs::clusterd {

// ipc://DATA_DIR/clusterd.sock: where pairctl's cluster commands reach clusterd.
std::string ControlEndpoint(const node::Config& config);

class Daemon : private ExecutorEnv {
 public:
  // Checks the config's [cluster], starts the heartbeat links and binds the control endpoint.
  // InvalidArgument for a config without [cluster]; IoError naming an endpoint that cannot be
  // bound; Busy if another clusterd serves this data dir.
  static Result<std::unique_ptr<Daemon>> Start(const node::Config& config, wire::Context& context);
  ~Daemon() override;

  // Runs the loop until `stop` becomes true.
  void Run(const std::atomic<bool>& stop);

 private:
  using Clock = std::chrono::steady_clock;
  Daemon(const node::Config& config, wire::Context& context);

  void Feed(const Input& input);
  // ExecutorEnv: the node answers at once (each call blocks this one thread).
  void CallNode(const NodeCall& call, std::function<void(NodeAnswer)> answered) override;
  void ScheduleRace(int64_t delay_ms) override;
  void CancelRace() override;
  void RunHook(bool start, Done done) override;
  void Transitioned(Phase before, const Input& input, const Transition& transition) override;
  void Log(LogLevel level, const std::string& line) override;
  int64_t NowMs() override;
  void Observe();  // heartbeats -> peer seen / lost / startup timeout; the race timer
  // PeerLossMs for this site's state and [cluster] timings: Observe's and cluster status's.
  int64_t PeerLossMsHere() const {
    return PeerLossMs(state_, cluster_.timeout_ms, cluster_.interval_ms);
  }
  void PollNode();  // pair statuses -> copies fenced / pairs healthy / suspended
  void ServeControl(int timeout_ms);
  wire::ClusterInfo Describe();
  // ops (issue 15): pairctl cluster takeover --force (clusterd/operator_takeover.cc). Checks
  // TakeoverRefusal, takes the determining volume and the managed volumes over, releases the lost
  // holder's record, feeds kTakeover (the race runs at once, on_start included) and answers with
  // what was done and what may be lost; refused (InvalidArgument) with the reason, or the race's
  // outcome (Conflict) when it did not make this site ACTIVE.
  wire::Reply OperatorTakeover(const wire::Frame& frame);
  // The takeover's release: the determining volume's record, taken over here, is released
  // (forced) when it names another holder or this site outdated; `step` gets the line saying so.
  void ReleaseLostHolder(const std::function<void(const std::string&)>& step);
  Status AskNodeNow(const NodeCall& call, std::string* message);  // operator_takeover.cc
  // What TakeoverRefusal looks at: the heartbeat links, and the node's display asked now.
  TakeoverView ViewForTakeover(bool force);
  // The node's display of every volume (every page), or why it did not answer; PollNode and the
  // operator's takeover ask it (operator_takeover.cc).
  Result<std::vector<wire::VolumeInfo>> DisplayAtNode();

  // The node's control API. Each call waits peer_timeout_ms + kNodeCallSlackMs at most.
  template <class T>
  Status AskNode(const T& request, wire::Reply* reply);
  std::vector<std::string> PairsToMove() const;  // the determining volume, then the managed ones
  void RunHookFor(const char* which);
  void SaveStarted(bool started);

  const node::Config config_;
  const node::ClusterConfig& cluster_;
  wire::Context& context_;
  std::unique_ptr<wire::HeartbeatLinks> heartbeats_;
  std::unique_ptr<wire::Server> control_;
  std::unique_ptr<wire::Client> node_;
  std::unique_ptr<Executor> executor_;
  std::atomic<Phase> announced_{
      Phase::kStarting};  // what the heartbeats say (their thread reads it)
  ClusterState state_;
  std::string reason_ = "starting: listening for the peer";
  uint64_t incarnation_ = 0;
  Clock::time_point started_at_;
  std::optional<Clock::time_point> race_due_;
  Clock::time_point next_poll_;
  std::vector<wire::VolumeInfo> volumes_;  // the node's last answer to display
  bool node_silent_ = false;               // logged once until it answers again
  bool applications_running_ =
      false;  // on_start ran (this or an earlier clusterd) and on_stop not since
  int lock_fd_ = -1;

  // pairctl events (issue 15; clusterd/events.cc):
  // The state changes are recorded in `events_`: the phase at each transition (Transitioned),
  // the rest of Describe() (peer, started, reservation, heartbeat links) compared once a loop
  // tick with what was recorded last (RecordClusterChanges). AnswerEvents serves kEvents.
  void RecordClusterChanges();
  wire::EventsReply AnswerEvents(const wire::Frame& frame);
  node::EventLog events_{"clusterd", config_.site.name};
  wire::EventFields recorded_fields_;  // Describe()'s fields as recorded last, but the state
};

}  // namespace pairfs::clusterd
