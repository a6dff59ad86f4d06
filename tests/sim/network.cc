#include "tests/sim/network.h"

namespace pairfs::sim {

void Network::Enqueue(int64_t now_ms, const std::string& from, const std::string& to,
                      const std::string& bytes) {
  std::uniform_int_distribution<int64_t> delay(
      profile_.min_delay_ms, std::max(profile_.min_delay_ms, profile_.max_delay_ms));
  int64_t at_ms = now_ms + delay(random_);
  if (profile_.late > 0 &&
      std::uniform_real_distribution<double>(0.0, 1.0)(random_) < profile_.late) {
    at_ms += std::uniform_int_distribution<int64_t>(profile_.late_min_delay_ms,
                                                    profile_.late_max_delay_ms)(random_);
  }
  queue_.push({{at_ms, from, to, bytes}, next_order_++});
}

void Network::Send(int64_t now_ms, const std::string& from, const std::string& to,
                   std::string bytes) {
  ++sent_;
  std::uniform_real_distribution<double> chance(0.0, 1.0);
  if (IsCut(from, to) || chance(random_) < profile_.drop) {
    ++dropped_;
    return;
  }
  if (chance(random_) < profile_.duplicate) {
    ++duplicated_;
    Enqueue(now_ms, from, to, bytes);
  }
  Enqueue(now_ms, from, to, bytes);
}

void Network::DropInFlightTo(const std::string& site) {
  decltype(queue_) kept;
  while (!queue_.empty()) {
    if (queue_.top().delivery.to != site)
      kept.push(queue_.top());
    else
      ++dropped_;
    queue_.pop();
  }
  queue_ = std::move(kept);
}

std::optional<int64_t> Network::NextDeliveryAt() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.top().delivery.at_ms;
}

std::optional<Delivery> Network::Deliver(int64_t now_ms) {
  if (queue_.empty() || queue_.top().delivery.at_ms > now_ms) return std::nullopt;
  Delivery delivery = queue_.top().delivery;
  queue_.pop();
  return delivery;
}

}  // namespace pairfs::sim
