#include "node/write_rules.h"

#include "node/reserve_rules.h"

namespace pairfs::node {

namespace {

bool IsDiskFaultCode(Code code) { return code == Code::kIoError || code == Code::kNoSpace; }

// An async pair's primary past its initial copy: its writes go through the master journal.
bool JournalsAtPrimary(const PairState& state, const PairContext& context) {
  return context.mode == PairMode::kAsync && state.role == PairRole::kPrimary &&
         (state.status == PairStatus::kPAIR || state.status == PairStatus::kPFUL);
}

}  // namespace

WritePath WritePathFor(const PairState& state, const PairContext& context, WriteRule rule) {
  if (JournalsAtPrimary(state, context) && !state.fenced && !state.outdated) {
    return WritePath::kJournal;
  }
  switch (rule) {
    case WriteRule::kLocal: return WritePath::kLocal;
    case WriteRule::kLocalTracked: return WritePath::kLocalTracked;
    case WriteRule::kReplicate: return WritePath::kReplicate;
    case WriteRule::kForwardToPrimary: return WritePath::kForwardToPrimary;
    case WriteRule::kRefuseIo: return WritePath::kRefuseIo;
    case WriteRule::kRefuseReadOnly: break;
  }
  return WritePath::kRefuseReadOnly;
}

FlushPath FlushPathFor(const PairState& state, const PairContext& context, WriteRule rule) {
  if (JournalsAtPrimary(state, context)) return FlushPath::kJournal;
  if (rule == WriteRule::kReplicate || rule == WriteRule::kForwardToPrimary) {
    return FlushPath::kWithPeer;
  }
  return FlushPath::kLocal;
}

LinkLossOutcome AfterLinkLoss(const PairState& here, FenceLevel fence, WriteRule rule) {
  if (here.fenced && fence == FenceLevel::kReserve && here.role == PairRole::kPrimary) {
    return LinkLossOutcome::kFencedIo;
  }
  switch (rule) {
    case WriteRule::kLocalTracked: return LinkLossOutcome::kWritten;
    case WriteRule::kRefuseIo: return LinkLossOutcome::kRefuseIo;
    default: return LinkLossOutcome::kRefuseReadOnly;
  }
}

ReplicaAnswerStep ReadReplicaAnswer(bool answered, Code code,
                                    const wire::Generation& peer_generation,
                                    const wire::Generation& sent) {
  if (!answered) return ReplicaAnswerStep::kLinkLost;
  if (code == Code::kOk) return ReplicaAnswerStep::kDone;
  if (peer_generation.NewerThan(sent)) return ReplicaAnswerStep::kPeerNewer;
  if (IsDiskFaultCode(code)) return ReplicaAnswerStep::kDiskFault;
  return ReplicaAnswerStep::kLinkLost;
}

bool AcceptsReplicaWrite(const PairState& here, const wire::Generation& generation,
                         const wire::Generation& sent) {
  return generation == sent && here.role == PairRole::kSecondary && IsReplicating(here.status);
}

Code JudgeForwardedWrite(WriteRule rule, const wire::Generation& generation,
                         const wire::Generation& sent, const std::string& holder,
                         const std::string& origin) {
  if (!ForwardedWriteStillCurrent(generation, sent) || rule != WriteRule::kReplicate) {
    return Code::kReadOnly;
  }
  if (ReservedByOther(holder, origin)) return Code::kConflict;
  return Code::kOk;
}

bool ForwardedWriteStillCurrent(const wire::Generation& generation, const wire::Generation& sent) {
  return generation == sent;
}

Code RefusedGrantCode(Code refused) {
  if (refused == Code::kConflict || IsDiskFaultCode(refused)) return refused;
  return Code::kReadOnly;
}

}  // namespace pairfs::node
