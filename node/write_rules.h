// What the write paths decide (node/write_path.cc at the writer, node/replica_server.cc at the
// peer), as pure functions with no I/O, no lock and no clock, so that the node, its table test
// (tests/unit/node/write_rules_test.cc) and the cluster simulation (tests/sim/cluster_sim_node.cc)
// take the same decisions. Which path a write or fsync at the mount takes is WritePathFor and
// FlushPathFor (the state machine's WriteRuleFor, node/pair_state.h, and an async primary's
// journal); the rest say what a write does once it has taken its path. Each takes the write rule it
// needs as an argument, so that a caller (the simulation's mutation test) may pass a deliberately
// broken one. Thread-safe (no state).
#pragma once

#include "node/pair_state.h"
#include "wire/messages.h"
#include "wire/status.h"

namespace pairfs::node {

// The path a write arriving at this side's mount takes: WriteRuleFor's rule, or the master
// journal (issue 13: an async pair's primary writes its image and journals the write from PAIR
// on, node/async_replicator.cc).
enum class WritePath : uint8_t {
  kLocal,             // WriteRule::kLocal (SMPL)
  kLocalTracked,      // WriteRule::kLocalTracked: written here alone, the region marked
  kReplicate,         // WriteRule::kReplicate: a sync pair's primary (or any pair in COPY)
  kForwardToPrimary,  // WriteRule::kForwardToPrimary
  kJournal,           // an async primary in PAIR or PFUL, neither fenced nor outdated
  kRefuseReadOnly,    // WriteRule::kRefuseReadOnly: EROFS
  kRefuseIo,          // WriteRule::kRefuseIo: EIO
};
// kJournal for an async pair's primary in PAIR or PFUL that is neither fenced nor outdated;
// otherwise `rule`'s path. `rule` is WriteRuleFor(state, context) (an argument, like the rules
// below, so that a caller may pass a broken one).
WritePath WritePathFor(const PairState& state, const PairContext& context, WriteRule rule);

// The path an fsync at this side's mount takes.
enum class FlushPath : uint8_t {
  kLocal,     // this copy only (its writes went nowhere else)
  kWithPeer,  // this copy and the peer's at once (sync: replicated or forwarded writes)
  kJournal,   // the master journal (an async primary's writes are durable once journaled)
};
// kJournal for an async pair's primary in PAIR or PFUL, also fenced or outdated: the journal
// holds the writes it acknowledged before, and only its flush makes them durable. Else kWithPeer
// when `rule` (WriteRuleFor) replicates or forwards writes, kLocal otherwise.
FlushPath FlushPathFor(const PairState& state, const PairContext& context, WriteRule rule);

// What a write that could not reach the peer returns once the pair has reacted to the loss.
enum class LinkLossOutcome : uint8_t {
  kWritten,        // fence never: the copy here carries on alone, the region marked
  kFencedIo,       // fence reserve, this primary lost the determining volume's reserve: EIO
  kRefuseIo,       // fence data: EIO
  kRefuseReadOnly  // anything else (the primary is unreachable, or this side is outdated): EROFS
};
// `here` is the pair's state after the reaction; `rule` is WriteRuleFor of that state.
LinkLossOutcome AfterLinkLoss(const PairState& here, FenceLevel fence, WriteRule rule);

// What the primary does with the peer's answer to a replica write it sent at `sent`.
enum class ReplicaAnswerStep : uint8_t {
  kDone,       // acknowledged: the write is done at both copies
  kPeerNewer,  // the peer is at a newer generation: this side is outdated (EROFS)
  kDiskFault,  // the peer could not write its copy: suspend with the region kept (EIO/ENOSPC)
  kLinkLost,   // no (readable) answer, or any other refusal: react as to a link loss
};
// `answered` is false when no answer came or it could not be decoded; then `code` and
// `peer_generation` are not read.
ReplicaAnswerStep ReadReplicaAnswer(bool answered, Code code,
                                    const wire::Generation& peer_generation,
                                    const wire::Generation& sent);

// Whether a secondary writes a replica write of generation `sent` to its copy: only at the same
// generation, as the secondary, while replicating (PAIR or COPY). Else it answers kReadOnly with
// its generation (a sender behind learns it is outdated).
bool AcceptsReplicaWrite(const PairState& here, const wire::Generation& generation,
                         const wire::Generation& sent);

// How a primary judges a write the secondary forwarded at `sent` from site `origin`, before it
// orders it: kOk (grant it), kReadOnly (another generation, or this side does not replicate its
// own writes: `rule` is WriteRuleFor here and must be kReplicate), kConflict (the volume is
// reserved by a site other than the origin; `holder` is the reservation's, "" for none).
Code JudgeForwardedWrite(WriteRule rule, const wire::Generation& generation,
                         const wire::Generation& sent, const std::string& holder,
                         const std::string& origin);

// Whether a forwarded write judged at `sent` may still be written once its range is held (checked
// again then: a write that held the range may have suspended the pair, and a forwarded write the
// secondary has given up on must never land after a later write): only at the same generation.
// JudgeForwardedWrite applies the same rule before the range is taken.
bool ForwardedWriteStillCurrent(const wire::Generation& generation, const wire::Generation& sent);

// What the secondary's writer gets when the primary refused to grant a forwarded write with
// `refused` (not kOk): kConflict (reserved elsewhere), the peer's disk fault (kIoError,
// kNoSpace), else kReadOnly.
Code RefusedGrantCode(Code refused);

}  // namespace pairfs::node
