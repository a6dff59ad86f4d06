#include "node/replicator.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <shared_mutex>

#include <spdlog/spdlog.h>

#include "node/fault_point.h"
#include "node/limits.h"
#include "node/names.h"
#include "node/pair_state.h"
#include "node/region_set.h"
#include "node/replicator_internal.h"
#include "wire/log_limit.h"

namespace pairfs::node {
namespace {

using namespace replicator_internal;
using wire::MessageType;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

bool AllZero(const char* data, size_t length) {
  static const char kZeros[4096] = {};
  for (size_t done = 0; done < length; done += sizeof kZeros) {
    const size_t step = std::min(sizeof kZeros, length - done);
    if (std::memcmp(data + done, kZeros, step) != 0) return false;
  }
  return true;
}

// A grant, ack or flush answer from the peer, decoded and checked; false if it is neither.
bool DecodeWriteReply(std::string_view body, wire::WriteReplyMessage* reply) {
  return wire::DecodeBody(body, reply).ok() && wire::CheckWriteReply(*reply).ok();
}

Status DecodeFlush(std::string_view body, wire::FlushMessage* message) {
  Status decoded = wire::DecodeBody(body, message);
  if (!decoded.ok()) return decoded;
  return wire::CheckFlush(*message);
}

}  // namespace

namespace {

// A write in the activity log: its regions are durably marked and it is counted in flight.
class Activity {
 public:
  Activity() = default;
  Activity(Activity&& other) noexcept : pair_(other.pair_), epoch_(other.epoch_) { other.pair_ = nullptr; }
  Activity& operator=(Activity&&) = delete;
  ~Activity() {
    if (pair_ == nullptr) return;
    std::lock_guard<std::mutex> lock(pair_->epoch_mutex);
    if (--pair_->in_flight[epoch_] == 0) pair_->in_flight.erase(epoch_);
  }

  // Marks [offset, offset+length) before a write; `extents` widens the marks to whole activity
  // extents (a replicated write: see kActivityExtentBytes), else only the regions written.
  static Result<Activity> Begin(Replicator::Pair& pair, uint64_t offset, uint64_t length, bool extents) {
    if (extents) {
      const uint64_t extent = std::max(kActivityExtentBytes, pair.regions->region_bytes());
      const uint64_t end = offset + length;
      offset -= offset % extent;
      length = std::min(pair.volume->size_bytes(), end + (extent - end % extent) % extent) - offset;
    }
    std::shared_lock<std::shared_mutex> marking(pair.al_mutex);
    Activity activity;
    {
      std::lock_guard<std::mutex> lock(pair.epoch_mutex);
      activity.pair_ = &pair;
      activity.epoch_ = pair.epoch;
      ++pair.in_flight[pair.epoch];
      const uint64_t region_bytes = pair.regions->region_bytes();
      const uint64_t last = std::min<uint64_t>((offset + length - 1) / region_bytes, pair.last_epoch.size() - 1);
      for (uint64_t region = offset / region_bytes; region <= last; ++region) {
        if (pair.last_epoch[region] != kPinnedEpoch) pair.last_epoch[region] = pair.epoch;
      }
    }
    Status marked = pair.regions->MarkBeforeWrite(offset, length);
    if (!marked.ok()) {
      // Refused before anything is written: a write the dirty bitmap cannot cover never happens.
      return Status(marked.code(),
                    "volume " + pair.volume->name() + ": the write is refused, its region cannot be marked in the "
                    "dirty bitmap: " + marked.message(),
                    marked.error_number());
    }
    return activity;
  }

 private:
  Replicator::Pair* pair_ = nullptr;
  uint32_t epoch_ = 0;
};

}  // namespace

// ---- waiting for answers ----------------------------------------------------------------------

// Requests from the peer already served (or being served), by request id, with the answer sent,
// so that a retransmit is answered again and never applied twice.
class Replicator::Answered {
 public:
  enum class Claim { kNew, kInProgress, kDone };
  Claim Take(uint64_t id, std::string* answer) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = answers_.find(id);
    if (it == answers_.end()) {
      answers_.emplace(id, std::string());
      order_.push_back(id);
      while (order_.size() > kAnsweredRequestsKept || bytes_ > kAnsweredBytesKept) Forget();
      return Claim::kNew;
    }
    if (it->second.empty()) return Claim::kInProgress;
    *answer = it->second;
    return Claim::kDone;
  }
  void Store(uint64_t id, const std::string& answer) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = answers_.find(id);
    if (it == answers_.end()) return;
    bytes_ += answer.size() - it->second.size();
    it->second = answer;
    while (bytes_ > kAnsweredBytesKept && order_.size() > 1) Forget();
  }

 private:
  void Forget() {  // the oldest answer; caller holds mutex_
    auto it = answers_.find(order_.front());
    if (it != answers_.end()) {
      bytes_ -= it->second.size();
      answers_.erase(it);
    }
    order_.pop_front();
  }
  std::mutex mutex_;
  std::map<uint64_t, std::string> answers_;
  std::deque<uint64_t> order_;
  size_t bytes_ = 0;  // of the answers kept
};

// Bytes of write data in flight to the peer.
class Replicator::Window {
 public:
  explicit Window(size_t capacity) : capacity_(capacity) {}
  void Acquire(size_t bytes) {
    std::unique_lock<std::mutex> lock(mutex_);
    released_.wait(lock, [&] { return used_ == 0 || used_ + bytes <= capacity_; });
    used_ += bytes;
  }
  void Release(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    used_ -= bytes;
    released_.notify_all();
  }

 private:
  const size_t capacity_;
  std::mutex mutex_;
  std::condition_variable released_;
  size_t used_ = 0;
};

namespace {

class WindowShare {
 public:
  WindowShare(std::function<void(size_t)> release, size_t bytes) : release_(std::move(release)), bytes_(bytes) {}
  ~WindowShare() { release_(bytes_); }

 private:
  std::function<void(size_t)> release_;
  size_t bytes_;
};

}  // namespace

// ---- life cycle -------------------------------------------------------------------------------

Replicator::Replicator(VolumeStore& store, ReplicatorOptions options, PeerTransport* transport,
                       WitnessTransport* witness)
    : store_(store),
      options_(std::move(options)),
      transport_(transport),
      witness_(witness),
      // Request ids start at the clock so that a restarted node never reuses the ids its peer
      // still remembers as answered.
      calls_(std::make_unique<Calls>(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count()))),
      confirms_(std::make_unique<Calls>(0)),
      answered_(std::make_unique<Answered>()),
      window_(std::make_unique<Window>(options_.window_bytes)) {}

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
    spdlog::info("pair {}: {} {} with {}:{}, generation {}/{}", volume->name(), RoleName(view.state.role),
                 StatusName(view.state.status), options_.peer_site, view.peer_volume, view.generation.counter,
                 view.generation.site);
  }
  {
    std::lock_guard<std::mutex> lock(work_mutex_);
    stopping_ = false;
  }
  last_heard_ms_.store(NowMs());
  heard_since_start_.store(false);
  for (int i = 0; i < options_.workers; ++i) {
    workers_.emplace_back([this] {
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
    });
  }
  background_ = std::thread([this] { Background(); });
  // Interrupted copies resume (a dead peer sends them to PSUE after peer_timeout_ms).
  std::vector<std::shared_ptr<Pair>> resume;
  {
    std::lock_guard<std::mutex> lock(pairs_mutex_);
    for (auto& [name, pair] : pairs_) {
      const PairState state = pair->Snapshot().state;
      if (state.role != PairRole::kPrimary) continue;
      // COPY resumes; PAIR with marked regions (the node stopped or crashed with writes in its
      // activity log) copies those regions, since the secondary may lack them.
      if (state.status == PairStatus::kCOPY ||
          (state.status == PairStatus::kPAIR && pair->regions->marked_bytes() > 0)) {
        resume.push_back(pair);
      }
    }
  }
  for (auto& pair : resume) StartCopy(pair);
  return Status::Ok();
}

