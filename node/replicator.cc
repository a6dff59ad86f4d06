// The replicator's life cycle (start, stop, the workers and the background thread), its pair
// table (the executor of the state machine's actions is pair_actions.cc), and the frames to and
// from the peer: sending, waiting for answers (node/peer_calls.h) and dispatching what arrives.
// The rest of the class lives in one file per concept (node/README.md lists them).
#include "node/replicator.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string_view>

#include <spdlog/spdlog.h>

#include "node/command_rules.h"
#include "node/copy_engine.h"
#include "node/frame_routes.h"
#include "node/limits.h"
#include "node/pair_state.h"
#include "node/peer_status_rules.h"
#include "node/region_set.h"
#include "node/replicator_internal.h"
#include "wire/log_limit.h"

namespace pairfs::node {

using namespace replicator_internal;
using wire::MessageType;

// ---- life cycle -------------------------------------------------------------------------------

Replicator::Replicator(VolumeStore& store, ReplicatorOptions options, PeerTransport* transport,
                       WitnessTransport* witness)
    : store_(store),
      options_(std::move(options)),
      transport_(transport),
      witness_(witness),
      // Request ids start at the clock so that a restarted node never reuses the ids its peer
      // still remembers as answered.
      calls_(std::make_unique<PeerCalls>(
          static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count()),
          options_.clock)),
      confirms_(std::make_unique<PeerCalls>(0, options_.clock)),
      answered_(std::make_unique<AnsweredRequests>()),
      window_(std::make_unique<DataWindow>(options_.window_bytes)),
      async_(std::make_unique<AsyncPairs>(*this)) {}

Replicator::~Replicator() { Stop(); }

Status Replicator::Start() {
  for (const std::shared_ptr<Volume>& volume : store_.List()) {
    if (volume->metadata().role == "simplex") continue;
    Result<std::shared_ptr<Pair>> pair = LoadPair(volume, false);
    if (!pair.ok()) {
      // One damaged volume never takes the others offline; served without its pair it could be
      // written as a simplex, so it is not served at all.
      store_.LeaveOut(volume->name(), "its pair cannot be loaded: " + pair.status().message());
      continue;
    }
    const Pair::View view = pair.value()->Snapshot();
    spdlog::info("pair {}: {} {} with {}:{}, generation {}/{}", volume->name(),
                 RoleName(view.state.role), StatusName(view.state.status), options_.peer_site,
                 view.peer_volume, view.generation.counter, view.generation.site);
  }
  // Async pairs: the primaries' journals replayed into their images before anything is served.
  Status groups = async_->StartGroups();
  if (!groups.ok()) return groups;
  {
    std::lock_guard<std::mutex> lock(work_mutex_);
    stopping_ = false;
  }
  last_heard_ms_.store(NowMs());
  heard_since_start_.store(false);
  const ThreadStarter& threads = ThreadsOrPlain(options_.threads);
  for (int i = 0; i < options_.workers; ++i) {
    workers_.push_back(threads.Start("peer-worker", [this] {
      for (;;) {
        wire::Frame frame;
        {
          std::unique_lock<std::mutex> lock(work_mutex_);
          work_ready_.wait(lock, [&] { return stopping_ || !work_.empty(); });
          if (stopping_) return;
          frame = std::move(work_.front());
          work_.pop_front();
          work_bytes_ -= frame.body.size();
        }
        Serve(std::move(frame));
      }
    }));
  }
  background_ = threads.Start("replicator", [this] { Background(); });
  finisher_ = threads.Start("write-finisher", [this] { RunDeferred(); });
  write_timer_ = threads.Start("write-timer", [this] { RunWriteTimer(); });
  // Interrupted copies resume (node/command_rules.h).
  std::vector<std::shared_ptr<Pair>> resume;
  {
    std::lock_guard<std::mutex> lock(pairs_mutex_);
    for (auto& [name, pair] : pairs_) {
      const Pair::View view = pair->Snapshot();
      // An async pair in PAIR does not copy its marked regions: its journal, replayed and
      // shipped, holds those writes.
      const bool async = view.context.mode == PairMode::kAsync;
      if (CopyResumesAtStart(view.state, async ? 0 : pair->regions->marked_bytes())) {
        resume.push_back(pair);
      }
    }
  }
  for (auto& pair : resume) StartCopy(pair);
  return Status::Ok();
}

