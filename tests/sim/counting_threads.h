// A node::ThreadStarter (node/thread_starter.h) that counts: how many threads of each name were
// started, and how many are still running. A Replicator given it (ReplicatorOptions::threads)
// shows a test every thread it runs and whether any outlives its Stop. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "node/thread_starter.h"

namespace pairfs::sim {

class CountingThreads : public node::ThreadStarter {
 public:
  std::thread Start(std::string name, std::function<void()> body) const override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++started_[name];
      ++running_;
    }
    return node::DefaultThreadStarter().Start(std::move(name), [this, body = std::move(body)] {
      body();
      std::lock_guard<std::mutex> lock(mutex_);
      --running_;
    });
  }
  // Threads whose body has not returned yet.
  int running() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return running_;
  }
  // How many threads called `name` were started.
  int started(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = started_.find(name);
    return found == started_.end() ? 0 : found->second;
  }

 private:
  mutable std::mutex mutex_;
  mutable std::map<std::string, int> started_;
  mutable int running_ = 0;
};

}  // namespace pairfs::sim
