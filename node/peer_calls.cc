#include "node/peer_calls.h"

#include <algorithm>

namespace pairfs::node {

namespace {

// Runs what EraseSlot collected (awaited calls' completions, resends), after the lock is let go.
void RunAll(const std::vector<std::function<void()>>& calls) {
  for (const std::function<void()>& call : calls) call();
}

}  // namespace

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
  std::unique_lock<std::mutex> lock(mutex_);
  auto it = slots_.find(frame.request_id);
  if (it == slots_.end() || it->second->answer) return false;
  const Clock::time_point now = Clock::now();
  if (it->second->done) {
    Completion done = std::move(it->second->done);
    EraseSlot(it, false);
    lock.unlock();
    done(std::move(frame), now);
    return true;
  }
  it->second->answer = std::move(frame);
  it->second->delivered_at = now;
  it->second->ready.notify_all();
  return true;
}

void PeerCalls::Await(uint64_t id, int timeout_ms, int retransmit_ms, std::function<void()> resend,
                      Completion done) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto it = slots_.find(id);
  if (it == slots_.end() || it->second->answer) {
    // Cancelled (nullopt), or answered before this (the answer).
    std::optional<wire::Frame> answer;
    Clock::time_point at = Clock::now();
    if (it != slots_.end()) {
      answer = std::move(it->second->answer);
      at = it->second->delivered_at;
      EraseSlot(it, false);
    }
    lock.unlock();
    done(std::move(answer), at);
    return;
  }
  Slot& slot = *it->second;
  slot.done = std::move(done);
  slot.resend = std::move(resend);
  slot.retransmit_ms = retransmit_ms;
  slot.deadline_ms = clock_.NowMs() + timeout_ms;
  slot.next_resend_ms = clock_.NowMs() + retransmit_ms;
}

void PeerCalls::Expire() {
  Pending complete;
  Pending resends;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const int64_t now = clock_.NowMs();
    for (auto it = slots_.begin(); it != slots_.end();) {
      Slot& slot = *(it++)->second;
      if (!slot.done) continue;
      if (now >= slot.deadline_ms) {
        EraseSlot(std::prev(it), false, &complete);
      } else if (slot.resend && now >= slot.next_resend_ms) {
        slot.next_resend_ms = now + slot.retransmit_ms;
        resends.push_back(slot.resend);
      }
    }
  }
  RunAll(resends);
  RunAll(complete);
}

std::optional<wire::Frame> PeerCalls::Wait(uint64_t id, int timeout_ms, int retransmit_ms,
                                           const std::function<void()>& resend,
                                           Clock::time_point* delivered_at) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto it = slots_.find(id);
  if (it == slots_.end()) return std::nullopt;
  std::shared_ptr<Slot> slot = it->second;
  const int64_t deadline = clock_.NowMs() + timeout_ms;
  int64_t next_resend = clock_.NowMs() + retransmit_ms;
  while (!slot->answer && !slot->cancelled && clock_.NowMs() < deadline) {
    const int64_t until = resend ? std::min(deadline, next_resend) : deadline;
    clock_.WaitUntil(slot->ready, lock, until);
    const int64_t now = clock_.NowMs();
    if (!slot->answer && !slot->cancelled && resend && now >= next_resend && now < deadline) {
      lock.unlock();
      resend();
      lock.lock();
      next_resend = clock_.NowMs() + retransmit_ms;
    }
  }
  if (slot->cancelled) return std::nullopt;  // its slot is gone already
  it = slots_.find(id);
  if (it != slots_.end() && it->second == slot) EraseSlot(it, false);
  if (delivered_at != nullptr && slot->answer) *delivered_at = slot->delivered_at;
  return std::move(slot->answer);
}

void PeerCalls::Cancel(uint64_t id) {
  Pending complete;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = slots_.find(id);
    if (it != slots_.end()) EraseSlot(it, true, &complete);
  }
  RunAll(complete);
}

uint64_t PeerCalls::OpenScope() {
  std::lock_guard<std::mutex> lock(mutex_);
  const uint64_t scope = next_scope_++;
  scopes_[scope];
  return scope;
}

bool PeerCalls::Join(uint64_t id, uint64_t scope) {
  Pending complete;
  std::unique_lock<std::mutex> lock(mutex_);
  auto it = slots_.find(id);
  auto in = scopes_.find(scope);
  if (it == slots_.end() || in == scopes_.end()) return true;
  if (in->second.cancelled) {
    EraseSlot(it, true, &complete);
    lock.unlock();
    RunAll(complete);
    return false;
  }
  it->second->scope = scope;
  in->second.ids.insert(id);
  return true;
}

void PeerCalls::CancelScope(uint64_t scope) {
  Pending complete;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto in = scopes_.find(scope);
    if (in == scopes_.end()) return;
    in->second.cancelled = true;
    const std::set<uint64_t> ids = std::move(in->second.ids);
    in->second.ids.clear();
    for (uint64_t id : ids) {
      auto it = slots_.find(id);
      if (it != slots_.end()) EraseSlot(it, true, &complete);
    }
  }
  RunAll(complete);
}

void PeerCalls::CloseScope(uint64_t scope) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto in = scopes_.find(scope);
  if (in == scopes_.end()) return;
  for (uint64_t id : in->second.ids) {
    auto it = slots_.find(id);
    if (it != slots_.end()) it->second->scope = 0;
  }
  scopes_.erase(in);
}

void PeerCalls::EraseSlot(std::map<uint64_t, std::shared_ptr<Slot>>::iterator it, bool cancelled,
                          Pending* complete) {
  Slot& slot = *it->second;
  if (slot.scope != 0) {
    auto in = scopes_.find(slot.scope);
    if (in != scopes_.end()) in->second.ids.erase(it->first);
  }
  if (slot.done && complete != nullptr) {
    complete->push_back([done = std::move(slot.done)] { done(std::nullopt, Clock::now()); });
  }
  if (cancelled) {
    slot.cancelled = true;
    slot.ready.notify_all();
  }
  slots_.erase(it);
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
