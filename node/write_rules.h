// What the write paths decide (node/write_path.cc at the writer, node/replica_server.cc at the
// peer), as pure functions with no I/O, no lock and no clock, so that the node, its table test
// (tests/unit/node/write_rules_test.cc) and the cluster simulation (tests/sim/cluster_sim_node.cc)
// take the same decisions. Which path a write takes is WriteRuleFor's (node/pair_state.h); these
// say what a write does once it has taken it. Each takes the write rule it needs as an argument,
// so that a caller (the simulation's mutation test) may pass a deliberately broken one.
// Thread-safe (no state).
#pragma once

#include "node/pair_state.h"
#include "wire/messages.h"
#include "wire/status.h"

namespace pairfs::node {

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
