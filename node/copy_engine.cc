// The copy engine: the initial copy, a resync's copy and the copy of the regions marked at a
// restart. One thread per pair (StartCopy) sends the marked regions to the secondary in chunks of
// kCopyChunkBytes, kCopyChunksInFlight at once, each chunk's range held until its answer; the copy
// ends with both copies flushed and the pair in PAIR (FinishCopy), or suspends on the first
// failure. A copy is bound to the pair as it started it (node/copy_engine.h): outlived, or refused
// by a peer with a newer generation, it stops at once, its chunks' calls cancelled (a PeerCalls
// scope) rather than waited out, and its regions stay marked.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "node/copy_engine.h"
#include "node/limits.h"
#include "node/names.h"
#include "node/replicator.h"
#include "node/replicator_internal.h"

namespace pairfs::node {

using namespace replicator_internal;
using wire::MessageType;

namespace {

bool AllZero(const char* data, size_t length) {
  static const char kZeros[4096] = {};
  for (size_t done = 0; done < length; done += sizeof kZeros) {
    const size_t step = std::min(sizeof kZeros, length - done);
    if (std::memcmp(data + done, kZeros, step) != 0) return false;
  }
  return true;
}

// Reads a chunk of this copy into `*buffer` for the copy; false, logged and with `*disk_fault`
// saying why, when it cannot (a read error or a short read: not a lost link).
bool ReadChunk(Volume& volume, uint64_t offset, uint64_t length, std::vector<char>* buffer,
               std::string* disk_fault) {
  buffer->resize(length);
  Result<size_t> read = volume.Read(offset, length, buffer->data(), false);
  if (read.ok() && read.value() == length) return true;
  const std::string why = read.ok() ? std::string("short read") : read.status().message();
  spdlog::error("pair {}: copy cannot read at {}: {}", volume.name(), offset, why);
  *disk_fault = "the copy cannot read this copy: " + why;
  return false;
}

}  // namespace

namespace replicator_internal {

bool CopyStillCurrent(const wire::Generation& started, const PairState& now,
                      const wire::Generation& generation) {
  return generation == started && now.role == PairRole::kPrimary && IsReplicating(now.status) &&
         !now.outdated;
}

void StopCopy(Replicator::Pair& pair, PeerCalls& calls) {
  pair.stop_copy.store(true);
  if (const uint64_t scope = pair.copy_scope.load()) calls.CancelScope(scope);
}

Status StopCopyFor(Replicator::Pair& pair, PeerCalls& calls, PairEvent event,
                   const PairContext& context) {
  {
    std::lock_guard<std::mutex> lock(pair.mutex);
    Result<PairTransition> allowed = Transit(pair.state, event, context);
    if (!allowed.ok()) return allowed.status();
  }
  StopCopy(pair, calls);
  return Status::Ok();
}

void StopCopyIfOutlived(Replicator::Pair& pair, PeerCalls& calls) {
  if (pair.copy_scope.load() == 0 ||
      CopyStillCurrent(pair.copy_generation, pair.state, pair.generation)) {
    return;
  }
  spdlog::warn("pair {}: the copy started at generation {}/{} stops: the pair is {} {}{} at {}/{}",
               pair.volume->name(), pair.copy_generation.counter, pair.copy_generation.site,
               RoleName(pair.state.role), StatusName(pair.state.status),
               pair.state.outdated ? ", outdated" : "", pair.generation.counter,
               pair.generation.site);
  StopCopy(pair, calls);
}

}  // namespace replicator_internal

void Replicator::StartCopy(const std::shared_ptr<Pair>& pair) {
  std::lock_guard<std::mutex> lock(pair->copy_mutex);
  if (pair->copy_thread.joinable()) {
    pair->stop_copy.store(true);
    pair->copy_thread.join();
  }
  pair->stop_copy.store(false);
  pair->copy_total.store(0);
  pair->copy_done.store(0);
  pair->copy_thread =
      ThreadsOrPlain(options_.threads).Start("copy " + pair->volume->name(), [this, pair] {
        RunCopy(pair);
      });
}

void Replicator::RunCopy(std::shared_ptr<Pair> pair) {
  // Bound to the pair as it is now: a state change that outlives the copy cancels its scope.
  const uint64_t scope = calls_->OpenScope();
  Pair::View view;
  {
    std::lock_guard<std::mutex> lock(pair->mutex);
    view = {pair->state, pair->context, pair->generation, pair->peer_volume};
    pair->copy_generation = view.generation;
    pair->copy_scope.store(scope);
  }
  auto unbind = [&] {
    pair->copy_scope.store(0);
    calls_->CloseScope(scope);
  };
  if (!CopyStillCurrent(view.generation, view.state, view.generation)) {
    unbind();  // the pair changed before this thread ran: nothing to copy from here
    return;
  }
  const std::vector<uint64_t> regions = pair->regions->MarkedRegions();
  const uint64_t region_bytes = pair->regions->region_bytes();
  const uint64_t size = pair->volume->size_bytes();
  uint64_t total = 0;
  for (uint64_t region : regions) total += std::min(region_bytes, size - region * region_bytes);
  pair->copy_total.store(total);
  pair->copy_done.store(0);
  spdlog::info("pair {}: copying {} bytes ({} of {}) to site {}", pair->volume->name(), total,
               FormatSize(total), FormatSize(size), options_.peer_site);
  const auto started = Clock::now();
  const CopyOutcome outcome = SendMarkedRegions(*pair, view, regions);
  unbind();
  if (pair->stop_copy.load()) {  // outlived or stopped: what it did not copy stays marked
    spdlog::info("pair {}: copy stopped after {} of {}", pair->volume->name(),
                 FormatSize(pair->copy_done.load()), FormatSize(total));
    return;
  }
  if (outcome.failed) return OnCopyFailed(*pair, view, outcome);
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  spdlog::info("pair {}: copied {} in {:.1f} s", pair->volume->name(), FormatSize(total), seconds);
  AfterCopied(*pair, view, regions);
}

Replicator::CopyOutcome Replicator::SendMarkedRegions(Pair& pair, const PairView& view,
                                                      const std::vector<uint64_t>& regions) {
  const uint64_t region_bytes = pair.regions->region_bytes();
  const uint64_t size = pair.volume->size_bytes();
  struct InFlight {
    RangeLock::Guard exclusive;
    uint64_t id;
    uint64_t length;
    std::shared_ptr<const std::string> frame;
  };
  std::deque<InFlight> pending;
  CopyOutcome outcome;
  const uint64_t scope = pair.copy_scope.load();  // RunCopy's
  auto finish_oldest = [&] {
    InFlight& oldest = pending.front();
    std::optional<wire::Frame> answer =
        calls_->Wait(oldest.id, options_.peer_timeout_ms, options_.retransmit_ms,
                     [&] { (void)Transmit(oldest.frame); });
    window_->Release(oldest.length);
    ReadCopyAnswer(pair, view, scope, oldest.length, answer, &outcome);
    pending.pop_front();
  };
  // Each chunk checks the binding (node/copy_engine.h); a state change also cancels the scope,
  // which wakes the waits below at once.
  auto goes_on = [&] {
    if (pair.stop_copy.load()) return false;
    std::lock_guard<std::mutex> lock(pair.mutex);
    if (CopyStillCurrent(view.generation, pair.state, pair.generation)) return true;
    StopCopy(pair, *calls_);
    return false;
  };
  std::vector<char> buffer;
  for (size_t i = 0; i < regions.size() && !outcome.failed && goes_on();) {
    size_t j = i + 1;
    while (j < regions.size() && regions[j] == regions[j - 1] + 1 &&
           (j - i) * region_bytes < kCopyChunkBytes)
      ++j;
    const uint64_t offset = regions[i] * region_bytes;
    const uint64_t length = std::min<uint64_t>((j - i) * region_bytes, size - offset);
    i = j;
    RangeLock::Guard exclusive = pair.volume->exclusive().Acquire(offset, length);
    if (!ReadChunk(*pair.volume, offset, length, &buffer, &outcome.disk_fault)) {
      outcome.failed = true;
      break;
    }
    // A region of zeros goes as a hole: it stays a hole there and costs no bandwidth.
    const wire::WriteKind kind =
        AllZero(buffer.data(), length) ? wire::WriteKind::kPunchHole : wire::WriteKind::kData;
    Result<OutgoingWrite> outgoing =
        EncodeWrite(MessageType::kReplicaWrite, view.peer_volume, view.generation, options_.site,
                    kind, offset, buffer.data(), length);
    if (!outgoing.ok()) {
      outcome.failed = true;
      break;
    }
    if (!calls_->Join(outgoing->id, scope)) break;  // stopped meanwhile: the call is cancelled
    window_->Acquire(length);
    (void)Transmit(outgoing->frame);
    pending.push_back({std::move(exclusive), outgoing->id, length, std::move(outgoing->frame)});
    while (pending.size() >= kCopyChunksInFlight && !outcome.failed) finish_oldest();
  }
  while (!pending.empty()) finish_oldest();
  return outcome;
}

void Replicator::ReadCopyAnswer(Pair& pair, const PairView& view, uint64_t scope, uint64_t length,
                                const std::optional<wire::Frame>& answer, CopyOutcome* outcome) {
  wire::WriteReplyMessage reply;
  if (answer && wire::DecodeBody(answer->body, &reply).ok() && reply.code == 0) {
    pair.copy_done.fetch_add(length);
    return;
  }
  outcome->failed = true;
  if (answer && reply.generation.NewerThan(view.generation)) {
    // The peer moved on and refuses every chunk of this generation: the others are not waited
    // for (their ranges go now, not after their timeouts).
    outcome->peer_newer = reply.generation;
    calls_->CancelScope(scope);
  }
  if (answer && IsDiskFault(reply.code)) {
    outcome->disk_fault = std::string("a copy write failed at site ") + options_.peer_site + " (" +
                          CodeName(static_cast<Code>(reply.code)) + ")";
  }
}

void Replicator::OnCopyFailed(Pair& pair, const PairView& view, const CopyOutcome& outcome) {
  if (outcome.peer_newer) {  // e.g. a primary restarted after the peer took over: outdated, not a
                             // lost link
    spdlog::warn("pair {}: site {} refused the copy: it has a newer generation",
                 pair.volume->name(), options_.peer_site);
    OnPeerNewer(pair, view.generation, *outcome.peer_newer);
    return;
  }
  if (!outcome.disk_fault
           .empty()) {  // the regions stay marked: a resync after the repair copies them
    SuspendOnDiskFault(pair, view.generation, outcome.disk_fault);
    return;
  }
  spdlog::warn("pair {}: copy to site {} interrupted", pair.volume->name(), options_.peer_site);
  OnLinkLost(pair, view.generation);
}

void Replicator::AfterCopied(Pair& pair, const PairView& view,
                             const std::vector<uint64_t>& regions) {
  {
    std::lock_guard<std::mutex> lock(pair.epoch_mutex);  // copied: equal at both sites now
    for (uint64_t region : regions) {
      if (pair.last_epoch[region] == kPinnedEpoch) pair.last_epoch[region] = 0;
    }
  }
  if (view.state.status == PairStatus::kPAIR) {
    Status flushed = pair.volume->Flush();
    if (!flushed.ok()) {
      KeepAllChanged(pair);
      SuspendOnDiskFault(pair, view.generation,
                         "a flush after the copy failed here: " + flushed.message());
      return;
    }
    TrimActivityLog(pair, false);
    return;
  }
  Status finished = FinishCopy(pair, view.generation);
  if (!finished.ok())
    spdlog::warn("pair {}: cannot finish the copy: {}", pair.volume->name(), finished.message());
}

Status Replicator::FinishCopy(Pair& pair, const wire::Generation& generation) {
  // Both copies durable before either says so.
  Status flushed = pair.volume->Flush();
  if (!flushed.ok()) {
    KeepAllChanged(pair);
    SuspendOnDiskFault(pair, generation,
                       "a flush at the end of the copy failed here: " + flushed.message());
    return flushed;
  }
  wire::PeerCopyDoneCommand done{pair.Snapshot().peer_volume, generation};
  Result<wire::PeerAnswerMessage> answer = Ask(done);
  if (answer.ok() && IsDiskFault(answer->code)) {  // the peer could not save its PAIR (disk full)
    SuspendOnDiskFault(
        pair, generation,
        "the copy's end failed at site " + options_.peer_site + ": " + answer->message);
    return StatusFromCode(answer->code, answer->message);
  }
  if (!answer.ok() || answer->code != 0) {
    OnLinkLost(pair, generation);
    return answer.ok() ? StatusFromCode(answer->code, answer->message) : answer.status();
  }
  AfterSave after;
  {
    std::lock_guard<std::mutex> lock(pair.mutex);
    if (!(pair.generation == generation)) return Status::Ok();  // something else happened meanwhile
    Result<PairTransition> transition = Transit(pair.state, PairEvent::kCopyDone, pair.context);
    if (!transition.ok()) return transition.status();
    Status saved = Commit(pair, transition.value(), nullptr, &after);
    if (!saved.ok()) return saved;
  }
  RunAfterSave(pair, after);  // kClearDirty: the marks here, then the peer's
  return Status::Ok();
}

}  // namespace pairfs::node
