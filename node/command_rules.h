// What the pair commands decide beyond the pair state machine (node/operator_commands.cc at the
// site that runs a command, node/pair_commands.cc at the peer that is asked), as pure functions
// with no I/O, no lock and no clock, so that the node, its table test
// (tests/unit/node/command_rules_test.cc) and the cluster simulation
// (tests/sim/cluster_sim_commands.cc) take the same decisions. Whether a command is allowed in a
// state is Transit's (node/pair_state.h). Thread-safe (no state).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "node/pair_state.h"
#include "wire/messages.h"

namespace pairfs::node {

// The generation a takeover or a resync --swap at `site` makes: newer than both copies' (the
// peer's `peer_counter`, 0 when it did not answer), named after the site that made it (so that
// a peer left at it tells that this side never committed it: FinishSwapStep).
wire::Generation NextGeneration(const wire::Generation& mine, uint64_t peer_counter,
                                const std::string& site);

// Whether the side asked to resync (the target of the copy) missed a suspend: it still
// replicates at an older generation than the command's, so it is behind and is outdated first
// (a side that was down while the other suspended still shows the old status).
bool ResyncTargetIsBehind(const PairState& here, const wire::Generation& generation,
                          const wire::Generation& commanded);

// Whether a pair's copy starts again when the node starts (Replicator::Start): at the primary, a
// copy that was running (COPY) resumes, and PAIR with regions marked (`marked_bytes`: the node
// stopped or crashed with writes in its activity log) copies those regions, since the secondary
// may lack them. A dead peer sends the copy to PSUE after peer_timeout_ms.
bool CopyResumesAtStart(const PairState& here, uint64_t marked_bytes);

// The generation a pair has after a transition with `actions` is committed (Replicator::Commit):
// kBumpGeneration takes `given` (the generation a takeover or a swap agreed with the peer) or,
// without one, counts up from `current` at `site`; kAdoptPeerGeneration takes `given` (the
// primary's) when there is one; otherwise `current` stays. The last such action counts.
wire::Generation GenerationAfter(const std::vector<PairAction>& actions,
                                 const wire::Generation& current, const wire::Generation* given,
                                 const std::string& site);

}  // namespace pairfs::node
