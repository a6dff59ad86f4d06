// What the copy engine (node/copy_engine.cc) tells the replicator's other files: when a running
// copy is outlived by its pair, and stopping it. A copy is bound to the pair as it started it:
// this site the primary, replicating (COPY, PAIR), not outdated, at the generation it started in
// (doc/design.md "Pairs", "Pair statuses"). Once the pair leaves that (the peer took over or
// swapped, a resync --swap made this site the target, the peer showed it newer, the pair was
// suspended or split) the copy stops at once: its chunks' calls are cancelled rather than waited
// out, their ranges and the window released, and the regions it had not copied stay marked in the
// dirty bitmap, so that a later resync copies them. Internal to the replicator's files.
#pragma once

#include "node/pair_state.h"
#include "node/replicator.h"
#include "wire/messages.h"

namespace pairfs::node::replicator_internal {

// Whether a copy started at `started` may go on with the pair now in `now` at `generation`.
// Pure.
bool CopyStillCurrent(const wire::Generation& started, const PairState& now,
                      const wire::Generation& generation);

// Stops the pair's copy (if one runs): it sends no further chunk and every call it waits for
// returns at once. Takes no lock of the pair (PeerCalls' mutex only, a leaf).
void StopCopy(Replicator::Pair& pair, PeerCalls& calls);

// For a command that starts the copy again (resync, resync --swap), once it holds the pair's gate
// closed: whether `event` is still allowed in the pair's state now, and if so, StopCopy. Another
// command may have changed the pair while this one waited for the gate (two resyncs at once: the
// first started the copy, and the second, refused by the peer later, stopped it and left the pair
// in COPY with no copy running: cluster simulation seeds 2798 and 7470). Transit's refusal leaves
// the copy running. Takes pair.mutex.
Status StopCopyFor(Replicator::Pair& pair, PeerCalls& calls, PairEvent event,
                   const PairContext& context);

// StopCopy when the running copy is no longer current (CopyStillCurrent) with the pair's state
// and generation now. Caller holds pair.mutex (a state change calls it once saved: Commit).
void StopCopyIfOutlived(Replicator::Pair& pair, PeerCalls& calls);

}  // namespace pairfs::node::replicator_internal
