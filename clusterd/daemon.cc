#include "clusterd/daemon.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <random>

#include <spdlog/spdlog.h>

#include "clusterd/choices.h"
#include "clusterd/hooks.h"
#include "clusterd/limits.h"
#include "node/atomic_file.h"
#include "node/limits.h"
#include "wire/limits.h"

namespace pairfs::clusterd {
std::string ControlEndpoint(const node::Config& config) {
  return "ipc://" + config.site.data_dir + "/" + node::kClusterdSocketName;
}

Daemon::Daemon(const node::Config& config, wire::Context& context)
    : config_(config), cluster_(config_.cluster), context_(context) {}

Daemon::~Daemon() {
  heartbeats_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Result<std::unique_ptr<Daemon>> Daemon::Start(const node::Config& config, wire::Context& context) {
  if (!config.cluster.present)
    return Status::InvalidArgument(config.path + ": no [cluster] table: nothing to run");
  std::unique_ptr<Daemon> daemon(new Daemon(config, context));
  const std::string lock_path = config.site.data_dir + "/clusterd.lock";
  daemon->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (daemon->lock_fd_ < 0) return Status::IoError("cannot open " + lock_path, errno);
  if (::flock(daemon->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return Status::Busy("another clusterd serves " + config.site.data_dir);
  }
  Result<std::unique_ptr<wire::Server>> control =
      wire::Server::Bind(context, ControlEndpoint(config));
  if (!control.ok()) return control.status();
  daemon->control_ = std::move(control.value());
  Result<std::unique_ptr<wire::Client>> node =
      wire::Client::Connect(context, config.site.control, config.site.name);
  if (!node.ok()) return node.status();
  daemon->node_ = std::move(node.value());
  ExecutorConfig executing{config.site.name,
                           config.peer.name,
                           config.cluster.determining_volume,
                           config.cluster.volumes,
                           config.cluster.standby_delay_ms,
                           config.cluster.timeout_ms,
                           config.cluster.auto_resync};
  daemon->executor_ =
      std::make_unique<Executor>(std::move(executing), static_cast<ExecutorEnv&>(*daemon),
                                 daemon->state_, daemon->applications_running_);

  std::random_device random;
  daemon->incarnation_ =
      (static_cast<uint64_t>(random()) << 32) ^ random() ^ static_cast<uint64_t>(::getpid());
  std::vector<wire::HeartbeatEndpoints> links;
  for (size_t i = 0; i < config.cluster.heartbeat_listen.size(); ++i) {
    links.push_back({config.cluster.heartbeat_listen[i], config.cluster.heartbeat_peer[i]});
  }
  Daemon* raw = daemon.get();
  Result<std::unique_ptr<wire::HeartbeatLinks>> heartbeats = wire::HeartbeatLinks::Start(
      context, links, config.site.name, config.peer.name, daemon->incarnation_,
      static_cast<int>(config.cluster.interval_ms),
      [raw] { return std::string(PhaseName(raw->announced_.load())); });
  if (!heartbeats.ok()) return heartbeats.status();
  daemon->heartbeats_ = std::move(heartbeats.value());

  Result<std::string> saved = node::ReadWholeFile(config.site.data_dir + "/clusterd.state", 4096);
  daemon->applications_running_ = saved.ok() && saved.value() == "started\n";
  daemon->state_.resuming = daemon->applications_running_;
  daemon->started_at_ = Clock::now();
  daemon->next_poll_ = daemon->started_at_;
  spdlog::info(
      "clusterd {}: incarnation {:016x}, {} heartbeat link(s) {}, peer {}, determining volume {}{}",
      config.site.name, daemon->incarnation_, links.size(),
      context.curve_keys() ? "authenticated with CURVE keys"
                           : "NOT authenticated (no [security] keys)",
      config.peer.name, config.cluster.determining_volume,
      daemon->applications_running_ ? "; on_start ran before this restart" : "");
  return daemon;
}

void Daemon::Run(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    ServeControl(kLoopTickMs);
    Observe();
    if (Clock::now() >= next_poll_) {
      next_poll_ = Clock::now() + std::chrono::milliseconds(cluster_.interval_ms);
      PollNode();
    }
    RecordClusterChanges();  // ops (issue 15 part 1): pairctl events
  }
  spdlog::info("clusterd {}: stopping in {} (the node keeps every reservation)", config_.site.name,
               PhaseName(state_.phase));
}

void Daemon::Feed(const Input& input) {
  executor_->Feed(input, [] {});
}

void Daemon::Transitioned(Phase before, const Input& input, const Transition& transition) {
  if (!transition.why.empty()) {
    reason_ = transition.why;
    const auto level = state_.phase == Phase::kFenced ? spdlog::level::warn : spdlog::level::info;
    spdlog::log(level, "clusterd {}: {} -> {} on {}: {}", config_.site.name, PhaseName(before),
                PhaseName(state_.phase), EventName(input.event), transition.why);
  }
  if (state_.phase != before) {
    events_.Record("cluster", "", "state", PhaseName(before), PhaseName(state_.phase));  // ops
    announced_.store(state_.phase);
    heartbeats_->BeatNow();
  }
}

void Daemon::Observe() {
  const auto now = Clock::now();
  const std::vector<wire::HeartbeatSnapshot> links = heartbeats_->Snapshot();
  HeartbeatView view;
  const int64_t loss_ms = PeerLossMsHere();
  view.peer_heard =
      std::any_of(links.begin(), links.end(), [&](const wire::HeartbeatSnapshot& link) {
        return LinkHearsPeer(link.heard, link.last_heard_ms_ago, loss_ms);
      });
  if (view.peer_heard) {
    const std::optional<wire::HeartbeatMessage> latest = heartbeats_->Latest();
    if (latest) (void)ParsePhase(latest->state, &view.peer_phase);
    view.peer_incarnation = latest ? latest->incarnation : 0;
  }
  view.startup_wait_over = now - started_at_ >= std::chrono::milliseconds(StartupWaitMs(
                                                    cluster_.timeout_ms, cluster_.interval_ms));
  view.links = links.size();
  executor_->Heard(view, [] {});
  if (race_due_ && Clock::now() >= *race_due_) {
    race_due_.reset();
    Feed({Event::kRaceTimer});
  }
}

void Daemon::PollNode() {
  Result<std::vector<wire::VolumeInfo>> volumes = DisplayAtNode();
  if (!volumes.ok()) {
    if (!node_silent_) {
      spdlog::warn("clusterd {}: the node at {} does not answer: {}", config_.site.name,
                   config_.site.control, volumes.status().message());
      node_silent_ = true;
    }
    return executor_->Polled(false, {}, [] {});
  }
  if (node_silent_) spdlog::info("clusterd {}: the node answers again", config_.site.name);
  node_silent_ = false;
  volumes_ = std::move(volumes.value());
  executor_->Polled(true, volumes_, [] {});
}

template <class T>
Status Daemon::AskNode(const T& request, wire::Reply* reply) {
  const int timeout_ms = static_cast<int>(config_.site.peer_timeout_ms) + kNodeCallSlackMs;
  Result<wire::Reply> answer = node_->Call(request, timeout_ms);
  if (!answer.ok()) {
    spdlog::warn("clusterd {}: the node at {} did not answer a {}: {}", config_.site.name,
                 config_.site.control, wire::MessageTypeName(T::kType), answer.status().message());
    return answer.status();
  }
  *reply = answer.value();
  return answer->ToStatus();
}

std::vector<std::string> Daemon::PairsToMove() const {
  std::vector<std::string> names = {cluster_.determining_volume};
  names.insert(names.end(), cluster_.volumes.begin(), cluster_.volumes.end());
  return names;
}

void Daemon::CallNode(const NodeCall& call, std::function<void(NodeAnswer)> answered) {
  wire::Reply reply;
  const Status status =
      std::visit([&](const auto& request) { return AskNode(request, &reply); }, call);
  answered({status, std::move(reply.volumes), std::move(reply.message)});
}

void Daemon::ScheduleRace(int64_t delay_ms) {
  race_due_ = Clock::now() + std::chrono::milliseconds(delay_ms);
}

void Daemon::CancelRace() { race_due_.reset(); }

void Daemon::RunHook(bool start, Done done) {
  RunHookFor(start ? "on_start" : "on_stop");
  done();
}

int64_t Daemon::NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

void Daemon::Log(LogLevel level, const std::string& line) {
  const auto spd = level == LogLevel::kError  ? spdlog::level::err
                   : level == LogLevel::kWarn ? spdlog::level::warn
                                              : spdlog::level::info;
  spdlog::log(spd, "clusterd {}: {}", config_.site.name, line);
}

void Daemon::RunHookFor(const char* which) {
  const bool start = std::string(which) == "on_start";
  const std::string& command = start ? cluster_.on_start : cluster_.on_stop;
  std::string volumes;
  for (const std::string& name : cluster_.volumes) volumes += (volumes.empty() ? "" : " ") + name;
  const std::vector<std::string> environment = {
      "PAIRFS_SITE=" + config_.site.name,
      "PAIRFS_PEER=" + config_.peer.name,
      std::string("PAIRFS_EVENT=") + (start ? "start" : "stop"),
      "PAIRFS_VOLUMES=" + volumes,
      "PAIRFS_CONFIG=" + config_.path,
      std::string("PAIRFS_REASON=") + reason_};
  (void)clusterd::RunHook(which, command, environment, cluster_.hook_timeout_ms);
  applications_running_ = start;
  SaveStarted(start);
}

void Daemon::SaveStarted(bool started) {
  Status saved = node::ReplaceFileAtomically(config_.site.data_dir + "/clusterd.state",
                                             started ? "started\n" : "stopped\n");
  if (!saved.ok())
    spdlog::error("clusterd {}: cannot save clusterd.state: {}", config_.site.name,
                  saved.message());
}

void Daemon::ServeControl(int timeout_ms) {
  for (int served = 0; served < kControlRequestsPerTick; ++served) {
    Result<std::optional<wire::Incoming>> incoming =
        control_->Receive(served == 0 ? timeout_ms : 0);
    if (!incoming.ok()) {
      spdlog::warn("clusterd {}: refused a control message: {}", config_.site.name,
                   incoming.status().message());
      continue;
    }
    if (!incoming.value()) return;
    const wire::Incoming& request = *incoming.value();
    if (request.frame.type == wire::MessageType::kEvents) {  // ops (issue 15 part 1)
      (void)control_->Answer(request, config_.site.name, AnswerEvents(request.frame));
      continue;
    }
    wire::Reply reply;
    switch (request.frame.type) {
      case wire::MessageType::kClusterStatus: reply.cluster = Describe(); break;
      case wire::MessageType::kClusterUnfence:
        if (state_.phase != Phase::kFenced) {
          reply = wire::Reply::FromStatus(
              Status::InvalidArgument(std::string("site ") + config_.site.name +
                                      " is not FENCED (it is " + PhaseName(state_.phase) + ")"));
          break;
        }
        spdlog::warn("clusterd {}: the operator lifts FENCED", config_.site.name);
        Feed({Event::kUnfence});
        reply.cluster = Describe();
        break;
      case wire::MessageType::kClusterTakeover: reply = OperatorTakeover(request.frame); break;
      default:
        reply = wire::Reply::FromStatus(Status::Unsupported(
            std::string("message type ") + wire::MessageTypeName(request.frame.type) +
            " is not served by clusterd"));
    }
    (void)control_->Answer(request, config_.site.name, reply);
  }
}

wire::ClusterInfo Daemon::Describe() {
  wire::ClusterInfo info;
  info.site = config_.site.name;
  info.state = PhaseName(state_.phase);
  info.reason = reason_;
  info.peer_site = config_.peer.name;
  info.peer_alive = state_.peer_alive;
  info.peer_state = state_.peer_alive ? PhaseName(state_.peer_phase) : "";
  info.peer_incarnation = executor_->peer_incarnation();
  info.started = applications_running_;
  info.determining_volume = cluster_.determining_volume;
  info.witness = config_.witness.present ? config_.witness.endpoint : "";
  info.volumes = cluster_.volumes;
  const std::vector<wire::HeartbeatSnapshot> links = heartbeats_->Snapshot();
  for (size_t i = 0; i < links.size(); ++i) {
    wire::LinkInfo link;
    link.listen = cluster_.heartbeat_listen[i];
    link.peer = cluster_.heartbeat_peer[i];
    link.last_heard_ms_ago = links[i].last_heard_ms_ago;
    link.authenticated = links[i].authenticated;
    link.refused = links[i].dropped;
    link.alive = LinkHearsPeer(links[i].heard, links[i].last_heard_ms_ago, PeerLossMsHere());
    info.links.push_back(link);
  }
  for (const wire::VolumeInfo& volume : volumes_) {
    if (volume.name == cluster_.determining_volume) {
      info.reservation = {volume.reserve_epoch, volume.reserved_by, volume.reserve_outdated};
    }
  }
  return info;
}

}  // namespace pairfs::clusterd
