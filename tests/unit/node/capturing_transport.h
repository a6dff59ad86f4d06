// A node::PeerTransport that keeps every frame a replicator sends to its peer, so that a test
// plays the peer by hand: it delivers the peer's frames with Replicator::OnFrame and reads the
// replicator's answers here. Shared by copy_engine_test.cc and pair_commands_test.cc.
// Thread-safe: the replicator's threads send while the test reads.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "node/replicator_options.h"
#include "wire/envelope.h"

namespace pairfs::testing {

class CapturingTransport : public node::PeerTransport {
 public:
  // Keeps the frame (bytes that do not decode are dropped). Always Ok.
  Status Send(std::string frame_bytes) override {
    Result<wire::Frame> frame = wire::DecodeFrame(frame_bytes);
    if (!frame.ok()) return Status::Ok();
    std::lock_guard<std::mutex> lock(mutex_);
    frames_.push_back(std::move(frame.value()));
    return Status::Ok();
  }
  // The ids of the distinct replica writes sent so far, in the order sent (a retransmit counts
  // once).
  std::vector<uint64_t> ReplicaWrites() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<uint64_t> ids;
    for (const wire::Frame& frame : frames_) {
      if (frame.type != wire::MessageType::kReplicaWrite) continue;
      if (std::find(ids.begin(), ids.end(), frame.request_id) == ids.end())
        ids.push_back(frame.request_id);
    }
    return ids;
  }
  // The frame sent with request id `id` and type `type` (without `type`: of any type but a
  // status, which carries no answer), waiting up to 10 s for it: a deadline against hangs only.
  // Nullopt if none came.
  std::optional<wire::Frame> AnswerTo(uint64_t id,
                                      std::optional<wire::MessageType> type = std::nullopt) {
    for (int i = 0; i < kAnswerPolls; ++i) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        for (const wire::Frame& frame : frames_) {
          if (frame.request_id != id) continue;
          if (type ? frame.type == *type : frame.type != wire::MessageType::kPeerStatus)
            return frame;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(kAnswerPollMs));
    }
    return std::nullopt;
  }

 private:
  static constexpr int kAnswerPollMs = 10;
  static constexpr int kAnswerPolls = 1000;  // 10 s
  std::mutex mutex_;
  std::vector<wire::Frame> frames_;
};

}  // namespace pairfs::testing
