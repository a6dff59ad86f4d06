// The witness site (`pairfs --witness`, pairfs(8) WITNESS): a third copy of each determining
// volume's reservation record, answering the reserve votes of the two data sites (doc/design.md
// "clusterd and the determining volume"). It holds no volumes and mounts nothing.
//
// Handle() decides one request without a socket (tests call it). Serve() binds the witness
// endpoint and answers on the calling thread until a stop flag is set. Not thread-safe: one
// thread calls both, and it owns the WitnessStore.
#pragma once

#include <atomic>
#include <set>
#include <string>
#include <vector>

#include "node/config.h"
#include "node/witness_store.h"
#include "wire/link.h"
#include "wire/messages.h"

namespace pairfs::node {

// What `pairfs --witness` needs beyond LoadConfig's rules: a [witness] table whose `sites` names
// the two sites served, neither of them this site. Ok, or InvalidArgument reading
// "PATH: witness.sites: reason" (or "PATH: [witness]: ...") for the user.
Status CheckWitnessConfig(const Config& config);

class WitnessServer {
 public:
  // `site` is the witness's own name (the sender of its replies); `sites` the two sites whose
  // votes it accepts: exactly two (anything else aborts: the config checks guarantee it).
  // `store` must outlive the server.
  WitnessServer(WitnessStore& store, std::string site, std::vector<std::string> sites);

  // Answers one request; never throws. A reserve vote gets code 0 (granted) or kConflict (refused,
  // message says why) with `reservation` = the record after the vote, which is on disk before
  // this returns. Refusals with other codes change nothing: InvalidArgument for a body that does
  // not decode, a bad volume name, or a sender, holder or outdated site this witness does not
  // serve; Corruption when the volume's record file fails its checks (logged as an error once);
  // IoError when the new record cannot be written; NoSpace past kMaxWitnessRecords. Any other
  // message type: Unsupported. Every grant and refusal is logged at info level, but for a late
  // release (a release numbered before the holder's newer reserve: node/reservation.h), refused
  // with kConflict, counted (late_votes) and logged rate-limited.
  wire::Reply Handle(const wire::Frame& request);

  // How many late votes Handle refused since the server was made.
  uint64_t late_votes() const { return late_votes_; }

  // Binds `endpoint` and answers requests until `stop` is set (checked every kControlPollMs).
  // IoError naming the endpoint if it cannot be bound; Ok once stopped. Malformed frames are
  // answered by wire::Server and logged, the first and then one in every 1000. When `context`
  // has CURVE keys the endpoint is a CURVE server (only peer_public_keys get in), and a request
  // whose sender is not the site of its connection's key is dropped unanswered and counted.
  Status Serve(wire::Context& context, const std::string& endpoint, const std::atomic<bool>& stop);

 private:
  wire::Reply Vote(const std::string& sender, const wire::ReserveVoteRequest& request);
  Status CheckSites(const std::string& sender, const wire::ReserveVoteRequest& request) const;
  bool Serves(const std::string& site) const;

  WitnessStore& store_;
  const std::string site_;
  const std::vector<std::string> sites_;
  std::set<std::string> reported_corrupt_;  // volumes whose corrupt file has been logged
  uint64_t late_votes_ = 0;
};

}  // namespace pairfs::node