void Replicator::Stop() {
  {
    std::unique_lock<std::mutex> lock(work_mutex_);
    if (stopping_ && workers_.empty()) return;
    // The mount's writes left to the peer's answer end first (answered, or expired by the
    // background thread after peer_timeout_ms and finished by a worker): their replies are owed.
    async_writes_done_.wait(lock, [&] { return async_writes_ == 0; });
    stopping_ = true;
  }
  work_ready_.notify_all();
  background_wake_.notify_all();
  deferred_ready_.notify_all();
  timer_wake_.notify_all();
  async_->StopGroups();
  std::vector<std::shared_ptr<Pair>> pairs;
  {
    std::lock_guard<std::mutex> lock(pairs_mutex_);
    for (auto& [name, pair] : pairs_) pairs.push_back(pair);
  }
  for (auto& pair : pairs) {
    StopCopy(*pair, *calls_);  // its chunks' waits end now (node/copy_engine.h)
    std::lock_guard<std::mutex> lock(pair->copy_mutex);
    if (pair->copy_thread.joinable()) pair->copy_thread.join();
  }
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
  if (background_.joinable()) background_.join();
  if (finisher_.joinable()) finisher_.join();
  if (write_timer_.joinable()) write_timer_.join();
}

void Replicator::Defer(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(work_mutex_);
    if (!stopping_ && finisher_.joinable()) {
      deferred_.push_back(std::move(task));
      deferred_ready_.notify_one();
      return;
    }
  }
  task();  // no finisher (not started, or stopped): here
}

void Replicator::RunWriteTimer() {
  // Its own thread, which never blocks but on its tick: a thread that waits for writes in flight
  // (the trim waits for an epoch's writes; a reaction for the pair's) must never hold up their
  // retransmits and deadlines (found by wan_proxy.sh: the background thread's trim waited for a
  // write whose frame the link had dropped, and sent no status meanwhile).
  const TimeSource& clock = ClockOrSteady(options_.clock);
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(work_mutex_);
      const int64_t tick_end = NowMs() + options_.tick_ms;
      while (!stopping_ && NowMs() < tick_end) clock.WaitUntil(timer_wake_, lock, tick_end);
      if (stopping_) return;
    }
    calls_->Expire();  // its completions (nothing: a failure) go to the finisher
  }
}

void Replicator::RunDeferred() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(work_mutex_);
      deferred_ready_.wait(lock, [&] { return stopping_ || !deferred_.empty(); });
      if (deferred_.empty()) return;  // stopping, and nothing is left
      task = std::move(deferred_.front());
      deferred_.pop_front();
    }
    task();
  }
}

std::shared_ptr<Replicator::Pair> Replicator::FindPair(const std::string& name) const {
  std::lock_guard<std::mutex> lock(pairs_mutex_);
  auto it = pairs_.find(name);
  return it == pairs_.end() ? nullptr : it->second;
}

Result<std::shared_ptr<Replicator::Pair>> Replicator::LoadPair(std::shared_ptr<Volume> volume,
                                                               bool fresh) {
  const VolumeMetadata metadata = volume->metadata();
  auto pair = std::make_shared<Pair>();
  if (!ParseRole(metadata.role, &pair->state.role) ||
      !ParseStatus(metadata.status, &pair->state.status)) {
    return Status::Corruption("volume " + metadata.name + " has an unknown pair role or status (" +
                              metadata.role + ", " + metadata.status + ")");
  }
  pair->state.consistent = metadata.consistent;
  pair->state.outdated = metadata.outdated;
  pair->state.fenced = metadata.fenced;
  if (!ParseFence(metadata.fence, &pair->context.fence)) pair->context.fence = FenceLevel::kNever;
  if (!ParseMode(metadata.pair_mode, &pair->context.mode)) pair->context.mode = PairMode::kSync;
  pair->generation = {metadata.generation, metadata.generation_site};
  pair->peer_volume = metadata.peer_volume;
  const uint64_t region_bytes =
      metadata.region_size_bytes ? metadata.region_size_bytes : options_.region_size_bytes;
  const std::string path = volume->SidecarPath("regions");
  if (fresh) {  // a new pair: everything is still to copy
    Status created = RegionSet::Create(path, volume->size_bytes(), region_bytes, true);
    if (!created.ok())
      return Status(created.code(), "cannot write the region set: " + created.message(),
                    created.error_number());
  }
  Result<std::unique_ptr<RegionSet>> regions =
      RegionSet::Open(path, volume->size_bytes(), region_bytes);
  if (!regions.ok()) return regions.status();
  pair->regions = std::move(regions.value());
  pair->last_epoch.assign(pair->regions->region_count(), 0);
  if (!fresh && pair->state.role == PairRole::kPrimary) {
    for (uint64_t region : pair->regions->MarkedRegions()) pair->last_epoch[region] = kPinnedEpoch;
  }
  pair->volume = std::move(volume);
  std::lock_guard<std::mutex> lock(pairs_mutex_);
  pairs_[metadata.name] = pair;
  return pair;
}

