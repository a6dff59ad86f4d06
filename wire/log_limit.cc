#include "wire/log_limit.h"

#include <chrono>

namespace pairfs::wire {
namespace {

int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool LogLimiter::Allow(const std::string& kind, uint64_t* suppressed, int64_t now_ms) {
  if (now_ms == 0) now_ms = SteadyNowMs();
  std::lock_guard<std::mutex> lock(mutex_);
  ++total_;
  auto found = kinds_.find(kind);
  if (found == kinds_.end()) {
    const std::string key = kinds_.size() < kMaxLogKinds ? kind : "other";
    found = kinds_.try_emplace(key).first;
  }
  Kind& counted = found->second;
  ++counted.total;
  if (counted.logged && now_ms - counted.last_logged_ms < interval_ms_) {
    ++counted.suppressed;
    return false;
  }
  *suppressed = counted.suppressed;
  counted.suppressed = 0;
  counted.last_logged_ms = now_ms;
  counted.logged = true;
  return true;
}

uint64_t LogLimiter::Count(const std::string& kind) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = kinds_.find(kind);
  return found == kinds_.end() ? 0 : found->second.total;
}

uint64_t LogLimiter::Total() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return total_;
}

std::map<std::string, uint64_t> LogLimiter::Counts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::map<std::string, uint64_t> counts;
  for (const auto& [kind, counted] : kinds_) counts.emplace(kind, counted.total);
  return counts;
}

LogLimiter& RefusalLog() {
  static LogLimiter limiter;
  return limiter;
}

}  // namespace pairfs::wire
