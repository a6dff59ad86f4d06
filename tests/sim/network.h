// A seeded, deterministic network for simulations of the replication and cluster logic.
//
// Sites exchange opaque messages (wire frames) in virtual time. Each message may be dropped,
// delayed, duplicated or overtaken by a later one, by a fault profile and a seed; links can be
// cut one way or both ways. The same seed and the same sends give the same deliveries, so a
// failing run is replayed from its seed. Not thread-safe: a simulation runs on one thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace pairfs::sim {

// How unreliable a link is. Probabilities are per message; delays are uniform in [min, max].
struct FaultProfile {
  double drop = 0.0;
  double duplicate = 0.0;
  int64_t min_delay_ms = 1;
  int64_t max_delay_ms = 1;  // wider than min: later messages may overtake earlier ones
  // Late frames: a message held in a queue (a ZeroMQ socket keeps its frames across a reconnect)
  // and delivered after a further delay in [late_min_delay_ms, late_max_delay_ms]. With `late`
  // 0 no draw is made for it, so the schedules of existing seeds do not change.
  double late = 0.0;
  int64_t late_min_delay_ms = 0;
  int64_t late_max_delay_ms = 0;
};

struct Delivery {
  int64_t at_ms = 0;
  std::string from;
  std::string to;
  std::string bytes;
};

class Network {
 public:
  Network(uint64_t seed, FaultProfile profile) : random_(seed), profile_(profile) {}

  // Queues `bytes` from `from` to `to`, sent at `now_ms`. Dropped at once on a cut link (a
  // message already in flight when the link is cut is still delivered, as on a real wire).
  void Send(int64_t now_ms, const std::string& from, const std::string& to, std::string bytes);

  void set_profile(FaultProfile profile) { profile_ = profile; }

  // Cuts or heals the link from `from` to `to` (one way). Cut both ways for a full partition.
  void Cut(const std::string& from, const std::string& to) { cut_.insert({from, to}); }
  void Heal(const std::string& from, const std::string& to) { cut_.erase({from, to}); }
  bool IsCut(const std::string& from, const std::string& to) const {
    return cut_.count({from, to}) != 0;
  }

  // Drops every message in flight to `site` (it crashed: its sockets' buffers are gone).
  void DropInFlightTo(const std::string& site);

  // The time of the next delivery, if any.
  std::optional<int64_t> NextDeliveryAt() const;

  // Removes and returns the next delivery due at or before `now_ms`, earliest first (ties in
  // send order).
  std::optional<Delivery> Deliver(int64_t now_ms);

  uint64_t sent() const { return sent_; }
  uint64_t dropped() const { return dropped_; }
  uint64_t duplicated() const { return duplicated_; }

 private:
  struct Pending {
    Delivery delivery;
    uint64_t order;
    bool operator>(const Pending& other) const {
      return delivery.at_ms != other.delivery.at_ms ? delivery.at_ms > other.delivery.at_ms
                                                    : order > other.order;
    }
  };
  void Enqueue(int64_t now_ms, const std::string& from, const std::string& to,
               const std::string& bytes);

  std::mt19937_64 random_;
  FaultProfile profile_;
  std::set<std::pair<std::string, std::string>> cut_;
  std::priority_queue<Pending, std::vector<Pending>, std::greater<Pending>> queue_;
  uint64_t next_order_ = 0;
  uint64_t sent_ = 0, dropped_ = 0, duplicated_ = 0;
};

}  // namespace pairfs::sim