void Replicator::DropPair(const std::string& name) {
  std::shared_ptr<Pair> pair;
  {
    std::lock_guard<std::mutex> lock(pairs_mutex_);
    auto it = pairs_.find(name);
    if (it == pairs_.end()) return;
    pair = it->second;
    pairs_.erase(it);
  }
  StopCopy(*pair, *calls_);
  {
    std::lock_guard<std::mutex> lock(pair->copy_mutex);
    if (pair->copy_thread.joinable() && pair->copy_thread.get_id() != std::this_thread::get_id()) {
      pair->copy_thread.join();
    }
  }
  ::unlink(pair->volume->SidecarPath("regions").c_str());
}

// ---- talking to the peer ----------------------------------------------------------------------

Status Replicator::Transmit(std::string frame_bytes) {
  if (transport_ == nullptr) return Status::Unreachable("no peer is configured");
  return transport_->Send(std::move(frame_bytes));
}

Status Replicator::Transmit(const std::shared_ptr<const std::string>& frame_bytes) {
  if (transport_ == nullptr) return Status::Unreachable("no peer is configured");
  return transport_->SendShared(frame_bytes);
}

Status Replicator::SendOneWay(MessageType type, uint64_t request_id, const std::string& body) {
  if (transport_ == nullptr) return Status::Unreachable("no peer is configured");
  Result<std::string> frame = wire::EncodeFrame(type, request_id, options_.site, body);
  if (!frame.ok()) return frame.status();
  return Transmit(std::move(frame.value()));
}

Result<wire::Frame> Replicator::Exchange(MessageType type, const std::string& body, int timeout_ms,
                                         int resend_ms) {
  if (transport_ == nullptr) return Status::Unreachable("no peer is configured");
  const uint64_t id = calls_->Begin();
  Result<std::string> frame = wire::EncodeFrame(type, id, options_.site, body);
  if (!frame.ok()) {
    calls_->Cancel(id);
    return frame.status();
  }
  (void)Transmit(frame.value());
  std::optional<wire::Frame> answer =
      calls_->Wait(id, timeout_ms, resend_ms > 0 ? resend_ms : options_.retransmit_ms,
                   [&] { (void)Transmit(frame.value()); });
  if (!answer) {
    return Status::Unreachable("site " + options_.peer_site + " did not answer within " +
                               std::to_string(timeout_ms) + " ms");
  }
  return std::move(answer.value());
}

Result<wire::PeerAnswerMessage> Replicator::AskBody(MessageType type, const std::string& body,
                                                    int timeout_ms) {
  Result<wire::Frame> frame =
      Exchange(type, body, timeout_ms < 0 ? options_.peer_timeout_ms : timeout_ms);
  if (!frame.ok()) return frame.status();
  wire::PeerAnswerMessage answer;
  if (frame->type != MessageType::kPeerAnswer)
    return Status::Corruption("the peer answered a command with a " +
                              std::string(MessageTypeName(frame->type)));
  Status decoded = wire::DecodePeerMessage(frame->body, &answer);
  if (!decoded.ok()) {
    CountRefusal(frame->type, decoded);
    return Status::Corruption("the peer's answer to a " + std::string(MessageTypeName(type)) +
                              ": " + decoded.message());
  }
  return answer;
}

void Replicator::Answer(const wire::Frame& request, MessageType type, const std::string& body) {
  Result<std::string> frame = wire::EncodeFrame(type, request.request_id, options_.site, body);
  if (!frame.ok()) {
    spdlog::error("cannot encode a {} answer: {}", MessageTypeName(type), frame.status().message());
    return;
  }
  answered_->Store(request.request_id, frame.value());
  (void)Transmit(std::move(frame.value()));
}

void Replicator::OnFrame(wire::Frame frame) {
  last_heard_ms_.store(NowMs());
  heard_since_start_.store(true);
  switch (RouteOf(frame)) {  // node/frame_routes.h
    case FrameRoute::kAnswer: (void)calls_->Deliver(std::move(frame)); return;
    case FrameRoute::kConfirm: (void)confirms_->Deliver(std::move(frame)); return;
    case FrameRoute::kInline: return Serve(std::move(frame));
    case FrameRoute::kWorker: return QueueForWorkers(std::move(frame));
    case FrameRoute::kRefuse: break;
  }
  CountRefusal(frame.type, Status::Unsupported("not a site-to-site type"));
}

void Replicator::QueueForWorkers(wire::Frame frame) {
  std::unique_lock<std::mutex> lock(work_mutex_);
  if (stopping_ && frame.type == MessageType::kFlush) {
    // While this site stops, a flush is still served (here: the workers are gone). The peer may
    // ask for it inside its answer to this site's last ask (the end of a copy: PeerTrim flushes
    // both copies), which Stop waits for; unanswered, Stop waited peer_timeout_ms.
    lock.unlock();
    return Serve(std::move(frame));
  }
  if (stopping_ || work_.size() >= kPeerWorkQueued ||
      work_bytes_ + frame.body.size() > kPeerWorkQueuedBytes) {
    PAIRFS_LOG_REFUSAL(wire::RefusalLog(), "peer: work queue full",
                       "peer: dropped a {} (queue full or stopping)", MessageTypeName(frame.type));
    return;
  }
  work_bytes_ += frame.body.size();
  work_.push_back(std::move(frame));
  work_ready_.notify_one();
}

