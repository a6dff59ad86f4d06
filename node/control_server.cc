#include "node/control_server.h"

#include <spdlog/spdlog.h>

#include "node/event_log.h"      // ops (issue 15 part 1)
#include "node/events_server.h"  // ops (issue 15 part 1)
#include "node/limits.h"
#include "node/names.h"
#include "wire/peer_messages.h"

namespace pairfs::node {
namespace {

template <class T>
Status Decode(const wire::Frame& frame, T* request) {
  Status decoded = wire::DecodeBody(frame.body, request);
  if (!decoded.ok()) {
    return Status::InvalidArgument(std::string(wire::MessageTypeName(frame.type)) +
                                   " request: " + decoded.message());
  }
  return Status::Ok();
}

// A string of a row cut to its limit: an old metadata file may hold a longer one, and a display
// page is sized for rows within the limits (wire::kMaxVolumeInfoBytes).
std::string Within(const std::string& text, size_t max_bytes) {
  return text.size() <= max_bytes ? text : text.substr(0, max_bytes);
}

// The checks of what a control request asks to store or show: a group or holder is short text
// (UTF-8, no control characters) that fits the metadata file.
Status CheckRequestText(const wire::Frame& frame) {
  using wire::MessageType;
  if (frame.type == MessageType::kPairCreate) {
    wire::PairCreateRequest request;
    if (Status decoded = Decode(frame, &request); !decoded.ok()) return decoded;
    return wire::CheckTextField("--group", request.group, wire::kMaxGroupNameBytes);
  }
  if (frame.type == MessageType::kReserve || frame.type == MessageType::kRelease) {
    wire::ReserveRequest request;
    if (Status decoded = Decode(frame, &request); !decoded.ok()) return decoded;
    return wire::CheckTextField("--holder", request.holder, wire::kMaxHolderBytes);
  }
  return Status::Ok();
}

}  // namespace

wire::VolumeInfo DescribeVolume(Volume& volume, Replicator* replicator) {
  const VolumeMetadata metadata = volume.metadata();
  wire::VolumeInfo info;
  info.name = metadata.name;
  info.role = metadata.role;
  info.status = metadata.status;
  info.mode = metadata.pair_mode;
  info.peer_site = metadata.peer_site;
  info.peer_volume = metadata.peer_volume;
  info.size_bytes = volume.size_bytes();
  info.allocated_bytes = volume.Attributes().allocated_bytes;
  info.copy_progress = metadata.status == "PAIR" ? 100 : 0;
  info.reserved_by = metadata.reserved_by;
  info.fence = metadata.fence;
  info.group = metadata.group;
  info.generation = metadata.generation;
  info.generation_site = metadata.generation_site;
  info.consistent = metadata.consistent;
  info.outdated = metadata.outdated;
  info.fenced = metadata.fenced;
  info.reserve_epoch = metadata.reserve_epoch;
  info.reserve_outdated = metadata.reserve_outdated;
  info.region_size_bytes = metadata.region_size_bytes;
  info.rpo_takeover_unix_ms = metadata.rpo_takeover_unix_ms;  // asyncrest
  info.rpo_lost_writes = metadata.rpo_lost_writes;
  info.rpo_lost_bytes = metadata.rpo_lost_bytes;
  info.open_count = volume.open_count().load();
  if (replicator != nullptr) replicator->Describe(volume, &info);
  for (std::string* keyword : {&info.role, &info.status, &info.mode, &info.fence}) {
    *keyword = Within(*keyword, wire::kMaxKeywordBytes);
  }
  for (std::string* site : {&info.peer_site, &info.generation_site, &info.reserve_outdated}) {
    *site = Within(*site, wire::kMaxSiteNameBytes);
  }
  info.peer_volume = Within(info.peer_volume, wire::kMaxVolumeNameBytes);
  info.reserved_by = Within(info.reserved_by, wire::kMaxHolderBytes);
  info.group = Within(info.group, wire::kMaxGroupNameBytes);
  return info;
}

ControlServer::ControlServer(VolumeStore& store, std::string site_name, Replicator* replicator,
                             bool link_authenticated)
    : store_(store),
      site_name_(std::move(site_name)),
      replicator_(replicator),
      link_authenticated_(link_authenticated) {}

ControlServer::~ControlServer() { Stop(); }

Status ControlServer::Start(wire::Context& context, const std::string& endpoint) {
  Result<std::unique_ptr<wire::Server>> server = wire::Server::Bind(context, endpoint);
  if (!server.ok()) return server.status();
  server_ = std::move(server.value());
  EnableNodeEvents(site_name_);  // ops (issue 15 part 1): the node's event log, from now on
  // The socket moves to the serving thread here; thread creation is the memory barrier ZeroMQ asks
  // for.
  StartCarriers();
  thread_ = std::thread([this] { Serve(); });
  spdlog::info("control: serving {}", endpoint);
  return Status::Ok();
}

void ControlServer::Stop() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
  StopCarriers();
  server_.reset();
}

