// The peer calls of a cluster simulation's node (tests/sim/cluster_sim_world.h): what
// node/peer_calls.h and node::AnsweredRequests do for the real Replicator, in virtual time.
// Requests carry an id; their answers go to the continuation waiting for that id, or nowhere
// once it gave up. A served request is answered again from the stored answer when it comes
// twice (a retransmit), and dropped while it is being served. Knows nothing of pairs.
// Not thread-safe; everything is lost in a crash (Reset).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "node/peer_calls.h"
#include "tests/sim/cluster_sim_process.h"

namespace pairfs::sim::cluster {

class Calls {
 public:
  using Then = std::function<void(std::optional<Message>)>;
  // `owner` sends as `origin` (its site's name) and schedules its timeouts.
  Calls(World& world, Process& owner, std::string origin)
      : world_(world), owner_(owner), origin_(std::move(origin)) {}

  // Forgets every call, answer and confirm (a crash), and starts a new served-request cache.
  void Reset();

  // Sends `request` (given a new id) to `to`; `then` gets its answer, or nullopt after
  // `timeout_ms`. With `resend`, the request goes again every kRetransmitMs until answered or
  // timed out (PeerCalls::Wait). Returns the id.
  uint64_t Exchange(Message request, const std::string& to, int timeout_ms, bool resend, Then then);
  // Sends `request` (its id given) to `to` every kRetransmitMs until answered or `deadline_ms`.
  void Resend(const Message& request, const std::string& to, int64_t deadline_ms);
  // The answer to `id` goes to `then` (a request sent by the caller itself).
  void Expect(uint64_t id, Then then) { calls_[id] = std::move(then); }
  void Cancel(uint64_t id) { calls_.erase(id); }
  bool Waiting(uint64_t id) const { return calls_.count(id) != 0; }
  // A write this node granted: `then` gets the peer's confirm, or nullopt after `timeout_ms`.
  void ExpectConfirm(uint64_t id, int timeout_ms, Then then);

  // An answer or confirm goes to its waiter (true); any other message is a request (false).
  bool Deliver(const Message& message);
  // Whether a request is served now; a retransmit of one answered already is answered again to
  // `to`, one being served is dropped (node::AnsweredRequests decides).
  bool Claim(const Message& request, const std::string& to);
  // Sends `answer` to `request` (to `to`) and keeps it for retransmits.
  void Answer(const Message& request, Message answer, const std::string& to);

 private:
  static void Settle(std::map<uint64_t, Then>& waiting, uint64_t id, std::optional<Message> answer);
  void Send(const std::string& to, const Message& message);

  World& world_;
  Process& owner_;
  const std::string origin_;
  std::map<uint64_t, Then> calls_;                    // answers to what this node sent
  std::map<uint64_t, Then> confirms_;                 // confirms of writes this node granted
  std::unique_ptr<node::AnsweredRequests> answered_;  // requests served; made at each start
  std::map<uint64_t, Message> answers_;               // the answers sent, by request id
};

}  // namespace pairfs::sim::cluster