void Replicator::Stop() {
  {
    std::lock_guard<std::mutex> lock(work_mutex_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
  }
  work_ready_.notify_all();
  background_wake_.notify_all();
  std::vector<std::shared_ptr<Pair>> pairs;
  {
    std::lock_guard<std::mutex> lock(pairs_mutex_);
    for (auto& [name, pair] : pairs_) pairs.push_back(pair);
  }
  for (auto& pair : pairs) {
    pair->stop_copy.store(true);
    std::lock_guard<std::mutex> lock(pair->copy_mutex);
    if (pair->copy_thread.joinable()) pair->copy_thread.join();
  }
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
  if (background_.joinable()) background_.join();
}

std::shared_ptr<Replicator::Pair> Replicator::FindPair(const std::string& name) const {
  std::lock_guard<std::mutex> lock(pairs_mutex_);
  auto it = pairs_.find(name);
  return it == pairs_.end() ? nullptr : it->second;
}

Result<std::shared_ptr<Replicator::Pair>> Replicator::LoadPair(std::shared_ptr<Volume> volume, bool fresh) {
  const VolumeMetadata metadata = volume->metadata();
  auto pair = std::make_shared<Pair>();
  if (!ParseRole(metadata.role, &pair->state.role) || !ParseStatus(metadata.status, &pair->state.status)) {
    return Status::Corruption("volume " + metadata.name + " has an unknown pair role or status (" + metadata.role +
                              ", " + metadata.status + ")");
  }
  pair->state.consistent = metadata.consistent;
  pair->state.outdated = metadata.outdated;
  pair->state.fenced = metadata.fenced;
  if (!ParseFence(metadata.fence, &pair->context.fence)) pair->context.fence = FenceLevel::kNever;
  if (!ParseMode(metadata.pair_mode, &pair->context.mode)) pair->context.mode = PairMode::kSync;
  pair->generation = {metadata.generation, metadata.generation_site};
  pair->peer_volume = metadata.peer_volume;
  const uint64_t region_bytes = metadata.region_size_bytes ? metadata.region_size_bytes : options_.region_size_bytes;
  const std::string path = volume->SidecarPath("regions");
  if (fresh) {  // a new pair: everything is still to copy
    Status created = RegionSet::Create(path, volume->size_bytes(), region_bytes, true);
    if (!created.ok()) return Status(created.code(), "cannot write the region set: " + created.message(), created.error_number());
  }
  Result<std::unique_ptr<RegionSet>> regions = RegionSet::Open(path, volume->size_bytes(), region_bytes);
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
  pair->stop_copy.store(true);
  {
    std::lock_guard<std::mutex> lock(pair->copy_mutex);
    if (pair->copy_thread.joinable() && pair->copy_thread.get_id() != std::this_thread::get_id()) {
      pair->copy_thread.join();
    }
  }
  ::unlink(pair->volume->SidecarPath("regions").c_str());
}

// Saves `transition` (caller holds pair.mutex). `generation` is the one a bump or an adoption
// takes; a bump without one counts up from this side's own.
Status Replicator::Commit(Pair& pair, const PairTransition& transition, const wire::Generation* generation) {
  wire::Generation next_generation = pair.generation;
  bool clear = false;
  for (PairAction action : transition.actions) {
    switch (action) {
      case PairAction::kBumpGeneration:
        next_generation = generation ? *generation : wire::Generation{pair.generation.counter + 1, options_.site};
        break;
      case PairAction::kAdoptPeerGeneration:
        if (generation) next_generation = *generation;
        break;
      case PairAction::kStopCopy:
        pair.stop_copy.store(true);
        break;
      case PairAction::kClearPairFields:
        clear = true;
        break;
      default:  // marks are always kept; copies start after the save; the rest is the caller's
        break;
    }
  }
  const PairState& next = transition.next;
  Status saved = pair.volume->UpdateMetadata([&](VolumeMetadata& metadata) {
    metadata.role = RoleName(next.role);
    metadata.status = StatusName(next.status);
    metadata.consistent = next.consistent;
    metadata.outdated = next.outdated;
    metadata.fenced = next.fenced;
    metadata.generation = next_generation.counter;
    metadata.generation_site = next_generation.site;
    if (clear) {
      metadata.pair_mode.clear();
      metadata.peer_site.clear();
      metadata.peer_volume.clear();
      metadata.fence.clear();
      metadata.group.clear();
      metadata.region_size_bytes = 0;
      metadata.consistent = true;
      metadata.outdated = false;
      metadata.fenced = false;
    }
  });
  if (!saved.ok()) {
    spdlog::error("pair {}: cannot save {} -> {}: {}", pair.volume->name(), StatusName(pair.state.status),
                  StatusName(next.status), saved.message());
    // A suspension stops replicating even when it cannot be saved (the disk is full): held in
    // memory, at the same generation (the peer learns it from the status and suspends too). A
    // restart before it is saved finds the old status with the regions marked, and copies them.
    const bool suspends = IsReplicating(pair.state.status) && next.status == PairStatus::kPSUE &&
                          std::find(transition.actions.begin(), transition.actions.end(),
                                    PairAction::kMarkPeerOutdated) == transition.actions.end();
    if (suspends) {
      spdlog::error("pair {}: {} held in memory only until its metadata can be saved", pair.volume->name(),
                    StatusName(next.status));
      pair.state = next;
    }
    return saved;
  }
  if (!(pair.state == next) || !(pair.generation == next_generation)) {
    spdlog::info("pair {}: {} {} -> {} {}{}{}, generation {}/{}", pair.volume->name(), RoleName(pair.state.role),
                 StatusName(pair.state.status), RoleName(next.role), StatusName(next.status),
                 next.outdated ? ", outdated" : "", next.consistent ? "" : ", inconsistent", next_generation.counter,
                 next_generation.site);
  }
  pair.state = next;
  pair.generation = next_generation;
  return Status::Ok();
}

Status Replicator::Change(Pair& pair, PairEvent event, const PairContext* context,
                          const wire::Generation* generation) {
  std::lock_guard<std::mutex> lock(pair.mutex);
  Result<PairTransition> transition = Transit(pair.state, event, context ? *context : pair.context);
  if (!transition.ok()) return transition.status();
  return Commit(pair, transition.value(), generation);
}

// ---- talking to the peer ----------------------------------------------------------------------

Status Replicator::Transmit(std::string frame_bytes) {
  if (transport_ == nullptr) return Status::Unreachable("no peer is configured");
  return transport_->Send(std::move(frame_bytes));
}

Status Replicator::SendOneWay(MessageType type, uint64_t request_id, const std::string& body) {
  if (transport_ == nullptr) return Status::Unreachable("no peer is configured");
  Result<std::string> frame = wire::EncodeFrame(type, request_id, options_.site, body);
  if (!frame.ok()) return frame.status();
  return Transmit(std::move(frame.value()));
}

Result<wire::Frame> Replicator::Exchange(MessageType type, const std::string& body, int timeout_ms) {
  if (transport_ == nullptr) return Status::Unreachable("no peer is configured");
  const uint64_t id = calls_->Begin();
  Result<std::string> frame = wire::EncodeFrame(type, id, options_.site, body);
  if (!frame.ok()) {
    calls_->Cancel(id);
    return frame.status();
  }
  (void)Transmit(frame.value());
  std::optional<wire::Frame> answer = calls_->Wait(id, timeout_ms, options_.retransmit_ms,
                                                   [&] { (void)Transmit(frame.value()); });
  if (!answer) {
    return Status::Unreachable("site " + options_.peer_site + " did not answer within " + std::to_string(timeout_ms) +
                               " ms");
  }
  return std::move(answer.value());
}

Result<wire::PeerAnswerMessage> Replicator::AskBody(MessageType type, const std::string& body, int timeout_ms) {
  Result<wire::Frame> frame = Exchange(type, body, timeout_ms < 0 ? options_.peer_timeout_ms : timeout_ms);
  if (!frame.ok()) return frame.status();
  wire::PeerAnswerMessage answer;
  if (frame->type != MessageType::kPeerAnswer) return Status::Corruption("the peer answered a command with a " +
                                                                          std::string(MessageTypeName(frame->type)));
  Status decoded = wire::DecodePeerMessage(frame->body, &answer);
  if (!decoded.ok()) {
    CountRefusal(frame->type, decoded);
    return Status::Corruption("the peer's answer to a " + std::string(MessageTypeName(type)) + ": " + decoded.message());
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
  switch (frame.type) {
    case MessageType::kWriteAck:
    case MessageType::kWriteGrant:
    case MessageType::kFlushAck:
    case MessageType::kPeerAnswer:
      (void)calls_->Deliver(std::move(frame));
      return;
    case MessageType::kWriteConfirm:
      (void)confirms_->Deliver(std::move(frame));
      return;
    case MessageType::kReplicaWrite:
      // A small replica write is served right here, on the link thread: a hand-off to a worker
      // costs more than the write (a page-cache copy), and it is on every write's round trip.
      // Concurrent replica writes never overlap (the primary holds their ranges until the
      // answers), so serving some here and some on workers keeps their order.
      if (frame.body.size() <= kInlineReplicaWriteBytes) return Serve(std::move(frame));
      [[fallthrough]];
    case MessageType::kForwardedWrite:
    case MessageType::kFlush:
    case MessageType::kPeerStatus:
    case MessageType::kPeerCommand:  // retired: refused with an answer
    case MessageType::kPeerCreate:
    case MessageType::kPeerForwardSplit:
    case MessageType::kPeerForwardResync:
    case MessageType::kPeerReserveAsk:
    case MessageType::kPeerReserveMirror:
    case MessageType::kPeerVote:
    case MessageType::kPeerStatusAsk:
    case MessageType::kPeerVerify:
    case MessageType::kPeerSplit:
    case MessageType::kPeerResync:
    case MessageType::kPeerDemote:
    case MessageType::kPeerCopyDone:
    case MessageType::kPeerTrim:
    case MessageType::kPeerDissolve:
    case MessageType::kPeerBitmap: {
      std::lock_guard<std::mutex> lock(work_mutex_);
      if (stopping_ || work_.size() >= kPeerWorkQueued || work_bytes_ + frame.body.size() > kPeerWorkQueuedBytes) {
        PAIRFS_LOG_REFUSAL(wire::RefusalLog(), "peer: work queue full", "peer: dropped a {} (queue full or stopping)",
                           MessageTypeName(frame.type));
        return;
      }
      work_bytes_ += frame.body.size();
      work_.push_back(std::move(frame));
      work_ready_.notify_one();
      return;
    }
    default:
      CountRefusal(frame.type, Status::Unsupported("not a site-to-site type"));
  }
}

void Replicator::Serve(wire::Frame frame) {
  if (frame.type != MessageType::kPeerStatus) {
    std::string cached;
    switch (answered_->Take(frame.request_id, &cached)) {
      case Answered::Claim::kNew:
        break;
      case Answered::Claim::kInProgress:
        return;  // a retransmit of what a worker is doing now; its answer follows
      case Answered::Claim::kDone:
        (void)Transmit(std::move(cached));
        return;
    }
  }
  switch (frame.type) {
    case MessageType::kReplicaWrite:
      return ServeReplicaWrite(frame);
    case MessageType::kForwardedWrite:
      return ServeForwardedWrite(frame);
    case MessageType::kFlush:
      return ServeFlush(frame);
    case MessageType::kPeerStatus:
      return ServeStatus(frame);
    default:  // a pair command (OnFrame queues no other type)
      return Answer(frame, MessageType::kPeerAnswer, wire::EncodeBody(ServePairCommand(frame)));
  }
}

// ---- mount I/O --------------------------------------------------------------------------------

Result<size_t> Replicator::Write(Volume& volume, const std::string& origin_site, uint64_t offset, const char* data,
                                 size_t length, bool direct) {
  return DoWrite(volume, origin_site, wire::WriteKind::kData, offset, data, length, direct);
}

Status Replicator::Discard(Volume& volume, const std::string& origin_site, wire::WriteKind kind, uint64_t offset,
                           uint64_t length) {
  if (offset >= volume.size_bytes() || length > volume.size_bytes() - offset) {
    return Status::NoSpace("discard past the end of volume " + volume.name());
  }
  if (length == 0) return Status::Ok();
  // A discard is one ordered write; long ones go in pieces no longer than a write.
  while (length > 0) {
    const uint64_t piece = std::min<uint64_t>(length, wire::kMaxDataBytes);
    Result<size_t> done = DoWrite(volume, origin_site, kind, offset, nullptr, piece, false);
    if (!done.ok()) return done.status();
    offset += piece;
    length -= piece;
  }
  return Status::Ok();
}

Result<size_t> Replicator::DoWrite(Volume& volume, const std::string& origin_site, wire::WriteKind kind,
                                   uint64_t offset, const char* data, size_t length, bool direct) {
  std::shared_ptr<Pair> pair = FindPair(volume.name());
  if (!pair) {
    if (kind == wire::WriteKind::kData) return volume.Write(origin_site, offset, data, length, direct);
    Status discarded = volume.Discard(origin_site, kind, offset, length);
    if (!discarded.ok()) return discarded;
    return length;
  }
  Result<size_t> clamped = volume.ClampToEnd(offset, length);
  if (!clamped.ok()) return clamped.status();
  length = clamped.value();
  if (length == 0) return size_t{0};
  Status reservation = volume.CheckReservation(origin_site);
  if (!reservation.ok()) return reservation;
  SharedGate inside(pair->gate);
  const Pair::View view = pair->Snapshot();
  switch (WriteRuleFor(view.state, view.context)) {
    case WriteRule::kLocal:
    case WriteRule::kLocalTracked:
      return WriteTracked(*pair, kind, offset, data, length, direct);
    case WriteRule::kReplicate:
      return WriteReplicated(*pair, view, origin_site, kind, offset, data, length, direct);
    case WriteRule::kForwardToPrimary:
      return WriteForwarded(*pair, view, origin_site, kind, offset, data, length, direct);
    case WriteRule::kRefuseIo:
      return Status::IoError("volume " + volume.name() + ": site " + options_.peer_site +
                                 " is unreachable and the pair's fence level is data",
                             EIO);
    case WriteRule::kRefuseReadOnly:
      break;
  }
  return Status::ReadOnly("volume " + volume.name() + " is not writable here (" + RoleName(view.state.role) + ", " +
                          StatusName(view.state.status) + (view.state.outdated ? ", outdated" : "") +
                          (view.state.fenced ? ", fenced" : "") + ")");
}

Result<size_t> Replicator::WriteTracked(Pair& pair, wire::WriteKind kind, uint64_t offset, const char* data,
                                        size_t length, bool direct) {
  RangeLock::Guard exclusive = pair.volume->exclusive().Acquire(offset, length);
  Result<Activity> activity = Activity::Begin(pair, offset, length, false);
  if (!activity.ok()) return activity.status();
  Status written = pair.volume->WriteRaw(kind, offset, data, length, direct);
  if (!written.ok()) return written;
  return length;
}

// What a write that could not reach the peer returns once the pair has reacted: done (fence
// never: the primary carries on alone, the region marked), EIO (fence data) or EROFS.
Result<size_t> Replicator::AfterLinkLoss(Pair& pair, size_t length) {
  const Pair::View view = pair.Snapshot();
  if (view.state.fenced && view.context.fence == FenceLevel::kReserve && view.state.role == PairRole::kPrimary) {
    return Status::IoError("volume " + pair.volume->name() + ": site " + options_.peer_site +
                               " did not answer and this site lost the determining volume's reserve: fenced",
                           EIO);
  }
  switch (WriteRuleFor(view.state, view.context)) {
    case WriteRule::kLocalTracked:
      return length;
    case WriteRule::kRefuseIo:
      return Status::IoError("volume " + pair.volume->name() + ": site " + options_.peer_site +
                                 " did not answer and the pair's fence level is data",
                             EIO);
    default:
      return Status::ReadOnly("volume " + pair.volume->name() + ": cannot reach the primary at site " +
                              options_.peer_site);
  }
}

Result<Replicator::OutgoingWrite> Replicator::EncodeWrite(MessageType type, const std::string& peer_volume,
                                                         const wire::Generation& generation,
                                                         const std::string& origin_site, wire::WriteKind kind,
                                                         uint64_t offset, const char* data, size_t length) {
  wire::WriteMessage message;
  message.volume = peer_volume;
  message.generation = generation;
  message.origin_site = origin_site;
  message.kind = static_cast<uint8_t>(kind);
  message.offset = offset;
  message.length = length;
  const uint64_t id = calls_->Begin();
  message.sequence = id;
  Result<std::string> frame = wire::EncodeWriteFrame(
      type, id, options_.site, message, kind == wire::WriteKind::kData ? std::string_view(data, length) : "");
  if (!frame.ok()) {
    calls_->Cancel(id);
    return frame.status();
  }
  return OutgoingWrite{id, std::move(frame.value())};
}

Result<std::vector<Replicator::OutgoingWrite>> Replicator::EncodeReplicaParts(
    const std::string& peer_volume, const wire::Generation& generation, const std::string& origin_site,
    wire::WriteKind kind, uint64_t offset, const char* data, size_t length) {
  // A long write goes as parts sent at once, so that the peer receives (on a CURVE link:
  // decrypts) and writes one part while this site still sends (encrypts) the next, instead of
  // one after the other. The parts are one write: the caller holds the whole range until every
  // part is answered. A write without data (zeroes, discard) is one message.
  const size_t part_bytes = kind == wire::WriteKind::kData ? kReplicaPartBytes : length;
  std::vector<OutgoingWrite> parts;
  for (size_t done = 0; done < length; done += part_bytes) {
    const size_t part = std::min(part_bytes, length - done);
    Result<OutgoingWrite> outgoing = EncodeWrite(MessageType::kReplicaWrite, peer_volume, generation, origin_site,
                                                 kind, offset + done, data == nullptr ? nullptr : data + done, part);
    if (!outgoing.ok()) {
      for (const OutgoingWrite& sent : parts) calls_->Cancel(sent.id);
      return outgoing.status();
    }
    parts.push_back(std::move(outgoing.value()));
  }
  return parts;
}

std::optional<wire::Frame> Replicator::WaitForParts(const std::vector<OutgoingWrite>& parts) {
  // The first answer that is not a success (or none) stands for the write; the rest are not
  // waited for, one timeout each.
  std::optional<wire::Frame> verdict;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& frame_bytes = parts[i].frame;
    std::optional<wire::Frame> answer = calls_->Wait(parts[i].id, options_.peer_timeout_ms, options_.retransmit_ms,
                                                     [&] { (void)Transmit(frame_bytes); });
    wire::WriteReplyMessage reply;
    const bool failed = !answer || !DecodeWriteReply(answer->body, &reply) || reply.code != 0;
    if (failed) {
      for (size_t j = i + 1; j < parts.size(); ++j) calls_->Cancel(parts[j].id);
      return answer;
    }
    verdict = std::move(answer);
  }
  return verdict;
}

Result<size_t> Replicator::WriteReplicated(Pair& pair, const PairView& view, const std::string& origin_site,
                                           wire::WriteKind kind, uint64_t offset, const char* data, size_t length,
                                           bool direct) {
  const wire::Generation& generation = view.generation;
  RangeLock::Guard exclusive = pair.volume->exclusive().Acquire(offset, length);
  Result<Activity> activity = Activity::Begin(pair, offset, length, true);
  if (!activity.ok()) return activity.status();
  if (!(pair.Snapshot().generation == generation)) {
    // The pair changed while this write waited for its range: write under the new rule.
    Status written = pair.volume->WriteRaw(kind, offset, data, length, direct);
    if (!written.ok()) return written;
    return AfterLinkLoss(pair, length);
  }
  Result<std::vector<OutgoingWrite>> parts =
      EncodeReplicaParts(view.peer_volume, generation, origin_site, kind, offset, data, length);
  if (!parts.ok()) return parts.status();
  window_->Acquire(length);
  WindowShare share([this](size_t bytes) { window_->Release(bytes); }, length);
  for (const OutgoingWrite& part : parts.value()) (void)Transmit(part.frame);
  Status written = pair.volume->WriteRaw(kind, offset, data, length, direct);
  std::optional<wire::Frame> answer = WaitForParts(parts.value());
  if (!written.ok()) {
    // The secondary may hold the write and this copy not: the pair suspends with the region
    // pinned (the trim must not forget it) and a resync repairs the copies.
    KeepChanged(pair, offset, length);
    SuspendOnDiskFault(pair, generation, "a write failed here: " + written.message());
    return written;
  }
  if (answer) {
    wire::WriteReplyMessage reply;
    const bool decoded = DecodeWriteReply(answer->body, &reply);
    if (decoded && reply.code == 0) return length;
    if (!decoded) reply = {};  // unchecked values are never used
    if (reply.generation.NewerThan(generation)) {
      OnPeerNewer(pair, generation, reply.generation);
      return Status::ReadOnly("volume " + pair.volume->name() + " is outdated: site " + options_.peer_site +
                              " has a newer generation");
    }
    if (IsDiskFault(reply.code)) {
      KeepChanged(pair, offset, length);
      SuspendOnDiskFault(pair, generation, std::string("a write failed at site ") + options_.peer_site + " (" +
                                               CodeName(static_cast<Code>(reply.code)) + ")");
      return PeerDiskFault(reply.code, pair.volume->name(), options_.peer_site);
    }
    spdlog::warn("pair {}: site {} refused a write ({}); suspending", pair.volume->name(), options_.peer_site,
                 CodeName(static_cast<Code>(reply.code)));
  } else {
    spdlog::warn("pair {}: site {} did not acknowledge a write within {} ms", pair.volume->name(),
                 options_.peer_site, options_.peer_timeout_ms);
  }
  OnLinkLost(pair, generation);
  return AfterLinkLoss(pair, length);
}

Result<size_t> Replicator::WriteForwarded(Pair& pair, const PairView& view, const std::string& origin_site,
                                          wire::WriteKind kind, uint64_t offset, const char* data, size_t length,
                                          bool direct) {
  const wire::Generation& generation = view.generation;
  // No range is held while the primary orders the write: its own copy of an earlier write to
  // this range may still be on its way here and needs the range (DESIGN.md pitfalls).
  Result<Activity> activity = Activity::Begin(pair, offset, length, true);
  if (!activity.ok()) return activity.status();
  Result<OutgoingWrite> outgoing = EncodeWrite(MessageType::kForwardedWrite, view.peer_volume, generation,
                                               origin_site, kind, offset, data, length);
  if (!outgoing.ok()) return outgoing.status();
  const uint64_t id = outgoing->id;
  const std::string& frame_bytes = outgoing->frame;
  std::optional<wire::Frame> answer;
  {
    window_->Acquire(length);
    WindowShare share([this](size_t bytes) { window_->Release(bytes); }, length);
    (void)Transmit(frame_bytes);
    answer = calls_->Wait(id, options_.peer_timeout_ms, options_.retransmit_ms,
                          [&] { (void)Transmit(frame_bytes); });
  }
  if (!answer) {
    spdlog::warn("pair {}: the primary at site {} did not order a write within {} ms", pair.volume->name(),
                 options_.peer_site, options_.peer_timeout_ms);
    OnLinkLost(pair, generation);
    return AfterLinkLoss(pair, length);
  }
  wire::WriteReplyMessage grant;
  if (!DecodeWriteReply(answer->body, &grant)) {
    return Status::Corruption("volume " + pair.volume->name() + ": the primary's grant is malformed");
  }
  if (grant.code != 0) {
    const Code code = static_cast<Code>(grant.code);
    if (grant.generation.NewerThan(generation)) OnPeerNewer(pair, generation, grant.generation);
    if (code == Code::kConflict) {
      return Status::Conflict("volume " + pair.volume->name() + " is reserved by another site (refused at site " +
                              options_.peer_site + ")");
    }
    if (IsDiskFault(grant.code)) return PeerDiskFault(grant.code, pair.volume->name(), options_.peer_site);
    return Status(code == Code::kIoError ? Code::kIoError : Code::kReadOnly,
                  "volume " + pair.volume->name() + ": the primary at site " + options_.peer_site +
                      " refused the write (" + CodeName(code) + ")",
                  code == Code::kIoError ? EIO : 0);
  }
  Status written;
  {
    RangeLock::Guard exclusive = pair.volume->exclusive().Acquire(offset, length);
    written = pair.volume->WriteRaw(kind, offset, data, length, direct);
  }
  // A failed write is confirmed with its code: the primary, which wrote its copy, suspends.
  wire::WriteReplyMessage confirm{view.peer_volume, generation, id, static_cast<uint8_t>(DiskFaultCode(written))};
  if (!written.ok()) KeepChanged(pair, offset, length);
  (void)SendOneWay(MessageType::kWriteConfirm, id, wire::EncodeBody(confirm));
  if (!written.ok()) return written;
  return length;
}

Status Replicator::Flush(Volume& volume) {
  std::shared_ptr<Pair> pair = FindPair(volume.name());
  if (!pair) return volume.Flush();
  const Pair::View view = pair->Snapshot();
  const WriteRule rule = WriteRuleFor(view.state, view.context);
  if (rule != WriteRule::kReplicate && rule != WriteRule::kForwardToPrimary) return volume.Flush();
  wire::FlushMessage message{view.peer_volume, view.generation, 0, 0};
  const uint64_t id = calls_->Begin();
  Result<std::string> frame = wire::EncodeFrame(MessageType::kFlush, id, options_.site, wire::EncodeBody(message));
  if (!frame.ok()) {
    calls_->Cancel(id);
    return frame.status();
  }
  const std::string& frame_bytes = frame.value();
  (void)Transmit(frame_bytes);
  Status local = volume.Flush();
  std::optional<wire::Frame> answer = calls_->Wait(id, options_.peer_timeout_ms, options_.retransmit_ms,
                                                   [&] { (void)Transmit(frame_bytes); });
  if (!local.ok()) {
    // Any write since the last flush may be lost here (the kernel reports a writeback error once).
    KeepAllChanged(*pair);
    SuspendOnDiskFault(*pair, view.generation, "a flush failed here: " + local.message());
    return local;
  }
  if (answer) {
    wire::FlushMessage reply;
    if (wire::DecodeBody(answer->body, &reply).ok() && wire::CheckFlush(reply).ok()) {
      if (reply.code == 0) return Status::Ok();
      if (IsDiskFault(reply.code)) {
        KeepAllChanged(*pair);
        SuspendOnDiskFault(*pair, view.generation, "a flush failed at site " + options_.peer_site);
        return PeerDiskFault(reply.code, volume.name(), options_.peer_site);
      }
    }
  }
  spdlog::warn("pair {}: site {} did not confirm a flush", volume.name(), options_.peer_site);
  OnLinkLost(*pair, view.generation);
  Result<size_t> after = AfterLinkLoss(*pair, 0);
  if (after.ok()) return Status::Ok();
  return Status::IoError("fsync of " + volume.name() + ": site " + options_.peer_site + " did not confirm", EIO);
}

// ---- the peer's requests ----------------------------------------------------------------------

namespace {

// Decodes a replica or forwarded write and checks it (wire::CheckWrite: length 1 to
// kMaxDataBytes, data as long as it says, a known kind, no overflow). `*data` points into the
// frame's body.
Status DecodeWrite(const wire::Frame& frame, wire::WriteMessage* message, std::string_view* data) {
  Status decoded = wire::DecodeWriteBody(frame.body, message, data);
  if (!decoded.ok()) return decoded;
  return wire::CheckWrite(*message, data->size());
}

}  // namespace

void Replicator::ServeReplicaWrite(const wire::Frame& frame) {
  wire::WriteMessage message;
  std::string_view data;
  wire::WriteReplyMessage reply;
  auto answer = [&](Code code) {
    reply.code = static_cast<uint8_t>(code);
    Answer(frame, MessageType::kWriteAck, wire::EncodeBody(reply));
  };
  if (Status decoded = DecodeWrite(frame, &message, &data); !decoded.ok()) {
    CountRefusal(frame.type, decoded);
    return answer(Code::kInvalidArgument);
  }
  reply = {message.volume, message.generation, message.sequence, 0};
  std::shared_ptr<Pair> pair = FindPair(message.volume);
  if (!pair) return answer(Code::kNotFound);
  const Pair::View view = pair->Snapshot();
  reply.generation = view.generation;  // a sender behind this side learns it is outdated
  if (!(view.generation == message.generation) || view.state.role != PairRole::kSecondary ||
      !IsReplicating(view.state.status)) {
    spdlog::debug("pair {}: refused a replica write of generation {}/{} in {} {}", message.volume,
                  message.generation.counter, message.generation.site, RoleName(view.state.role),
                  StatusName(view.state.status));
    return answer(Code::kReadOnly);
  }
  Result<size_t> length = pair->volume->ClampToEnd(message.offset, message.length);
  if (!length.ok() || length.value() != message.length) return answer(Code::kNoSpace);
  Status written;
  {
    RangeLock::Guard exclusive = pair->volume->exclusive().Acquire(message.offset, message.length);
    written = pair->volume->WriteRaw(static_cast<wire::WriteKind>(message.kind), message.offset, data.data(),
                                     message.length, false);
  }
  if (!written.ok()) {
    // The primary suspends on this answer; the region stays marked here too, for the resync.
    spdlog::error("pair {}: replica write failed: {}", message.volume, written.message());
    KeepChanged(*pair, message.offset, message.length);
  }
  answer(DiskFaultCode(written));
}

void Replicator::ServeForwardedWrite(const wire::Frame& frame) {
  wire::WriteMessage message;
  std::string_view data;
  wire::WriteReplyMessage grant;
  auto answer = [&](Code code) {
    grant.code = static_cast<uint8_t>(code);
    Answer(frame, MessageType::kWriteGrant, wire::EncodeBody(grant));
  };
  if (Status decoded = DecodeWrite(frame, &message, &data); !decoded.ok()) {
    CountRefusal(frame.type, decoded);
    return answer(Code::kInvalidArgument);
  }
  grant = {message.volume, message.generation, message.sequence, 0};
  std::shared_ptr<Pair> pair = FindPair(message.volume);
  if (!pair) return answer(Code::kNotFound);
  SharedGate inside(pair->gate);
  const Pair::View view = pair->Snapshot();
  grant.generation = view.generation;  // a sender behind this side learns it is outdated
  if (!(view.generation == message.generation) || WriteRuleFor(view.state, view.context) != WriteRule::kReplicate) {
    return answer(Code::kReadOnly);
  }
  Status reservation = pair->volume->CheckReservation(message.origin_site);
  if (!reservation.ok()) return answer(reservation.code());
  Result<size_t> length = pair->volume->ClampToEnd(message.offset, message.length);
  if (!length.ok() || length.value() != message.length) return answer(Code::kNoSpace);
  RangeLock::Guard exclusive = pair->volume->exclusive().Acquire(message.offset, message.length);
  // Check again with the range held: a write that held it may have suspended the pair, and a
  // forwarded write the secondary has given up on must never land after a later write.
  if (!(pair->Snapshot().generation == message.generation)) return answer(Code::kReadOnly);
  Result<Activity> activity = Activity::Begin(*pair, message.offset, message.length, true);
  if (!activity.ok()) return answer(activity.status().code());
  Status written = pair->volume->WriteRaw(static_cast<wire::WriteKind>(message.kind), message.offset,
                                          data.data(), message.length, false);
  if (!written.ok()) {
    KeepChanged(*pair, message.offset, message.length);
    SuspendOnDiskFault(*pair, view.generation, "a forwarded write failed here: " + written.message());
    return answer(DiskFaultCode(written));
  }
  // Granted: the range stays exclusive here until the secondary has written its copy.
  confirms_->Register(frame.request_id);
  answer(Code::kOk);
  std::optional<wire::Frame> confirm = confirms_->Wait(frame.request_id, options_.peer_timeout_ms, 0, nullptr);
  if (!confirm) {
    spdlog::warn("pair {}: site {} did not confirm a granted write", message.volume, options_.peer_site);
    OnLinkLost(*pair, view.generation);
    return;
  }
  wire::WriteReplyMessage confirmed;
  if (wire::DecodeBody(confirm->body, &confirmed).ok() && confirmed.code != 0) {
    KeepChanged(*pair, message.offset, message.length);
    SuspendOnDiskFault(*pair, view.generation, std::string("a granted write failed at site ") + options_.peer_site +
                                                   " (" + CodeName(static_cast<Code>(confirmed.code)) + ")");
  }
}

void Replicator::ServeFlush(const wire::Frame& frame) {
  wire::FlushMessage message;
  if (Status decoded = DecodeFlush(frame.body, &message); !decoded.ok()) {
    CountRefusal(frame.type, decoded);
    message = {};
    message.code = static_cast<uint8_t>(Code::kInvalidArgument);
    return Answer(frame, MessageType::kFlushAck, wire::EncodeBody(message));
  }
  std::shared_ptr<Volume> volume = store_.Find(message.volume);
  Status flushed = volume ? volume->Flush() : Status::NotFound("no volume named " + message.volume);
  if (volume && !flushed.ok()) {
    spdlog::error("volume {}: flush failed: {}", message.volume, flushed.message());
    if (std::shared_ptr<Pair> pair = FindPair(message.volume)) KeepAllChanged(*pair);
  }
  message.code = static_cast<uint8_t>(DiskFaultCode(flushed));
  Answer(frame, MessageType::kFlushAck, wire::EncodeBody(message));
}

void Replicator::ServeStatus(const wire::Frame& frame) {
  wire::PeerStatusMessage message;
  Status decoded = wire::DecodeBody(frame.body, &message);
  if (decoded.ok()) decoded = wire::CheckPeerStatus(message);
  if (!decoded.ok()) return CountRefusal(frame.type, decoded);
  std::shared_ptr<Pair> pair = FindPair(message.volume);
  if (!pair) return;
  pair->peer_progress.store(message.copy_progress);
  PairStatus peer_status = PairStatus::kSMPL;
  (void)ParseStatus(message.status, &peer_status);
  std::unique_lock<std::mutex> lock(pair->mutex);
  // An outdated side still in PAIR or COPY (a copy that stopped midway) suspends as well.
  const bool settled = pair->state.outdated && !IsReplicating(pair->state.status);
  if (message.generation.NewerThan(pair->generation) && !settled) {
    // A command that moves the generation (split, takeover) reaches the peer within
    // peer_timeout_ms; only a peer that stays newer longer than that means this side is behind.
    if (!pair->newer_seen) {
      pair->newer_seen = true;
      pair->newer_since = Clock::now();
    } else if (Clock::now() - pair->newer_since > Ms(options_.peer_timeout_ms)) {
      pair->newer_seen = false;
      const wire::Generation seen = pair->generation;
      lock.unlock();
      if (message.generation.site == options_.site) {
        FinishSwap(*pair, seen, message.generation, message.role, peer_status);
      } else {
        OnPeerNewer(*pair, seen, message.generation);
      }
    }
    return;
  }
  pair->newer_seen = false;
  // The secondary suspended on its own (a write it forwarded got no answer) while this side
  // still thinks the pair is in sync: suspend here too, so both show the truth.
  // As a link loss, so that fence reserve asks for the determining volume (a plain transition
  // dropped its kAskReserve and left the primary in PAIR: found by the cluster simulation).
  if (pair->generation == message.generation && pair->state.role == PairRole::kPrimary &&
      IsReplicating(pair->state.status) && message.role == "secondary" && peer_status == PairStatus::kPSUE) {
    const wire::Generation seen = pair->generation;
    lock.unlock();
    OnLinkLost(*pair, seen);
    return;
  }
  // The other way round: the primary suspended on an error (a lost fence reserve fences and
  // suspends it without a word to this side, this side restarted in PAIR meanwhile, or a copy
  // stopped midway; a split tells this side itself). A secondary that stayed in PAIR or COPY
  // would refuse the resync that brings them together again (found by the cluster simulation:
  // W1). Only when it lasts longer than peer_timeout_ms: a resync moves this side to COPY just
  // before the primary, so one status may still say PSUE.
  const bool primary_apart = pair->generation == message.generation && pair->state.role == PairRole::kSecondary &&
                             IsReplicating(pair->state.status) && message.role == "primary" &&
                             peer_status == PairStatus::kPSUE;
  if (!primary_apart) {
    pair->primary_apart_seen = false;
  } else if (!pair->primary_apart_seen) {
    pair->primary_apart_seen = true;
    pair->primary_apart_since = Clock::now();
  } else if (Clock::now() - pair->primary_apart_since > Ms(options_.peer_timeout_ms)) {
    pair->primary_apart_seen = false;
    const wire::Generation seen = pair->generation;
    lock.unlock();
    spdlog::warn("pair {}: the primary at site {} is {}: suspended here too", pair->volume->name(), options_.peer_site,
                 message.status);
    OnLinkLost(*pair, seen);
  }
}

// ---- state changes ----------------------------------------------------------------------------

void Replicator::OnLinkLost(Pair& pair, const wire::Generation& seen) {
  {
    std::lock_guard<std::mutex> lock(pair.mutex);
    if (!(pair.generation == seen) || !IsReplicating(pair.state.status)) return;  // already handled
    Result<PairTransition> transition = Transit(pair.state, PairEvent::kLinkLost, pair.context);
    if (!transition.ok()) return;
    const auto& actions = transition->actions;
    if (std::find(actions.begin(), actions.end(), PairAction::kAskReserve) == actions.end()) {
      spdlog::warn("pair {}: link to site {} lost (fence {})", pair.volume->name(), options_.peer_site,
                   FenceName(pair.context.fence));
      (void)Commit(pair, transition.value(), nullptr);
      return;
    }
  }
  AskReserveAfterLinkLoss(pair, seen);  // fence reserve: the writes that lost the link wait here
}

void Replicator::OnPeerNewer(Pair& pair, const wire::Generation& seen, const wire::Generation& peer) {
  std::lock_guard<std::mutex> lock(pair.mutex);
  if (!(pair.generation == seen) || (pair.state.outdated && !IsReplicating(pair.state.status))) return;
  if (peer.site == options_.site) return;  // made here, never committed: see FinishSwap
  spdlog::warn("pair {}: site {} has generation {}/{}, newer than {}/{} here: this copy is outdated",
               pair.volume->name(), options_.peer_site, peer.counter, peer.site, seen.counter, seen.site);
  Result<PairTransition> transition = Transit(pair.state, PairEvent::kPeerIsNewer, pair.context);
  if (transition.ok()) (void)Commit(pair, transition.value(), nullptr);
}

// A generation that names this site is made by this site (a takeover, a resync --swap, a split)
// and sent to the peer before this side commits it. A peer that stays at such a generation,
// newer than this side's, means this side never committed it: the command's answer was lost, or
// this node restarted first. Nobody wrote at it (only this site could), so this copy is no older
// than the peer's and is not marked outdated. Where the peer was demoted by a swap (a secondary
// in PAIR, PSUE or COPY) and this side is a consistent secondary, the swap is finished here: in
// PAIR at both, this side becomes the primary in PAIR; suspended here, this side resyncs --swap
// (found by the cluster simulation: a pair, the determining volume too, secondary at both sites,
// which no race can win and no resync from a primary can mend). Anything else is left as it is.
void Replicator::FinishSwap(Pair& pair, const wire::Generation& seen, const wire::Generation& peer,
                            const std::string& peer_role, PairStatus peer_status) {
  const bool peer_demoted = peer_role == "secondary" && (peer_status == PairStatus::kPAIR ||
                                                         peer_status == PairStatus::kPSUE || peer_status == PairStatus::kCOPY);
  enum class Step { kNone, kPromote, kSuspend, kResyncSwap } step = Step::kNone;
  ClosedGate closed(pair.gate);
  PairContext context;
  {
    std::lock_guard<std::mutex> lock(pair.mutex);
    if (!(pair.generation == seen)) return;
    const bool finishable =
        peer_demoted && pair.state.role == PairRole::kSecondary && !pair.state.outdated && pair.state.consistent;
    if (finishable && pair.state.status == PairStatus::kPAIR) {
      // Both in PAIR: this side becomes the primary; the peer suspended since: so does this
      // side, and the next status finishes with resync --swap.
      step = peer_status == PairStatus::kPAIR ? Step::kPromote : Step::kSuspend;
    } else if (finishable && pair.state.status == PairStatus::kPSUE) {
      step = Step::kResyncSwap;
    } else if (!pair.unfinished_swap_logged) {
      pair.unfinished_swap_logged = true;
      spdlog::warn("pair {}: site {} is at generation {}/{}, which this site made and never committed; this copy "
                   "({}) is left as it is",
                   pair.volume->name(), options_.peer_site, peer.counter, peer.site, StatusName(pair.state.status));
    }
    context = pair.context;
  }
  if (step == Step::kNone) return;
  if (step == Step::kSuspend) {
    closed.Open();
    return OnLinkLost(pair, seen);
  }
  if (step == Step::kResyncSwap) {
    closed.Open();  // Resync closes the gate itself
    std::string note;
    Status resynced = Resync(pair.volume->name(), true, false, &note);
    if (resynced.ok()) {
      spdlog::warn("pair {}: site {} was demoted for a swap to this site that did not finish: resync --swap from "
                   "here ({})",
                   pair.volume->name(), options_.peer_site, note);
    } else {
      spdlog::error("pair {}: cannot finish the swap to this site with resync --swap: {}", pair.volume->name(),
                    resynced.message());
    }
    return;
  }
  context.force = false;
  context.peer_reachable = true;
  context.peer_status = PairStatus::kPAIR;
  Status changed = Change(pair, PairEvent::kTakeover, &context, &peer);
  if (changed.ok()) {
    spdlog::warn("pair {}: site {} was demoted for a swap to this site that did not finish: primary here now "
                 "(generation {}/{})",
                 pair.volume->name(), options_.peer_site, peer.counter, peer.site);
  } else {
    spdlog::error("pair {}: cannot finish the swap to this site: {}", pair.volume->name(), changed.message());
  }
}

void Replicator::StartCopy(const std::shared_ptr<Pair>& pair) {
  std::lock_guard<std::mutex> lock(pair->copy_mutex);
  if (pair->copy_thread.joinable()) {
    pair->stop_copy.store(true);
    pair->copy_thread.join();
  }
  pair->stop_copy.store(false);
  pair->copy_total.store(0);
  pair->copy_done.store(0);
  pair->copy_thread = std::thread([this, pair] { RunCopy(pair); });
}

void Replicator::RunCopy(std::shared_ptr<Pair> pair) {
  const Pair::View view = pair->Snapshot();
  const std::vector<uint64_t> regions = pair->regions->MarkedRegions();
  const uint64_t region_bytes = pair->regions->region_bytes();
  const uint64_t size = pair->volume->size_bytes();
  uint64_t total = 0;
  for (uint64_t region : regions) total += std::min(region_bytes, size - region * region_bytes);
  pair->copy_total.store(total);
  pair->copy_done.store(0);
  spdlog::info("pair {}: copying {} bytes ({} of {}) to site {}", pair->volume->name(), total, FormatSize(total),
               FormatSize(size), options_.peer_site);
  const auto started = Clock::now();

  struct InFlight {
    RangeLock::Guard exclusive;
    uint64_t id;
    uint64_t length;
    std::string frame;
  };
  std::deque<InFlight> pending;
  bool failed = false;
  std::string disk_fault;  // a copy write failed at the peer, or a read here: not a lost link
  std::optional<wire::Generation> peer_newer;  // the peer refused a copy write: it moved on
  auto finish_oldest = [&] {
    InFlight& oldest = pending.front();
    std::optional<wire::Frame> answer = calls_->Wait(oldest.id, options_.peer_timeout_ms, options_.retransmit_ms,
                                                     [&] { (void)Transmit(oldest.frame); });
    window_->Release(oldest.length);
    wire::WriteReplyMessage reply;
    if (!answer || !wire::DecodeBody(answer->body, &reply).ok() || reply.code != 0) {
      failed = true;
      if (answer && reply.generation.NewerThan(view.generation)) peer_newer = reply.generation;
      if (answer && IsDiskFault(reply.code)) {
        disk_fault = std::string("a copy write failed at site ") + options_.peer_site + " (" +
                     CodeName(static_cast<Code>(reply.code)) + ")";
      }
    } else {
      pair->copy_done.fetch_add(oldest.length);
    }
    pending.pop_front();
  };
  std::vector<char> buffer;
  for (size_t i = 0; i < regions.size() && !failed && !pair->stop_copy.load();) {
    size_t j = i + 1;
    while (j < regions.size() && regions[j] == regions[j - 1] + 1 && (j - i) * region_bytes < kCopyChunkBytes) ++j;
    const uint64_t offset = regions[i] * region_bytes;
    const uint64_t length = std::min<uint64_t>((j - i) * region_bytes, size - offset);
    i = j;
    RangeLock::Guard exclusive = pair->volume->exclusive().Acquire(offset, length);
    buffer.resize(length);
    Result<size_t> read = pair->volume->Read(offset, length, buffer.data(), false);
    if (!read.ok() || read.value() != length) {
      spdlog::error("pair {}: copy cannot read at {}: {}", pair->volume->name(), offset,
                    read.ok() ? "short read" : read.status().message());
      disk_fault = "the copy cannot read this copy: " + (read.ok() ? std::string("short read") : read.status().message());
      failed = true;
      break;
    }
    // A region of zeros goes as a hole: it stays a hole there and costs no bandwidth.
    const wire::WriteKind kind = AllZero(buffer.data(), length) ? wire::WriteKind::kPunchHole : wire::WriteKind::kData;
    Result<OutgoingWrite> outgoing = EncodeWrite(MessageType::kReplicaWrite, view.peer_volume, view.generation,
                                                 options_.site, kind, offset, buffer.data(), length);
    if (!outgoing.ok()) {
      failed = true;
      break;
    }
    window_->Acquire(length);
    (void)Transmit(outgoing->frame);
    pending.push_back({std::move(exclusive), outgoing->id, length, std::move(outgoing->frame)});
    while (pending.size() >= kCopyChunksInFlight && !failed) finish_oldest();
  }
  while (!pending.empty()) finish_oldest();
  if (pair->stop_copy.load()) return;
  if (failed) {
    if (peer_newer) {  // e.g. a primary restarted after the peer took over: outdated, not a lost link
      spdlog::warn("pair {}: site {} refused the copy: it has a newer generation", pair->volume->name(),
                   options_.peer_site);
      OnPeerNewer(*pair, view.generation, *peer_newer);
      return;
    }
    if (!disk_fault.empty()) {  // the regions stay marked: a resync after the repair copies them
      SuspendOnDiskFault(*pair, view.generation, disk_fault);
      return;
    }
    spdlog::warn("pair {}: copy to site {} interrupted", pair->volume->name(), options_.peer_site);
    OnLinkLost(*pair, view.generation);
    return;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  spdlog::info("pair {}: copied {} in {:.1f} s", pair->volume->name(), FormatSize(total), seconds);
  {
    std::lock_guard<std::mutex> lock(pair->epoch_mutex);  // copied: equal at both sites now
    for (uint64_t region : regions) {
      if (pair->last_epoch[region] == kPinnedEpoch) pair->last_epoch[region] = 0;
    }
  }
  if (view.state.status == PairStatus::kPAIR) {
    Status flushed = pair->volume->Flush();
    if (!flushed.ok()) {
      KeepAllChanged(*pair);
      SuspendOnDiskFault(*pair, view.generation, "a flush after the copy failed here: " + flushed.message());
      return;
    }
    TrimActivityLog(*pair, false);
    return;
  }
  Status finished = FinishCopy(*pair, view.generation);
  if (!finished.ok()) spdlog::warn("pair {}: cannot finish the copy: {}", pair->volume->name(), finished.message());
}

Status Replicator::FinishCopy(Pair& pair, const wire::Generation& generation) {
  // Both copies durable before either says so.
  Status flushed = pair.volume->Flush();
  if (!flushed.ok()) {
    KeepAllChanged(pair);
    SuspendOnDiskFault(pair, generation, "a flush at the end of the copy failed here: " + flushed.message());
    return flushed;
  }
  wire::PeerCopyDoneCommand done{pair.Snapshot().peer_volume, generation};
  Result<wire::PeerAnswerMessage> answer = Ask(done);
  if (answer.ok() && IsDiskFault(answer->code)) {  // the peer could not save its PAIR (disk full)
    SuspendOnDiskFault(pair, generation, "the copy's end failed at site " + options_.peer_site + ": " + answer->message);
    return StatusFromCode(answer->code, answer->message);
  }
  if (!answer.ok() || answer->code != 0) {
    OnLinkLost(pair, generation);
    return answer.ok() ? StatusFromCode(answer->code, answer->message) : answer.status();
  }
  {
    std::lock_guard<std::mutex> lock(pair.mutex);
    if (!(pair.generation == generation)) return Status::Ok();  // something else happened meanwhile
    Result<PairTransition> transition = Transit(pair.state, PairEvent::kCopyDone, pair.context);
    if (!transition.ok()) return transition.status();
    Status saved = Commit(pair, transition.value(), nullptr);
    if (!saved.ok()) return saved;
  }
  TrimActivityLog(pair, false);
  (void)Ask(wire::PeerTrimCommand{done.volume, generation});
  return Status::Ok();
}

uint32_t Replicator::CloseEpoch(Pair& pair) {
  std::lock_guard<std::mutex> lock(pair.epoch_mutex);
  return pair.epoch++;
}

void Replicator::ClearActivityThrough(Pair& pair, uint32_t closing, bool keep_hot, const wire::Generation& generation,
                                      PairStatus status) {
  std::unique_lock<std::shared_mutex> no_marking(pair.al_mutex);
  const Pair::View now = pair.Snapshot();
  if (!(now.generation == generation) || now.state.status != status) return;  // changed meanwhile: keep all
  std::vector<uint64_t> clear;
  {
    std::lock_guard<std::mutex> lock(pair.epoch_mutex);
    for (uint64_t region : pair.regions->MarkedRegions()) {
      const uint32_t touched = pair.last_epoch[region];
      if (keep_hot ? touched < closing : touched <= closing) clear.push_back(region);
    }
  }
  if (clear.empty()) return;
  Status cleared = pair.regions->ClearRegions(clear);
  if (!cleared.ok()) spdlog::warn("pair {}: cannot trim the activity log: {}", pair.volume->name(), cleared.message());
}

void Replicator::TrimActivityLog(Pair& pair, bool keep_hot) {
  const Pair::View view = pair.Snapshot();
  if (view.state.status != PairStatus::kPAIR || pair.regions->marked_bytes() == 0) return;
  const uint32_t closing = CloseEpoch(pair);
  // Every write of the closing epoch (and before) must have finished at both copies.
  const auto deadline = Clock::now() + Ms(options_.peer_timeout_ms);
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(pair.epoch_mutex);
      if (pair.in_flight.empty() || pair.in_flight.begin()->first > closing) break;
    }
    if (Clock::now() > deadline) return;
    std::this_thread::sleep_for(Ms(2));
  }
  Status flushed = pair.volume->Flush();
  if (!flushed.ok()) {  // the marks stay: any write since the last flush may be lost here
    KeepAllChanged(pair);
    SuspendOnDiskFault(pair, view.generation, "a flush failed here: " + flushed.message());
    return;
  }
  wire::FlushMessage flush{view.peer_volume, view.generation, 0, 0};
  Result<wire::Frame> answer = Exchange(MessageType::kFlush, wire::EncodeBody(flush), options_.peer_timeout_ms);
  wire::FlushMessage reply;
  if (!answer.ok() || !wire::DecodeBody(answer->body, &reply).ok() || reply.code != 0) {
    if (answer.ok() && IsDiskFault(reply.code)) {
      KeepAllChanged(pair);
      SuspendOnDiskFault(pair, view.generation, "a flush failed at site " + options_.peer_site);
    }
    return;
  }
  ClearActivityThrough(pair, closing, keep_hot, view.generation, PairStatus::kPAIR);
}