void ControlServer::Serve() {
  while (!stopping_.load()) {
    SendCarryAnswers();
    Result<std::optional<wire::Incoming>> incoming =
        server_->Receive(CarriesPending() ? kCarryAnswerPollMs : kControlPollMs);
    if (!incoming.ok()) {
      spdlog::warn("control: refused a message: {}", incoming.status().message());
      continue;
    }
    if (!incoming.value()) continue;
    const wire::Incoming& request = *incoming.value();
    if (request.frame.type == wire::MessageType::kCarry) {
      Status queued = QueueCarry(request);
      if (queued.ok()) continue;
      Status sent = server_->Answer(request, site_name_, wire::Reply::FromStatus(queued));
      if (!sent.ok()) spdlog::warn("control: cannot answer: {}", sent.message());
      continue;
    }
    // pairctl events (issue 15), answered at once from the event log (its reply
    // is not a wire::Reply; node/events_server.h).
    if (request.frame.type == wire::MessageType::kEvents) {
      Status sent =
          server_->Answer(request, site_name_, AnswerEvents(request.frame, store_, replicator_));
      if (!sent.ok()) spdlog::warn("control: cannot answer: {}", sent.message());
      continue;
    }
    const wire::Reply reply = Handle(request.frame);
    Status sent = server_->Answer(request, site_name_, reply);
    if (!sent.ok()) spdlog::warn("control: cannot answer: {}", sent.message());
  }
}

wire::Reply ControlServer::Handle(const wire::Frame& frame) {
  using wire::MessageType;
  if (frame.type == MessageType::kCarry) return HandleCarry(frame);
  Status status = CheckRequestText(frame);
  if (!status.ok()) return wire::Reply::FromStatus(status);
  if (std::optional<wire::Reply> group = HandleGroup(frame)) return *group;
  wire::Reply reply;
  switch (frame.type) {
    case MessageType::kVolumeCreate: status = HandleVolumeCreate(frame, &reply); break;
    case MessageType::kVolumeDelete: status = HandleVolumeDelete(frame); break;
    case MessageType::kVolumeResize: status = HandleVolumeResize(frame, &reply); break;
    case MessageType::kVolumeList:
    case MessageType::kDisplay: status = HandleDisplay(frame, &reply); break;
    case MessageType::kReserve:
    case MessageType::kRelease: status = HandleReservation(frame, &reply); break;
    case MessageType::kPairCreate:
    case MessageType::kSplit:
    case MessageType::kResync:
    case MessageType::kTakeover:
    case MessageType::kDissolve:
    case MessageType::kFence:
    case MessageType::kVerify: status = HandlePair(frame, &reply); break;
    default:
      status =
          Status::Unsupported(std::string("message type ") + wire::MessageTypeName(frame.type) +
                              " is not served on the control endpoint");
  }
  if (!status.ok()) return wire::Reply::FromStatus(status);
  for (wire::VolumeInfo& volume : reply.volumes)
    volume.link_authenticated = link_authenticated_ && !volume.peer_site.empty();
  return reply;
}

Status ControlServer::HandleVolumeCreate(const wire::Frame& frame, wire::Reply* reply) {
  wire::VolumeCreateRequest request;
  if (Status decoded = Decode(frame, &request); !decoded.ok()) return decoded;
  Result<std::shared_ptr<Volume>> volume = store_.Create(request.name, request.size_bytes);
  if (!volume.ok()) return volume.status();
  spdlog::info("volume {} created, {} bytes", request.name, request.size_bytes);
  reply->volumes.push_back(DescribeVolume(*volume.value(), replicator_));
  return Status::Ok();
}

Status ControlServer::HandleVolumeDelete(const wire::Frame& frame) {
  wire::VolumeDeleteRequest request;
  Status status = Decode(frame, &request);
  if (status.ok()) status = store_.Delete(request.name, site_name_);
  if (status.ok()) spdlog::info("volume {} deleted", request.name);
  return status;
}

Status ControlServer::HandleVolumeResize(const wire::Frame& frame, wire::Reply* reply) {
  wire::VolumeResizeRequest request;
  Status status = Decode(frame, &request);
  if (status.ok()) status = store_.Resize(request.name, request.size_bytes);
  if (!status.ok()) return status;
  spdlog::info("volume {} resized to {} bytes", request.name, request.size_bytes);
  reply->volumes.push_back(DescribeVolume(*store_.Find(request.name), replicator_));
  return Status::Ok();
}

