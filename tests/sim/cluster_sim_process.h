// The primitives of the cluster simulation's model (tests/sim/cluster_sim_world.h): the messages
// between processes, a process that can crash, and the waits of virtual time (continuations run in
// order, mutexes, the Gate, a volume's block locks). Everything runs on one thread in virtual time.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "clusterd/executor.h"
#include "node/pair_state.h"
#include "wire/messages.h"
#include "wire/status.h"

namespace pairfs::sim::cluster {

using Done = std::function<void()>;

// One message between processes: a frame of the peer link, a witness vote or a heartbeat. The
// fields a kind does not use stay empty.
struct Message {
  enum class Kind {
    kReplicaWrite,
    kWriteAck,
    kForwardedWrite,
    kWriteGrant,
    kWriteConfirm,
    kCommand,
    kAnswer,
    kStatus,
    kWitnessVote,
    kWitnessAnswer,
    kHeartbeat,
  };
  Kind kind = Kind::kCommand;
  uint64_t id = 0;  // request id; answers carry the request's
  std::string volume;
  wire::Generation generation;
  Code code = Code::kOk;
  std::string message;
  // writes: one block, or every block of a copy (`blocks`, when `copy`)
  std::string origin;
  int block = -1;
  uint64_t write_id = 0;
  bool copy = false;
  std::map<int, uint64_t> blocks;
  // commands and their answers
  std::string command;
  wire::ReserveVoteRequest vote;  // holder, outdated, force, release
  bool preempt = false;
  wire::ReservationRecord record;
  node::PairState state;  // statuses and status answers
  // heartbeats
  clusterd::Phase phase = clusterd::Phase::kStarting;
  uint64_t incarnation = 0;
  uint64_t counter = 0;
};

class World;

// A process that can crash: work scheduled through it is dropped once it crashes.
class Process {
 public:
  Process(World& world, std::string name) : world_(world), name_(std::move(name)) {}
  virtual ~Process() = default;
  bool up() const { return up_; }
  const std::string& name() const { return name_; }
  // Runs `fn` after `delay_ms` unless this process crashed (or crashed and restarted) meanwhile.
  void After(int64_t delay_ms, Done fn);
  // `fn`, made a no-op if this process crashes before it is called.
  Done Guard(Done fn);
  template <class T>
  std::function<void(T)> Guard(std::function<void(T)> fn) {
    return [this, incarnation = incarnation_, fn = std::move(fn)](T value) {
      if (up_ && incarnation_ == incarnation) fn(std::move(value));
    };
  }

 protected:
  void MarkDown() {
    up_ = false;
    ++incarnation_;
  }
  void MarkUp() { up_ = true; }
  World& world_;
  const std::string name_;
  bool up_ = true;
  uint64_t incarnation_ = 1;
};

// Runs `steps` one after the other (each calls its Done when finished), then `then`.
void InOrder(std::vector<std::function<void(Done)>> steps, Done then);

// A mutex whose waiters are continuations, granted in request order.
class Mutex {
 public:
  explicit Mutex(Process& owner) : owner_(owner) {}
  void Lock(Done got);
  void Unlock();

 private:
  Process& owner_;
  bool held_ = false;
  std::deque<Done> waiting_;
};

// Keeps new holders out while a state change runs, and waits for the holders already inside
// (node/pair_runtime.h's Gate, with continuations).
class Gate {
 public:
  explicit Gate(Process& owner) : owner_(owner) {}
  void EnterShared(Done inside);
  void LeaveShared();
  void Close(Done closed);
  void Open();

 private:
  void Advance();
  Process& owner_;
  int inside_ = 0;
  bool closed_ = false;
  std::optional<Done> closing_;  // closed, waiting for the holders inside
  std::deque<Done> closers_, enterers_;
};

// Exclusive blocks of a volume (its RangeLock).
class BlockLocks {
 public:
  explicit BlockLocks(Process& owner);
  void Acquire(int block, Done got) { locks_[block]->Lock(std::move(got)); }
  void Release(int block) { locks_[block]->Unlock(); }
  void AcquireAll(Done got, int from = 0);  // every block, in order (a copy)
  void ReleaseAll();

 private:
  std::vector<std::unique_ptr<Mutex>> locks_;
};

}  // namespace pairfs::sim::cluster
