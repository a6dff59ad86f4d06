// The peer's writes and flushes, served at this site (the other half of write_path.cc): a
// replica write from the primary (ServeReplicaWrite: the secondary writes its copy and acks), a
// forwarded write from the secondary (ServeForwardedWrite: the primary checks and orders it,
// writes its own copy, grants it and holds the range until the secondary confirms its copy), and
// a flush. Answers are remembered for retransmits (AnsweredRequests, in Serve).
#include <optional>
#include <string_view>

#include <spdlog/spdlog.h>

#include "node/latency_histogram.h"
#include "node/replicator.h"
#include "node/replicator_internal.h"
#include "node/write_rules.h"

namespace pairfs::node {

using namespace replicator_internal;
using wire::MessageType;

namespace {

// Decodes a replica or forwarded write and checks it (wire::CheckWrite: length 1 to
// kMaxDataBytes, data as long as it says, a known kind, no overflow). `*data` points into the
// frame's body.
Status DecodeWrite(const wire::Frame& frame, wire::WriteMessage* message, std::string_view* data) {
  Status decoded = wire::DecodeWriteBody(frame.body, message, data);
  if (!decoded.ok()) return decoded;
  return wire::CheckWrite(*message, data->size());
}

Status DecodeFlush(std::string_view body, wire::FlushMessage* message) {
  Status decoded = wire::DecodeBody(body, message);
  if (!decoded.ok()) return decoded;
  return wire::CheckFlush(*message);
}

}  // namespace

void Replicator::ServeReplicaWrite(const wire::Frame& frame) {
  StageTimer timer(Stage::kServeWrite);
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
  if (!AcceptsReplicaWrite(view.state, view.generation, message.generation)) {
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
    const StageTimer::Clock::time_point started = timer.now();
    // O_DIRECT when a flush ahead followed the last write (WriteRaw falls back to the page
    // cache for what is not aligned): the fsync that follows is then only the device's flush.
    const bool direct =
        pair->flushes_follow_writes.exchange(false) && message.length <= kDirectReplicaWriteBytes;
    written = pair->volume->WriteRaw(static_cast<wire::WriteKind>(message.kind), message.offset,
                                     data.data(), message.length, direct);
    timer.Since(Stage::kServeWriteLocal, started);
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
  const Code judged = JudgeForwardedWrite(WriteRuleFor(view.state, view.context), view.generation,
                                          message.generation, pair->volume->metadata().reserved_by,
                                          message.origin_site);
  if (judged != Code::kOk) return answer(judged);
  Result<size_t> length = pair->volume->ClampToEnd(message.offset, message.length);
  if (!length.ok() || length.value() != message.length) return answer(Code::kNoSpace);
  RangeLock::Guard exclusive = pair->volume->exclusive().Acquire(message.offset, message.length);
  // Check again with the range held (node/write_rules.h).
  if (!ForwardedWriteStillCurrent(pair->Snapshot().generation, message.generation)) {
    return answer(Code::kReadOnly);
  }
  Result<Activity> activity = Activity::Begin(*pair, message.offset, message.length, true);
  if (!activity.ok()) return answer(activity.status().code());
  Status written = pair->volume->WriteRaw(static_cast<wire::WriteKind>(message.kind),
                                          message.offset, data.data(), message.length, false);
  if (!written.ok()) {
    KeepChanged(*pair, message.offset, message.length);
    SuspendOnDiskFault(*pair, view.generation,
                       "a forwarded write failed here: " + written.message());
    return answer(DiskFaultCode(written));
  }
  // Granted: the range stays exclusive here until the secondary has written its copy. A flush
  // ahead sent before now does not cover it (node/flush_path.cc FlushAhead).
  pair->writes_sent.fetch_add(1);
  confirms_->Register(frame.request_id);
  answer(Code::kOk);
  std::optional<wire::Frame> confirm =
      confirms_->Wait(frame.request_id, options_.peer_timeout_ms, 0, nullptr);
  if (!confirm) {
    spdlog::warn("pair {}: site {} did not confirm a granted write", message.volume,
                 options_.peer_site);
    OnLinkLost(*pair, view.generation);
    return;
  }
  wire::WriteReplyMessage confirmed;
  if (wire::DecodeBody(confirm->body, &confirmed).ok() && confirmed.code != 0) {
    KeepChanged(*pair, message.offset, message.length);
    SuspendOnDiskFault(*pair, view.generation,
                       std::string("a granted write failed at site ") + options_.peer_site + " (" +
                           CodeName(static_cast<Code>(confirmed.code)) + ")");
  }
}

void Replicator::ServeFlush(const wire::Frame& frame) {
  StageTimer timer(Stage::kServeFlush);
  wire::FlushMessage message;
  if (Status decoded = DecodeFlush(frame.body, &message); !decoded.ok()) {
    CountRefusal(frame.type, decoded);
    message = {};
    message.code = static_cast<uint8_t>(Code::kInvalidArgument);
    return Answer(frame, MessageType::kFlushAck, wire::EncodeBody(message));
  }
  if (message.through_sequence != 0 && !answered_->Answered(message.through_sequence)) {
    // A flush ahead of a write that has not reached this site (its frame was dropped and will be
    // sent again): an fdatasync now would not cover it. The primary sends a plain flush instead.
    message.code = static_cast<uint8_t>(Code::kBusy);
    return Answer(frame, MessageType::kFlushAck, wire::EncodeBody(message));
  }
  if (message.through_sequence != 0) {
    if (std::shared_ptr<Pair> pair = FindPair(message.volume)) pair->flushes_follow_writes = true;
  }
  std::shared_ptr<Volume> volume = store_.Find(message.volume);
  const StageTimer::Clock::time_point started = timer.now();
  Status flushed = volume ? volume->Flush() : Status::NotFound("no volume named " + message.volume);
  timer.Since(Stage::kServeFlushLocal, started);
  if (volume && !flushed.ok()) {
    spdlog::error("volume {}: flush failed: {}", message.volume, flushed.message());
    if (std::shared_ptr<Pair> pair = FindPair(message.volume)) KeepAllChanged(*pair);
  }
  message.code = static_cast<uint8_t>(DiskFaultCode(flushed));
  Answer(frame, MessageType::kFlushAck, wire::EncodeBody(message));
}

}  // namespace pairfs::node