void Replicator::Background() {
  auto next_status = Clock::now();
  auto next_trim = Clock::now() + Ms(options_.trim_interval_ms);
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(work_mutex_);
      // Its own condition variable: a notify_one meant for a worker must never wake this thread.
      if (background_wake_.wait_for(lock, Ms(options_.tick_ms), [&] { return stopping_; })) return;
    }
    std::vector<std::shared_ptr<Pair>> pairs;
    {
      std::lock_guard<std::mutex> lock(pairs_mutex_);
      for (auto& [name, pair] : pairs_) pairs.push_back(pair);
    }
    const auto now = Clock::now();
    if (now >= next_status) {
      next_status = now + Ms(options_.status_interval_ms);
      for (auto& pair : pairs) {
        const Pair::View view = pair->Snapshot();
        wire::VolumeInfo info;
        DescribePair(*pair, view, &info);
        wire::PeerStatusMessage status{view.peer_volume, view.generation, RoleName(view.state.role),
                                       StatusName(view.state.status), view.state.consistent, view.state.outdated,
                                       info.copy_progress};
        (void)SendOneWay(MessageType::kPeerStatus, 0, wire::EncodeBody(status));
      }
    }
    // A link that carries nothing (not even the statuses) for peer_timeout_ms is lost, also
    // when no write notices it.
    // Only once the peer has been heard since this node started: a restarted node must not
    // suspend (and start a generation) before it learnt whether the peer moved on meanwhile.
    if (transport_ != nullptr && heard_since_start_.load() &&
        NowMs() - last_heard_ms_.load() > options_.peer_timeout_ms) {
      for (auto& pair : pairs) {
        const Pair::View view = pair->Snapshot();
        if (IsReplicating(view.state.status)) {
          spdlog::warn("pair {}: nothing heard from site {} for {} ms", pair->volume->name(), options_.peer_site,
                       options_.peer_timeout_ms);
          OnLinkLost(*pair, view.generation);
        }
      }
    }
    if (now >= next_trim) {
      next_trim = now + Ms(options_.trim_interval_ms);
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

Result<wire::PeerAnswerMessage> Replicator::AskStatus(Pair& pair, int timeout_ms) {
  Result<wire::PeerAnswerMessage> answer = Ask(wire::PeerStatusAskCommand{pair.Snapshot().peer_volume}, timeout_ms);
  if (answer.ok() && answer->code != 0) return StatusFromCode(answer->code, answer->message);
  return answer;
}

template <class T>
Status Replicator::ForwardToPrimary(const T& command, std::string* note) {
  Result<wire::PeerAnswerMessage> answer = Ask(command, wire::kDefaultControlTimeoutMs / 2);
  if (!answer.ok()) {
    return Status::Unreachable("the primary at site " + options_.peer_site + " is unreachable: " +
                               answer.status().message());
  }
  if (note) *note = answer->message;
  return StatusFromCode(answer->code, answer->message);
}

Status Replicator::CreatePair(const wire::PairCreateRequest& request, std::string* note) {
  if (transport_ == nullptr || options_.peer_site.empty()) {
    return Status::InvalidArgument("no [peer] in the config: a pair needs a peer site");
  }
  std::shared_ptr<Volume> volume = store_.Find(request.name);
  if (!volume) return Status::NotFound("no volume named " + request.name);
  PairMode mode = PairMode::kSync;
  if (!ParseMode(request.mode.empty() ? "sync" : request.mode, &mode)) {
    return Status::InvalidArgument("--mode must be sync or async, not '" + request.mode + "'");
  }
  if (mode == PairMode::kAsync) return Status::Unsupported("async pairs are not in this version; use --mode sync");
  FenceLevel fence = FenceLevel::kNever;
  if (!request.fence.empty() && !ParseFence(request.fence, &fence)) {
    return Status::InvalidArgument("--fence must be data, reserve or never, not '" + request.fence + "'");
  }
  const auto& managed = options_.managed_volumes;
  if (request.fence.empty() && std::find(managed.begin(), managed.end(), request.name) != managed.end()) {
    fence = FenceLevel::kReserve;  // the default for the volumes clusterd fails over
  }
  if (fence == FenceLevel::kReserve && options_.determining_volume.empty()) {
    return Status::InvalidArgument("fence reserve needs a [cluster] determining_volume in the config; use data or never");
  }
  if (fence == FenceLevel::kReserve && IsDetermining(request.name)) {
    return Status::InvalidArgument("the determining volume itself cannot have fence reserve; use data or never");
  }
  const std::string peer_volume = request.peer_volume.empty() ? request.name : request.peer_volume;
  Status named = CheckVolumeName(peer_volume);
  if (!named.ok()) return named;
  const VolumeMetadata metadata = volume->metadata();
  if (FindPair(request.name) || metadata.status != "SMPL") {
    return Status::InvalidArgument("volume " + request.name + " is already in a pair (" + metadata.status + ")");
  }
  Result<PairTransition> transition = Transit(PairState{}, PairEvent::kCreateAsPrimary, PairContext{fence, mode});
  if (!transition.ok()) return transition.status();
  const wire::Generation generation{metadata.generation + 1, options_.site};
  wire::PeerCreateCommand command;
  command.volume = peer_volume;
  command.generation = generation;
  command.peer_volume = request.name;
  command.size_bytes = volume->size_bytes();
  command.mode = ModeName(mode);
  command.fence = FenceName(fence);
  command.group = request.group;
  command.region_size_bytes = options_.region_size_bytes;
  Result<wire::PeerAnswerMessage> answer = Ask(command);
  if (!answer.ok()) return Status::Unreachable("site " + options_.peer_site + " is unreachable: " + answer.status().message());
  if (answer->code != 0) return StatusFromCode(answer->code, answer->message);
  FaultPoint("create-after-peer");
  // Every region marked durably before the metadata says primary/COPY: a crash in between
  // leaves a simplex volume (create again: the peer's side is idempotent), never a copy that
  // copies nothing.
  Status marked = RegionSet::Create(volume->SidecarPath("regions"), volume->size_bytes(), options_.region_size_bytes,
                                    true);
  if (!marked.ok()) {
    return Status(marked.code(), "cannot write the region set of " + request.name + ": " + marked.message(),
                  marked.error_number());
  }
  FaultPoint("create-after-regions");
  const PairState& next = transition->next;
  Status saved = volume->UpdateMetadata([&](VolumeMetadata& updated) {
    updated.role = RoleName(next.role);
    updated.status = StatusName(next.status);
    updated.consistent = true;
    updated.outdated = false;
    updated.fenced = false;
    updated.pair_mode = ModeName(mode);
    updated.peer_site = options_.peer_site;
    updated.peer_volume = peer_volume;
    updated.fence = FenceName(fence);
    updated.group = request.group;
    updated.generation = generation.counter;
    updated.generation_site = generation.site;
    updated.region_size_bytes = options_.region_size_bytes;
  });
  if (!saved.ok()) return Status(saved.code(), "cannot save the metadata of " + request.name + ": " + saved.message(),
                                 saved.error_number());
  FaultPoint("create-after-metadata");
  Result<std::shared_ptr<Pair>> pair = LoadPair(volume, false);
  if (!pair.ok()) return pair.status();
  if (answer->created) {
    *note = "created volume " + peer_volume + " (" + FormatSize(volume->size_bytes()) + ") at site " + options_.peer_site;
  }
  spdlog::info("pair {}: primary, paired with {}:{}, initial copy starting", request.name, options_.peer_site,
               peer_volume);
  StartCopy(pair.value());
  return Status::Ok();
}

Status Replicator::Split(const std::string& name, bool read_write, bool forwarded, std::string* note) {
  Result<std::shared_ptr<Pair>> found = PairFor(name);
  if (!found.ok()) return found.status();
  if (read_write && IsDetermining(name)) {
    return Status::InvalidArgument("split --rw of the determining volume " + name +
                                   " is refused: only clusterd, as the winner of its reserve, makes a copy of it writable");
  }
  Pair& pair = *found.value();
  if (pair.Snapshot().state.role == PairRole::kSecondary && !forwarded) {
    return ForwardToPrimary(wire::PeerForwardSplitCommand{pair.Snapshot().peer_volume, read_write}, note);
  }
  const PairEvent event = read_write ? PairEvent::kSplitReadWrite : PairEvent::kSplit;
  wire::Generation generation;
  bool from_pair = false;
  uint32_t closing = 0;
  PairStatus split_status{};
  {
    ClosedGate closed(pair.gate);  // writes in flight finish in the old status
    from_pair = pair.Snapshot().state.status == PairStatus::kPAIR;
    Status changed = Change(pair, event, nullptr, nullptr);
    if (!changed.ok()) return changed;
    generation = pair.Snapshot().generation;
    split_status = pair.Snapshot().state.status;
    closing = CloseEpoch(pair);
  }
  Result<wire::PeerAnswerMessage> answer = Ask(wire::PeerSplitCommand{pair.Snapshot().peer_volume, generation, read_write});
  if (!answer.ok()) {
    *note = "split here; site " + options_.peer_site + " did not answer and will find itself outdated";
    return read_write ? Status::Unreachable("split here, but site " + options_.peer_site +
                                            " did not answer, so its copy is not writable")
                      : Status::Ok();
  }
  // The peer flushed its copy before it answered: the marks of the writes before the split are
  // no changes (ClearActivityThrough).
  if (answer->code == 0 && from_pair && pair.volume->Flush().ok()) {
    ClearActivityThrough(pair, closing, false, generation, split_status);
  }
  return StatusFromCode(answer->code, answer->message);
}


Status Replicator::Resync(const std::string& name, bool swap, bool forwarded, std::string* note) {
  Result<std::shared_ptr<Pair>> found = PairFor(name);
  if (!found.ok()) return found.status();
  std::shared_ptr<Pair> pair = found.value();
  if (!swap && pair->Snapshot().state.role == PairRole::kSecondary && !forwarded) {
    return ForwardToPrimary(wire::PeerForwardResyncCommand{pair->Snapshot().peer_volume}, note);
  }
  Result<wire::PeerAnswerMessage> peer = AskStatus(*pair);
  if (!peer.ok()) return Status::Unreachable("site " + options_.peer_site + " is unreachable: " + peer.status().message());
  PairContext context = pair->Snapshot().context;
  (void)ParseStatus(peer->status, &context.peer_status);
  const PairEvent event = swap ? PairEvent::kResyncSwapHere : PairEvent::kResync;
  {
    std::lock_guard<std::mutex> lock(pair->mutex);
    Result<PairTransition> check = Transit(pair->state, event, context);
    if (!check.ok()) return check.status();
  }
  const wire::Generation mine = pair->Snapshot().generation;
  const wire::Generation generation =
      swap ? wire::Generation{std::max(mine.counter, peer->generation.counter) + 1, options_.site} : mine;
  ClosedGate closed(pair->gate);
  pair->stop_copy.store(true);
  const std::string peer_volume = pair->Snapshot().peer_volume;
  Result<wire::PeerAnswerMessage> answer = Ask(wire::PeerResyncCommand{peer_volume, generation, swap});
  if (!answer.ok()) return Status::Unreachable("site " + options_.peer_site + " is unreachable: " + answer.status().message());
  if (answer->code != 0) return StatusFromCode(answer->code, answer->message);
  FaultPoint(swap ? "swap-after-peer" : "resync-after-peer");
  Status merged = MergePeerBitmap(*pair, peer_volume, generation);
  if (!merged.ok()) return merged;
  Status changed = Change(*pair, event, &context, &generation);
  if (!changed.ok()) return changed;
  closed.Open();
  *note = "copying " + FormatSize(pair->regions->marked_bytes()) + " of changed regions to site " +
          options_.peer_site;
  StartCopy(pair);
  return Status::Ok();
}

Status Replicator::Takeover(const std::string& name, bool force, bool cluster, bool peer_lost, std::string* note) {
  Result<std::shared_ptr<Pair>> found = PairFor(name);
  if (!found.ok()) return found.status();
  if (IsDetermining(name) && !cluster && !force) {
    return Status::InvalidArgument("takeover of the determining volume " + name +
                                   " is refused: only clusterd, as the winner of its reserve, moves its primary "
                                   "(--force overrides, if the other site is really gone)");
  }
  Pair& pair = *found.value();
  PairContext context = pair.Snapshot().context;
  context.force = force;
  const bool behind = pair.Snapshot().state.outdated || !pair.Snapshot().state.consistent;
  Result<wire::PeerAnswerMessage> peer =
      peer_lost ? Result<wire::PeerAnswerMessage>(Status::Unreachable("site " + options_.peer_site + " is lost"))
                : AskStatus(pair, cluster ? kFailoverProbeMs : -1);
  context.peer_reachable = peer.ok();
  if (peer.ok()) (void)ParseStatus(peer->status, &context.peer_status);
  const wire::Generation mine = pair.Snapshot().generation;
  const wire::Generation generation{std::max(mine.counter, peer.ok() ? peer->generation.counter : 0) + 1,
                                    options_.site};
  Result<PairTransition> transition = [&]() -> Result<PairTransition> {
    std::lock_guard<std::mutex> lock(pair.mutex);
    return Transit(pair.state, PairEvent::kTakeover, context);
  }();
  if (!transition.ok()) return transition.status();
  ClosedGate closed(pair.gate);
  if (transition->next.role == PairRole::kPrimary) {
    // A swap: the old primary is durably secondary before this side takes a write.
    Result<wire::PeerAnswerMessage> answer = Ask(wire::PeerDemoteCommand{pair.Snapshot().peer_volume, generation});
    if (!answer.ok()) return Status::Unreachable("site " + options_.peer_site + " stopped answering during the swap");
    if (answer->code != 0) return StatusFromCode(answer->code, answer->message);
    FaultPoint("takeover-after-demote");
    Status changed = Change(pair, PairEvent::kTakeover, &context, &generation);
    if (!changed.ok()) return changed;
    *note = "swapped: site " + options_.site + " is the primary, site " + options_.peer_site + " the secondary (PAIR)";
    return Status::Ok();
  }
  Status changed = Change(pair, PairEvent::kTakeover, &context, &generation);
  if (!changed.ok()) return changed;
  *note = std::string("took over: writable here (SSWS)") +
          (peer.ok() ? ""
                     : "; site " + options_.peer_site +
                           " did not answer: writes it acknowledged after it last reached this site are not here") +
          (force && behind ? "; this copy was outdated or inconsistent (--force): it may miss acknowledged writes"
                           : "") +
          "; run resync --swap here once it is back";
  return Status::Ok();
}

Status Replicator::DissolveHere(const std::string& name) {
  Result<std::shared_ptr<Pair>> found = PairFor(name);
  if (!found.ok()) return found.status();
  Pair& pair = *found.value();
  pair.stop_copy.store(true);
  {
    ClosedGate closed(pair.gate);
    Status changed = Change(pair, PairEvent::kDissolve, nullptr, nullptr);
    if (!changed.ok()) return changed;
  }
  DropPair(name);
  return Status::Ok();
}

Status Replicator::Dissolve(const std::string& name, std::string* note) {
  Result<std::shared_ptr<Pair>> found = PairFor(name);
  if (!found.ok()) return found.status();
  if (IsDetermining(name)) {
    return Status::InvalidArgument("dissolve of the determining volume " + name +
                                   " is refused while [cluster] determining_volume names it");
  }
  const wire::PeerDissolveCommand command{found.value()->Snapshot().peer_volume};
  Result<wire::PeerAnswerMessage> answer = Ask(command);
  if (answer.ok() && answer->code != 0 && answer->code != static_cast<uint8_t>(Code::kInvalidArgument)) {
    return StatusFromCode(answer->code, answer->message);
  }
  Status here = DissolveHere(name);
  if (!here.ok()) return here;
  if (!answer.ok()) {
    *note = "dissolved here; site " + options_.peer_site + " did not answer: dissolve " + command.volume +
            " there too when it is back";
  }
  return Status::Ok();
}

Result<std::vector<uint64_t>> Replicator::HashRegions(Pair& pair, uint64_t first, uint64_t count) {
  const uint64_t region_bytes = pair.regions->region_bytes();
  const uint64_t size = pair.volume->size_bytes();
  if (first >= pair.regions->region_count() || count > kVerifyRegionsPerCall) {
    return Status::InvalidArgument("verify: regions out of range");
  }
  count = std::min(count, pair.regions->region_count() - first);
  std::vector<uint64_t> hashes;
  std::vector<char> buffer(region_bytes);
  for (uint64_t region = first; region < first + count; ++region) {
    const uint64_t offset = region * region_bytes;
    const uint64_t length = std::min(region_bytes, size - offset);
    Result<size_t> read = pair.volume->Read(offset, length, buffer.data(), false);
    if (!read.ok()) return read.status();
    hashes.push_back(wire::FastChecksum(std::string_view(buffer.data(), read.value())));
  }
  return hashes;
}

Result<std::vector<uint64_t>> Replicator::Verify(const std::string& name, uint64_t offset, uint64_t length) {
  Result<std::shared_ptr<Pair>> found = PairFor(name);
  if (!found.ok()) return found.status();
  Pair& pair = *found.value();
  const uint64_t region_bytes = pair.regions->region_bytes();
  const uint64_t size = pair.volume->size_bytes();
  if (offset >= size) return std::vector<uint64_t>();
  length = std::min(length, size - offset);
  const uint64_t first = offset / region_bytes;
  const uint64_t count = std::min<uint64_t>((offset + length + region_bytes - 1) / region_bytes - first,
                                            kVerifyRegionsPerCall);
  Result<std::vector<uint64_t>> local = HashRegions(pair, first, count);
  if (!local.ok()) return local.status();
  Result<wire::PeerAnswerMessage> answer =
      Ask(wire::PeerVerifyCommand{pair.Snapshot().peer_volume, first, count}, wire::kDefaultControlTimeoutMs / 2);
  if (!answer.ok()) return Status::Unreachable("site " + options_.peer_site + " is unreachable: " + answer.status().message());
  if (answer->code != 0) return StatusFromCode(answer->code, answer->message);
  if (answer->hashes.size() != local->size()) return Status::Corruption("verify: the peer sent the wrong number of hashes");
  std::vector<uint64_t> mismatches;
  for (size_t i = 0; i < local->size(); ++i) {
    if (local.value()[i] == answer->hashes[i]) continue;
    const uint64_t start = (first + i) * region_bytes;
    const uint64_t bytes = std::min(region_bytes, size - start);
    if (!mismatches.empty() && mismatches[mismatches.size() - 2] + mismatches.back() == start) {
      mismatches.back() += bytes;
    } else {
      mismatches.push_back(start);
      mismatches.push_back(bytes);
    }
  }
  return mismatches;
}

void Replicator::Describe(Volume& volume, wire::VolumeInfo* info) {
  if (std::shared_ptr<Pair> pair = FindPair(volume.name())) DescribePair(*pair, pair->Snapshot(), info);
}

void Replicator::DescribePair(Pair& pair, const PairView& view, wire::VolumeInfo* info) {
  // The pair's live state: the metadata's, or a suspension held in memory (Commit).
  info->role = RoleName(view.state.role);
  info->status = StatusName(view.state.status);
  info->consistent = view.state.consistent;
  info->outdated = view.state.outdated;
  info->fenced = view.state.fenced;
  const uint64_t size = pair.volume->size_bytes();
  const uint64_t dirty = pair.regions->marked_bytes();
  info->dirty_bytes = view.state.status == PairStatus::kPAIR ? 0 : std::min(dirty, size);
  switch (view.state.status) {
    case PairStatus::kSMPL:
      info->copy_progress = 0;
      break;
    case PairStatus::kPAIR:
      info->copy_progress = 100;
      break;
    case PairStatus::kCOPY:
      if (view.state.role == PairRole::kPrimary) {
        const uint64_t total = pair.copy_total.load();
        info->copy_progress = total == 0 ? 0 : static_cast<uint32_t>(pair.copy_done.load() * 100 / total);
      } else {
        info->copy_progress = pair.peer_progress.load();
      }
      break;
    default:  // suspended: the share of the volume still in sync, as arrays show it
      info->copy_progress = size == 0 ? 100 : static_cast<uint32_t>((size - info->dirty_bytes) * 100 / size);
  }
}

}  // namespace pairfs::node