Status ControlServer::HandleDisplay(const wire::Frame& frame, wire::Reply* reply) {
  wire::DisplayRequest request;  // a list request has the same fields
  if (Status decoded = Decode(frame, &request); !decoded.ok()) return decoded;
  if (!request.name.empty()) {
    std::shared_ptr<Volume> volume = store_.Find(request.name);
    if (!volume) return Status::NotFound("no volume named " + request.name);
    reply->volumes.push_back(DescribeVolume(*volume, replicator_));
    return Status::Ok();
  }
  // One page: the volumes named after `after`, in name order (the store's map is sorted).
  for (const auto& volume : store_.List()) {
    if (volume->name() <= request.after) continue;
    if (reply->volumes.size() == wire::kDisplayPageVolumes) {
      reply->more = true;
      break;
    }
    reply->volumes.push_back(DescribeVolume(*volume, replicator_));
  }
  return Status::Ok();
}

Status ControlServer::HandleReservation(const wire::Frame& frame, wire::Reply* reply) {
  wire::ReserveRequest request;
  if (Status decoded = Decode(frame, &request); !decoded.ok()) return decoded;
  const std::string holder = request.holder.empty() ? site_name_ : request.holder;
  if (Status named = CheckSiteName(holder); !named.ok()) return named;
  std::shared_ptr<Volume> volume = store_.Find(request.name);
  if (!volume) return Status::NotFound("no volume named " + request.name);
  const bool reserve = frame.type == wire::MessageType::kReserve;
  Status status;
  if (replicator_ != nullptr) {
    ReserveOptions options;
    options.holder = holder;
    options.release = !reserve;
    options.preempt = request.preempt;
    options.force = !reserve && request.force;  // ops: clusterd's cluster takeover --force
    status = replicator_->Reserve(request.name, options, false);
  } else {
    status = reserve ? volume->Reserve(holder) : volume->Release(holder);
  }
  if (!status.ok()) return status;
  spdlog::info("volume {} {} for site {}", request.name, reserve ? "reserved" : "released", holder);
  reply->volumes.push_back(DescribeVolume(*volume, replicator_));
  return Status::Ok();
}

Status ControlServer::HandlePair(const wire::Frame& frame, wire::Reply* reply) {
  using wire::MessageType;
  if (replicator_ == nullptr) {
    return Status::InvalidArgument("site " + site_name_ +
                                   " has no [peer] in its config: no pairs here");
  }
  std::string name;
  std::string note;
  // Decodes the request as T, remembers its volume and runs `command` on it.
  auto run = [&](auto request, auto command) {
    Status decoded = Decode(frame, &request);
    name = request.name;
    return decoded.ok() ? command(request) : decoded;
  };
  Status status;
  switch (frame.type) {
    case MessageType::kPairCreate:
      status = run(wire::PairCreateRequest{},
                   [&](const auto& r) { return replicator_->CreatePair(r, &note); });
      break;
    case MessageType::kSplit:
      status = run(wire::SplitRequest{}, [&](const auto& r) {
        return replicator_->Split(r.name, r.read_write, false, &note);
      });
      break;
    case MessageType::kResync:
      status = run(wire::ResyncRequest{}, [&](const auto& r) {
        return replicator_->Resync(r.name, r.swap, false, &note);
      });
      break;
    case MessageType::kTakeover:
      status = run(wire::TakeoverRequest{}, [&](const auto& r) {
        return replicator_->Takeover(r.name, r.force, r.cluster, r.peer_lost, &note);
      });
      break;
    case MessageType::kDissolve:
      status = run(wire::DissolveRequest{},
                   [&](const auto& r) { return replicator_->Dissolve(r.name, &note); });
      break;
    case MessageType::kFence:
      status = run(wire::FenceRequest{},
                   [&](const auto& r) { return replicator_->Fence(r.name, r.fenced, r.winner); });
      break;
    default:  // kVerify
      return run(wire::VerifyRequest{}, [&](const auto& r) {
        Result<std::vector<uint64_t>> mismatches = replicator_->Verify(r.name, r.offset, r.length);
        if (!mismatches.ok()) return mismatches.status();
        reply->mismatches = std::move(mismatches.value());
        return Status::Ok();
      });
  }
  if (!status.ok()) return status;
  spdlog::info("{} {}: done{}{}", wire::MessageTypeName(frame.type), name, note.empty() ? "" : ": ",
               note);
  reply->message = note;
  if (std::shared_ptr<Volume> volume = store_.Find(name))
    reply->volumes.push_back(DescribeVolume(*volume, replicator_));
  return Status::Ok();
}

}  // namespace pairfs::node
