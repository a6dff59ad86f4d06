// The threads a Replicator and its async groups start (ReplicatorOptions::threads,
// AsyncGroupHooks::threads): the second part of issue 12's Env seam (node/time_source.h is the
// first), so that a test sees every thread the replicator runs and when it ends
// (tests/sim/counting_threads.h), and a later simulation can run them on its own schedule.
// The daemon uses PlainThreads, which names each thread for top -H, ps -L and gdb.
#pragma once

#include <pthread.h>

#include <functional>
#include <string>
#include <thread>
#include <utility>

namespace pairfs::node {

// Starts the replicator's threads. Thread-safe.
class ThreadStarter {
 public:
  virtual ~ThreadStarter() = default;
  // Runs `body` on a new thread called `name` (the system shows at most 15 characters); the
  // caller joins it (or, stopping from that thread itself, detaches it).
  virtual std::thread Start(std::string name, std::function<void()> body) const = 0;
};

// std::thread, named. Thread-safe.
class PlainThreads : public ThreadStarter {
 public:
  std::thread Start(std::string name, std::function<void()> body) const override {
    return std::thread([name = std::move(name), body = std::move(body)] {
      // A name is only shown: one the system refuses (too long) is cut, never fatal.
      (void)pthread_setname_np(pthread_self(), name.substr(0, kShownNameChars).c_str());
      body();
    });
  }
  static constexpr size_t kShownNameChars = 15;  // Linux: 16 bytes with the terminating NUL
};

// The plain starter, for whoever is given none. Never destroyed (as DefaultTimeSource).
inline const ThreadStarter& DefaultThreadStarter() {
  static const ThreadStarter* const plain = new PlainThreads;
  return *plain;
}

// An injected starter (an options field, null when none is given) or the plain one.
inline const ThreadStarter& ThreadsOrPlain(const ThreadStarter* threads) {
  return threads != nullptr ? *threads : DefaultThreadStarter();
}

}  // namespace pairfs::node
