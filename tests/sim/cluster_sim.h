// A seeded simulation of the cluster logic (doc/design.md "clusterd and the determining volume",
// STYLE.md "Test by simulation"): two sites a and b, each with a clusterd and a node, and, in
// half of the runs, a witness; an injected clock (virtual ms) and network (tests/sim/network.h);
// a random schedule of crashes, restarts and one- or two-way partitions of the heartbeat, data
// and witness links; a workload writing to the managed volume vm1 at both sites' mounts.
//
// What is real and what is modeled:
// - Real: the pure functions under test, clusterd::Decide (each clusterd's state machine),
//   node::Vote (every copy of the determining volume's record: both nodes and the witness),
//   node::Transit and node::WriteRuleFor (the pair state of vm1 and of the determining volume
//   dv at each node), node::AfterLinkLoss and node::ReadTally. The mutation test swaps some of
//   them for broken ones through ClusterLogic; the real code is never changed. Real too: clusterd's
//   executor (clusterd/executor.h: it feeds Decide and carries out every action) and the daemon's
//   choices (clusterd/choices.h: what the heartbeats and a poll of the node mean; per volume, what
//   an action does). Real too: every decision the node model takes beyond the state machine:
//   node/write_rules.h (a write's outcome after a link loss, the answer to a replica write, whether
//   a replica or forwarded write is taken, a refused grant), node/reserve_rules.h (where a reserve
//   is decided, the checks of a managed volume's reserve, the majority tally, the release held
//   while vm1 is apart, which mirrored record is kept), node/fence_rules.h (when an unfence is
//   refused), node/command_rules.h (a takeover's generation, a resync target that is behind) and
//   node/peer_status_rules.h (what a peer's status means, an unfinished swap).
// - Modeled, after clusterd/daemon.cc, as the executor's env and the loop around it: heartbeats
//   on one or two links every 200 ms with a 1000 ms timeout (800 ms at the site that runs the
//   applications, PeerLossMs), a 20 ms loop, the node polled every 200 ms, standby_delay_ms 200,
//   STARTING listens 2400 ms (StartupWait) before racing alone, a durable clusterd.state, and
//   node calls that take simulated time (a dead node costs the call's timeout, peer_timeout_ms +
//   3000, during which clusterd does nothing else).
// - Modeled, after node/write_path.cc, replica_server.cc, peer_status.cc and replicator_reserve.cc,
// in continuations instead of
//   threads: the write paths (replicate with a peer_timeout_ms of 2000 and retransmits every
//   250 ms; forward from a secondary and the primary's grant and confirm; refusals EROFS, EBADE,
//   EIO); fence reserve after a link loss (vm1's fence level) asking for dv with the peer marked
//   outdated; the reserve of dv at its primary or SSWS copy unless outdated, forwarded from the
//   other copy, or by a majority of three votes with a witness (own vote, the witness's, the
//   peer's only when still needed; 500 ms; this copy's grant re-checked); the node's
//   determining mutex (its vote, the deciding copy's vote and mirror, a fence-reserve ask until
//   its suspend, the release check); no release while vm1 is apart; clusterd's preempting
//   reserve of vm1 (probe 250 ms); takeover (swap when the peer answers and the pair is in
//   PAIR, else SSWS); resync and the copy; fence and unfence behind the pair gate; statuses
//   every 500 ms (a peer newer for longer than peer_timeout_ms outdates this side), a link
//   silent for peer_timeout_ms is lost; range locks, answered-request cache, activity log.
//   Durable across a crash: pair state, generation, reservation records, data, activity log;
//   lost: everything in memory and in flight to it. (What the model still mirrors is the
//   replicator's orchestration: which messages go where, in which order, under which lock; a
//   change of that in node/ needs the same change here. A change of a decision does not: the
//   model calls the product's. clusterd's decisions and executor are the product's, only the
//   daemon's loop and timers are mirrored in cluster_sim_clusterd.cc.)
// - Simplified: blocks instead of byte ranges (8 blocks; a value is the id of the write that
//   wrote it); a copy (initial, resync, or resumed after a restart) sends every block in one
//   message instead of the marked regions (the replication simulation tests the bitmaps);
//   no flush: a write is durable when written (acknowledged = fsync'd); hooks take 1-50 ms;
//   one writer per site, one write at a time; a message to a process that is down is lost;
//   heartbeats flow again as soon as a link heals (no reconnect back-off).
//
// The invariants, checked after every step and at the end of each schedule:
// 1. Never two sites writing unordered. Site x is a local writer at an instant when its node is
//    up and the REAL WriteRuleFor of its vm1 state is kLocal or kLocalTracked (a write at its
//    mount is written there alone: PSUE/PSUS primary, SSWS, SSUS, SMPL) and vm1's reservation
//    at x lets x write (held by nobody or by x). Both sites local writers at once is a failure.
//    (kReplicate and kForwardToPrimary are ordered through one primary; refusals write nothing.)
// 2. Every acknowledged write survives. After the final heal (every link up, every process
//    back, 12 s to settle, then up to five rounds of an operator who resyncs each pair from the
//    copy to keep and lifts FENCED only where that cannot make two writers), if vm1 is in PAIR
//    at both sites, the copy at the site that ends primary must hold, for every block, the
//    value of a write that no acknowledged write to that block followed (a write W' follows W
//    when W' started after W returned), and both copies must be equal. A run that does not get
//    back to PAIR (or to one ACTIVE site) is reported as a liveness finding, not a failure.
// 3. At most one holder of the determining volume. A reserve of dv that returns OK to the site
//    that asked (clusterd's race, or fence reserve) makes that site the holder until it asks to
//    release dv (from then on the other site may win, as soon as the copies it asks cleared
//    theirs). A reserve that returns OK to one site while the other holds, or a release that
//    returns OK to a site that asked for it while the other held, is a failure.
//
// A run is deterministic: one std::mt19937_64 seeded by the seed drives the schedule, the
// workload and the network, so a failing seed replays exactly, with a trace of every step.
#pragma once

