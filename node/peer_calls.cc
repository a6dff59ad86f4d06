#include "node/peer_calls.h"

#include <algorithm>

namespace pairfs::node {

// ---- PeerCalls ----------------------------------------------------------------------------------

uint64_t PeerCalls::Begin() {
  std::lock_guard<std::mutex> lock(mutex_);
  const uint64_t id = next_id_++;
  slots_[id] = std::make_shared<Slot>();
  return id;
}

void PeerCalls::Register(uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  slots_[id] = std::make_shared<Slot>();
}

bool PeerCalls::Deliver(wire::Frame frame) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = slots_.find(frame.request_id);
  if (it == slots_.end() || it->second->answer) return false;
  it->second->answer = std::move(frame);
  it->second->delivered_at = Clock::now();
  it->second->ready.notify_all();
  return true;
}

std::optional<wire::Frame> PeerCalls::Wait(uint64_t id, int timeout_ms, int retransmit_ms,
                                           const std::function<void()>& resend,
                                           Clock::time_point* delivered_at) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto it = slots_.find(id);
  if (it == slots_.end()) return std::nullopt;
  std::shared_ptr<Slot> slot = it->second;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto next_resend = Clock::now() + std::chrono::milliseconds(retransmit_ms);
  while (!slot->answer && Clock::now() < deadline) {
    const auto until = resend ? std::min(deadline, next_resend) : deadline;
    slot->ready.wait_until(lock, until);
    if (!slot->answer && resend && Clock::now() >= next_resend && Clock::now() < deadline) {
      lock.unlock();
      resend();
      lock.lock();
      next_resend = Clock::now() + std::chrono::milliseconds(retransmit_ms);
    }
  }
  slots_.erase(id);
  if (delivered_at != nullptr && slot->answer) *delivered_at = slot->delivered_at;
  return std::move(slot->answer);
}

void PeerCalls::Cancel(uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  slots_.erase(id);
}

// ---- AnsweredRequests ---------------------------------------------------------------------------

AnsweredRequests::Claim AnsweredRequests::Take(uint64_t id, std::string* answer) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = answers_.find(id);
  if (it == answers_.end()) {
    answers_.emplace(id, std::string());
    order_.push_back(id);
    while (order_.size() > max_requests_ || bytes_ > max_bytes_) Forget();
    return Claim::kNew;
  }
  if (it->second.empty()) return Claim::kInProgress;
  *answer = it->second;
  return Claim::kDone;
}

bool AnsweredRequests::Answered(uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = answers_.find(id);
  return it != answers_.end() && !it->second.empty();
}

void AnsweredRequests::Store(uint64_t id, const std::string& answer) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = answers_.find(id);
  if (it == answers_.end()) return;
  bytes_ += answer.size() - it->second.size();
  it->second = answer;
  while (bytes_ > max_bytes_ && order_.size() > 1) Forget();
}

void AnsweredRequests::Forget() {
  auto it = answers_.find(order_.front());
  if (it != answers_.end()) {
    bytes_ -= it->second.size();
    answers_.erase(it);
  }
  order_.pop_front();
}

// ---- DataWindow ---------------------------------------------------------------------------------

void DataWindow::Acquire(size_t bytes) {
  std::unique_lock<std::mutex> lock(mutex_);
  released_.wait(lock, [&] { return used_ == 0 || used_ + bytes <= capacity_; });
  used_ += bytes;
}

void DataWindow::Release(size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  used_ -= bytes;
  released_.notify_all();
}

}  // namespace pairfs::node