void Replicator::Serve(wire::Frame frame) {
  if (frame.type != MessageType::kPeerStatus) {
    std::string cached;
    switch (answered_->Take(frame.request_id, &cached)) {
      case AnsweredRequests::Claim::kNew: break;
      case AnsweredRequests::Claim::kInProgress:
        return;  // a retransmit of what a worker is doing now; its answer follows
      case AnsweredRequests::Claim::kDone: (void)Transmit(std::move(cached)); return;
    }
  }
  switch (frame.type) {
    case MessageType::kReplicaWrite: return ServeReplicaWrite(frame);
    case MessageType::kForwardedWrite: return ServeForwardedWrite(frame);
    case MessageType::kFlush: return ServeFlush(frame);
    case MessageType::kPeerStatus: return ServeStatus(frame);
    case MessageType::kJournalBatch: return async_->ServeJournalBatch(frame);
    case MessageType::kPeerCarry:
      return Answer(frame, MessageType::kReply, wire::EncodeBody(ServeCarry(frame)));
    default:  // a pair command (OnFrame queues no other type)
      return Answer(frame, MessageType::kPeerAnswer, wire::EncodeBody(ServePairCommand(frame)));
  }
}

int64_t Replicator::NowMs() const { return ClockOrSteady(options_.clock).NowMs(); }

void Replicator::Background() {
  // The timers and the tick read the replicator's clock (a test may hold it: no tick passes).
  const TimeSource& clock = ClockOrSteady(options_.clock);
  int64_t next_status = NowMs();
  int64_t next_trim = NowMs() + options_.trim_interval_ms;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(work_mutex_);
      // Its own condition variable: a notify_one meant for a worker must never wake this thread.
      const int64_t tick_end = NowMs() + options_.tick_ms;
      while (!stopping_ && NowMs() < tick_end) clock.WaitUntil(background_wake_, lock, tick_end);
      if (stopping_) return;
    }
    std::vector<std::shared_ptr<Pair>> pairs;
    {
      std::lock_guard<std::mutex> lock(pairs_mutex_);
      for (auto& [name, pair] : pairs_) pairs.push_back(pair);
    }
    const int64_t now = NowMs();
    if (now >= next_status) {
      next_status = now + options_.status_interval_ms;
      for (auto& pair : pairs) {
        const Pair::View view = pair->Snapshot();
        wire::VolumeInfo info;
        DescribePair(*pair, view, &info);
        wire::PeerStatusMessage status{view.peer_volume,          view.generation,
                                       RoleName(view.state.role), StatusName(view.state.status),
                                       view.state.consistent,     view.state.outdated,
                                       info.copy_progress};
        (void)SendOneWay(MessageType::kPeerStatus, 0, wire::EncodeBody(status));
      }
      async_->RunRestartResyncs();  // asyncfix: groups whose restart re-journal did not fit
    }
    // A link that carries nothing (not even the statuses) for peer_timeout_ms is lost, also
    // when no write notices it (node/peer_status_rules.h).
    if (transport_ != nullptr && LinkIsSilent(heard_since_start_.load(), last_heard_ms_.load(), now,
                                              options_.peer_timeout_ms)) {
      for (auto& pair : pairs) {
        const Pair::View view = pair->Snapshot();
        // An async pair past its copy keeps PAIR: the journal holds the writes until the link
        // is back (node/async_transfer.cc).
        if (view.context.mode == PairMode::kAsync && view.state.status != PairStatus::kCOPY)
          continue;
        if (IsReplicating(view.state.status)) {
          spdlog::warn("pair {}: nothing heard from site {} for {} ms", pair->volume->name(),
                       options_.peer_site, options_.peer_timeout_ms);
          OnLinkLost(*pair, view.generation);
        }
      }
    }
    if (now >= next_trim) {
      next_trim = now + options_.trim_interval_ms;
      for (auto& pair : pairs) TrimActivityLog(*pair, true);
    }
  }
}

// ---- commands ---------------------------------------------------------------------------------

Result<std::shared_ptr<Replicator::Pair>> Replicator::PairFor(const std::string& name) const {
  if (std::shared_ptr<Pair> pair = FindPair(name)) return pair;
  if (store_.Find(name)) return Status::InvalidArgument("volume " + name + " is not in a pair");
  return Status::NotFound("no volume named " + name);
}

}  // namespace pairfs::node
