// The network between two real Replicators in a simulation (tests/sim/network.h driven in real
// time by one delivery thread), and the PeerTransport that sends into it. Shared by the
// replication simulations (replication_sim_test.cc, disk_fault_sim_test.cc). Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>

#include "node/replicator.h"
#include "tests/sim/network.h"
#include "wire/envelope.h"

namespace pairfs::sim {

// The network between the two replicators, driven in real time by one delivery thread.
class Wire {
 public:
  Wire(uint64_t seed) : network_(seed, FaultProfile{}), started_(std::chrono::steady_clock::now()) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Wire() {
    stop_ = true;
    thread_.join();
  }
  void Attach(const std::string& site, node::Replicator* replicator) {
    std::unique_lock<std::shared_mutex> lock(attach_mutex_);
    (site == "a" ? a_ : b_) = replicator;
  }
  // The site crashed: nothing reaches it, and what was in flight to it is lost.
  void Detach(const std::string& site) {
    std::unique_lock<std::shared_mutex> lock(attach_mutex_);
    (site == "a" ? a_ : b_) = nullptr;
    std::lock_guard<std::mutex> net(mutex_);
    network_.DropInFlightTo(site);
  }
  void Send(const std::string& from, std::string bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    network_.Send(Now(), from, from == "a" ? "b" : "a", std::move(bytes));
  }
  void SetProfile(FaultProfile profile) {
    std::lock_guard<std::mutex> lock(mutex_);
    network_.set_profile(profile);
  }
  void Partition(bool cut) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cut) {
      network_.Cut("a", "b");
      network_.Cut("b", "a");
    } else {
      network_.Heal("a", "b");
      network_.Heal("b", "a");
    }
  }

 private:
  int64_t Now() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 started_)
        .count();
  }
  void Run() {
    while (!stop_) {
      for (;;) {
        std::optional<Delivery> delivery;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          delivery = network_.Deliver(Now());
        }
        if (!delivery) break;
        std::shared_lock<std::shared_mutex> lock(attach_mutex_);
        node::Replicator* target = delivery->to == "a" ? a_ : b_;
        Result<wire::Frame> frame = wire::DecodeFrame(delivery->bytes);
        if (target != nullptr && frame.ok()) target->OnFrame(std::move(frame.value()));
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

  std::mutex mutex_;  // guards network_
  Network network_;
  std::shared_mutex attach_mutex_;  // guards a_ and b_; held shared while delivering
  node::Replicator* a_ = nullptr;
  node::Replicator* b_ = nullptr;
  const std::chrono::steady_clock::time_point started_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The options of a simulated site: fast statuses, trims and ticks so that a test sees the pair
// move within milliseconds; `peer_timeout_ms` and `retransmit_ms` are the test's own.
inline node::ReplicatorOptions SimReplicatorOptions(const std::string& site,
                                                    uint64_t region_size_bytes, int peer_timeout_ms,
                                                    int retransmit_ms) {
  node::ReplicatorOptions options;
  options.site = site;
  options.peer_site = site == "a" ? "b" : "a";
  options.peer_timeout_ms = peer_timeout_ms;
  options.retransmit_ms = retransmit_ms;
  options.status_interval_ms = 10;
  options.trim_interval_ms = 30;
  options.region_size_bytes = region_size_bytes;
  options.workers = 4;
  options.tick_ms = 5;
  return options;
}

class SimTransport : public node::PeerTransport {
 public:
  SimTransport(Wire& wire, std::string site) : wire_(wire), site_(std::move(site)) {}
  Status Send(std::string frame_bytes) override {
    wire_.Send(site_, std::move(frame_bytes));
    return Status::Ok();
  }

 private:
  Wire& wire_;
  std::string site_;
};

}  // namespace pairfs::sim
