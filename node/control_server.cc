#include "node/control_server.h"

#include <spdlog/spdlog.h>

#include "node/limits.h"
#include "node/names.h"

namespace pairfs::node {
namespace {

template <class T>
Status Decode(const wire::Frame& frame, T* request) {
  Status decoded = wire::DecodeBody(frame.body, request);
  if (!decoded.ok()) {
    return Status::InvalidArgument(std::string(wire::MessageTypeName(frame.type)) + " request: " + decoded.message());
  }
  return Status::Ok();
}

}  // namespace

wire::VolumeInfo DescribeVolume(Volume& volume) {
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
  info.open_count = volume.open_count().load();
  return info;
}

ControlServer::ControlServer(VolumeStore& store, std::string site_name)
    : store_(store), site_name_(std::move(site_name)) {}

ControlServer::~ControlServer() { Stop(); }

Status ControlServer::Start(wire::Context& context, const std::string& endpoint) {
  Result<std::unique_ptr<wire::Server>> server = wire::Server::Bind(context, endpoint);
  if (!server.ok()) return server.status();
  server_ = std::move(server.value());
  // The socket moves to the serving thread here; thread creation is the memory barrier ZeroMQ asks for.
  thread_ = std::thread([this] { Serve(); });
  spdlog::info("control: serving {}", endpoint);
  return Status::Ok();
}

void ControlServer::Stop() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

void ControlServer::Serve() {
  while (!stopping_.load()) {
    Result<std::optional<wire::Incoming>> incoming = server_->Receive(kControlPollMs);
    if (!incoming.ok()) {
      spdlog::warn("control: refused a message: {}", incoming.status().message());
      continue;
    }
    if (!incoming.value()) continue;
    const wire::Incoming& request = *incoming.value();
    const wire::Reply reply = Handle(request.frame);
    Status sent = server_->Answer(request, site_name_, reply);
    if (!sent.ok()) spdlog::warn("control: cannot answer: {}", sent.message());
  }
}

wire::Reply ControlServer::Handle(const wire::Frame& frame) {
  using wire::MessageType;
  Status status;
  wire::Reply reply;
  switch (frame.type) {
    case MessageType::kVolumeCreate: {
      wire::VolumeCreateRequest request;
      status = Decode(frame, &request);
      if (!status.ok()) break;
      Result<std::shared_ptr<Volume>> volume = store_.Create(request.name, request.size_bytes);
      status = volume.status();
      if (status.ok()) {
        spdlog::info("volume {} created, {} bytes", request.name, request.size_bytes);
        reply.volumes.push_back(DescribeVolume(*volume.value()));
      }
      break;
    }
    case MessageType::kVolumeDelete: {
      wire::VolumeDeleteRequest request;
      status = Decode(frame, &request);
      if (status.ok()) status = store_.Delete(request.name, site_name_);
      if (status.ok()) spdlog::info("volume {} deleted", request.name);
      break;
    }
    case MessageType::kVolumeResize: {
      wire::VolumeResizeRequest request;
      status = Decode(frame, &request);
      if (status.ok()) status = store_.Resize(request.name, request.size_bytes);
      if (status.ok()) {
        spdlog::info("volume {} resized to {} bytes", request.name, request.size_bytes);
        reply.volumes.push_back(DescribeVolume(*store_.Find(request.name)));
      }
      break;
    }
    case MessageType::kVolumeList:
    case MessageType::kDisplay: {
      wire::DisplayRequest request;  // a list request has the same fields
      status = Decode(frame, &request);
      if (!status.ok()) break;
      if (request.name.empty()) {
        for (const auto& volume : store_.List()) reply.volumes.push_back(DescribeVolume(*volume));
      } else if (std::shared_ptr<Volume> volume = store_.Find(request.name)) {
        reply.volumes.push_back(DescribeVolume(*volume));
      } else {
        status = Status::NotFound("no volume named " + request.name);
      }
      break;
    }
    case MessageType::kReserve:
    case MessageType::kRelease: {
      wire::ReserveRequest request;
      status = Decode(frame, &request);
      if (!status.ok()) break;
      const std::string holder = request.holder.empty() ? site_name_ : request.holder;
      status = CheckSiteName(holder);
      if (!status.ok()) break;
      std::shared_ptr<Volume> volume = store_.Find(request.name);
      if (!volume) {
        status = Status::NotFound("no volume named " + request.name);
        break;
      }
      const bool reserve = frame.type == MessageType::kReserve;
      status = reserve ? volume->Reserve(holder) : volume->Release(holder);
      if (status.ok()) {
        spdlog::info("volume {} {} for site {}", request.name, reserve ? "reserved" : "released", holder);
        reply.volumes.push_back(DescribeVolume(*volume));
      }
      break;
    }
    default:
      status = Status::Unsupported(std::string("message type ") + wire::MessageTypeName(frame.type) +
                                   " is not served on the control endpoint");
  }
  return status.ok() ? reply : wire::Reply::FromStatus(status);
}

}  // namespace pairfs::node
