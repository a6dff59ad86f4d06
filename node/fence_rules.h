// When clusterd may lift a copy's fence (Replicator::Fence in node/replicator_reserve.cc), as
// pure functions with no I/O, no lock and no clock, so that the node, its table test
// (tests/unit/node/fence_rules_test.cc) and the cluster simulation
// (tests/sim/cluster_sim_commands.cc) take the same decisions. A fence is always set at once
// (writes in flight finish first); lifting it is refused where the copy would then write without
// its peer, except for the winner's own copy that is known to be the newer one.
// Thread-safe (no state).
#pragma once

#include <string>

#include "node/pair_state.h"
#include "wire/messages.h"

namespace pairfs::node {

// Whether lifting the fence of this copy would let it write without its peer: it is fenced and
// the write rule of its state without the fence (`unfenced_rule`, WriteRuleFor of `here` with
// fenced false) is kLocal or kLocalTracked. Such a copy (a primary suspended after losing the
// determining volume's reserve) stays fenced until a resync or takeover, unless WinnerMayLift.
bool UnfenceWritesAlone(const PairState& here, WriteRule unfenced_rule);
// The same with the unfenced rule worked out here: `rule_for` (WriteRuleFor; the cluster
// simulation passes its mutations) of `here` with fenced false, under `context`.
bool UnfenceWritesAlone(const PairState& here, const PairContext& context,
                        WriteRule (*rule_for)(const PairState&,
                                              const PairContext&) = &WriteRuleFor);

// What the peer said of its copy when asked, for WinnerMayLift.
struct PeerCopy {
  bool answered = false;  // false: it did not answer (then the rest is not read)
  bool outdated = false;
  wire::Generation generation;
};

// Whether the winner's own copy may lift its fence and write alone: this site holds the
// determining volume (`holds_determining`, its record says so), this copy is not outdated, and
// either the peer says its copy is outdated or older (an equal generation is resynced first, not
// written alone), or the peer does not answer and the record marks it outdated
// (`record_marks_peer_outdated`). `*why` says which, for the log and the refusal.
// Step one needs no peer: if it refuses, the peer is not asked.
bool WinnerMayAskPeer(bool holds_determining, const PairState& here, std::string* why);
bool WinnerMayLift(const PeerCopy& peer, const wire::Generation& generation,
                   bool record_marks_peer_outdated, const std::string& peer_site, std::string* why);

}  // namespace pairfs::node