#include <cstdint>
#include <string>

#include "clusterd/choices.h"
#include "clusterd/cluster_state.h"
#include "node/pair_state.h"
#include "node/reservation.h"
#include "node/reserve_rules.h"
#include "node/write_rules.h"

namespace pairfs::sim {

// The pure functions the model runs. The defaults are the product's; the mutation test passes
// deliberately broken ones to show that the checks catch what they break.
struct ClusterLogic {
  node::VoteOutcome (*vote)(const wire::ReservationRecord&,
                            const wire::ReserveVoteRequest&) = &node::Vote;
  clusterd::Transition (*decide)(const clusterd::ClusterState&,
                                 const clusterd::Input&) = &clusterd::Decide;
  node::WriteRule (*write_rule)(const node::PairState&,
                                const node::PairContext&) = &node::WriteRuleFor;
  node::LinkLossOutcome (*after_link_loss)(const node::PairState&, node::FenceLevel,
                                           node::WriteRule) = &node::AfterLinkLoss;
  node::TallyVerdict (*read_tally)(const node::VoteTally&) = &node::ReadTally;
  Code (*judge_forwarded_write)(node::WriteRule, const wire::Generation&, const wire::Generation&,
                                const std::string&,
                                const std::string&) = &node::JudgeForwardedWrite;
  bool (*forwarded_write_still_current)(const wire::Generation&, const wire::Generation&) =
      &node::ForwardedWriteStillCurrent;
  node::ReserveRoute (*route_determining_reserve)(bool, bool, const node::PairState&,
                                                  bool) = &node::RouteDeterminingReserve;
  int64_t (*peer_loss_ms)(const clusterd::ClusterState&, int64_t, int64_t) = &clusterd::PeerLossMs;
};

struct ClusterSimOptions {
  uint64_t seed = 1;
  bool witness = false;  // a third copy of the record at a witness site
  bool trace = false;    // keep a line per step in the result (a replay)
  ClusterLogic logic;
  // The operator of the final heal lifts FENCED (pairctl cluster unfence) as soon as nobody is
  // active, before the pairs are back in PAIR; by default only once they are. (An unfenced
  // suspended primary writes alone again: the report's finding.)
  bool hasty_operator = false;
  // Late frames (tests/sim/network.h): 1% of the messages arrive 2-6 s late, after the sender
  // gave up on them (peer_timeout_ms 2000). Off in the main sweep, whose seeds replay as before.
  bool late_frames = false;
  // Instead of the random faults, one cut of every heartbeat link (both ways) while everything
  // else works, on a network that loses nothing (a heartbeat link is a TCP connection): once one
  // site is ACTIVE and both pairs are in PAIR, the cut comes at a random instant, the sites'
  // heartbeats at random phases; 6 s later the active site must still be ACTIVE and the other
  // FENCED (doc/design.md "clusterd and the determining volume": the standby races
  // standby_delay_ms later, so it loses), or the run fails ("heartbeat cut").
  bool heartbeat_cut = false;
  // With heartbeat_cut: the data links are cut too (a full partition between the sites; the
  // witness still reaches both). The same outcome is expected: the active site stays ACTIVE.
  bool partition = false;
};

struct ClusterSimResult {
  std::string failure;  // "" when every invariant held; else the invariant, the time and the states
  std::string trace;    // one line per step, when options.trace
  // What the run did, so that a test can tell that schedules really exercise failovers.
  int writes_acknowledged = 0;
  int writes_refused = 0;
  int reserves_won = 0;     // grants of the determining volume that changed its holder
  int takeovers = 0;        // SSWS or swap of vm1
  int late_votes = 0;       // late releases a copy of dv's record refused (node/reservation.h)
  int64_t ended_at_ms = 0;  // virtual time at the end of the run
  // Liveness, reported but not a failure: why the run did not end with one site ACTIVE once
  // everything healed (before the operator), or with both pairs in PAIR (after the operator:
  // then invariant 2 could not be checked). "" when it did.
  std::string liveness;
};

// Runs one schedule. Never throws; a broken invariant is reported in `failure`.
ClusterSimResult RunClusterSim(const ClusterSimOptions& options);

}  // namespace pairfs::sim
