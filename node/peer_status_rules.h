// What a peer's status means for this side of a pair: the readings of Replicator::ServeStatus
// and FinishSwap (node/peer_status.cc) as pure functions, with no clock and no I/O, so that the
// node, its table test (tests/unit/node/peer_status_rules_test.cc) and the cluster simulation
// (tests/sim/cluster_sim_commands.cc) take the same decisions.
//
// Two readings count only once they have lasted longer than peer_timeout_ms: a peer newer than
// this side (a split or takeover reaches the other side within that time; only a peer that
// stays newer means this side is behind), and a primary suspended while this side replicates (a
// resync moves the secondary to COPY just before the primary, so one status may still say PSUE).
// The caller keeps a StatusWatch per pair and passes the time. Not thread-safe: the caller holds
// the pair's mutex around ReadPeerStatus.
#pragma once

#include <cstdint>
#include <string>

#include "node/pair_state.h"
#include "wire/messages.h"

namespace pairfs::node {

// This side and the peer's status, as the status message and the pair show them.
struct PeerStatusFacts {
  PairState here;
  wire::Generation generation;  // this side's
  wire::Generation peer_generation;
  PairRole peer_role = PairRole::kSimplex;
  PairStatus peer_status = PairStatus::kSMPL;
  std::string site;  // this site: a generation that names it was made here
};

// The timed readings, kept per pair between statuses.
struct StatusWatch {
  bool newer_seen = false;
  int64_t newer_since_ms = 0;
  bool primary_apart_seen = false;
  int64_t primary_apart_since_ms = 0;
};

enum class StatusVerdict : uint8_t {
  kNone,                // nothing to do now (a timed reading may have started)
  kPeerNewer,           // the peer stayed newer: this copy is outdated (OnPeerNewer)
  kFinishSwap,          // the peer stayed at a generation this site made: FinishSwap
  kSecondarySuspended,  // the secondary suspended on its own while this primary replicates:
                        // suspend as a link loss, so fence reserve asks (OnLinkLost)
  kPrimaryApart,        // the primary stayed suspended while this secondary replicates (OnLinkLost)
};

// Reads one status from the peer at `now_ms`; updates `watch`.
StatusVerdict ReadPeerStatus(const PeerStatusFacts& facts, int64_t now_ms, int64_t timeout_ms,
                             StatusWatch* watch);

// Whether a reaction to the link decided at generation `seen` (a link loss, fence reserve's ask
// for the determining volume and what its answer does) still applies: the pair is still at that
// generation and replicating. Else another writer, a status or a command decided meanwhile, and
// the reaction is dropped.
bool LinkReactionApplies(const PairState& here, const wire::Generation& generation,
                         const wire::Generation& seen);

// Whether the link is lost for being silent (Replicator::Background): nothing heard from the
// peer, not even a status, for longer than `timeout_ms` since `last_heard_ms`, and only once the
// peer was heard since this node started (`heard_since_start`): a restarted node must not suspend,
// and start a generation, before it learnt whether the peer moved on meanwhile. Each replicating
// pair then reacts as to a link loss.
bool LinkIsSilent(bool heard_since_start, int64_t last_heard_ms, int64_t now_ms,
                  int64_t timeout_ms);

// The async takeover's status ask of the old primary (AsyncPairs::ProbePeerForTakeover): how long
// the first ask waits. kFailoverProbeMs for clusterd's failover (`cluster`) or a link already
// silent (LinkIsSilent); else kTakeoverProbeMs, never shorter than two status intervals (a live
// peer sends every pair's status each interval); never longer than `peer_timeout_ms`.
int TakeoverProbeMs(bool cluster, bool link_silent, int peer_timeout_ms, int status_interval_ms);

// After that first ask went unanswered: whether the peer lives and is asked again, for the whole
// `peer_timeout_ms`. It lives when a frame of it arrived during the ask (`last_heard_ms` at or
// after `asked_ms`) or within two status intervals of its end (a loaded peer answers late; a site
// that is gone has been silent longer). Never when the first ask already waited
// `peer_timeout_ms`. A takeover that asks again gets the lossless four-role swap from a live old
// primary; one that does not is SSWS.
bool AskAgainAfterProbe(int probe_ms, int peer_timeout_ms, int64_t asked_ms, int64_t last_heard_ms,
                        int64_t now_ms, int status_interval_ms);

// Whether a peer at generation `peer`, newer than `seen` (this side's when the reading was
// taken), still makes this copy outdated (OnPeerNewer): the pair is still at `seen`, not already
// outdated and apart (an outdated copy still in PAIR or COPY suspends as well), and `peer` was
// not made by this site (`site`): a generation made here and never committed is FinishSwap's.
bool PeerNewerApplies(const PairState& here, const wire::Generation& generation,
                      const wire::Generation& seen, const wire::Generation& peer,
                      const std::string& site);

// What FinishSwap does for a peer at a generation this site made and never committed: only for
// a peer demoted (secondary in PAIR, PSUE or COPY) and this copy a consistent secondary that is
// not outdated. A takeover's last step lost leaves this side in PAIR (promote, or suspend when
// the peer suspended since); a resync --swap's last step lost leaves it suspended (PSUE) or
// where its takeover left it (SSWS, cluster simulation finding L10), and it runs resync --swap
// again.
enum class SwapStep : uint8_t {
  kNone,        // left as it is (said once in the log)
  kPromote,     // both in PAIR: this side becomes the primary (a takeover at the peer's generation)
  kSuspend,     // this side in PAIR, the peer suspended since: suspend (resync --swap next time)
  kResyncSwap,  // this side suspended (PSUE) or taken over (SSWS): resync --swap from here
};
SwapStep FinishSwapStep(const PairState& here, PairRole peer_role, PairStatus peer_status);

}  // namespace pairfs::node
