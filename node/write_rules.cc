#include "node/write_rules.h"

namespace pairfs::node {

namespace {

bool IsDiskFaultCode(Code code) { return code == Code::kIoError || code == Code::kNoSpace; }

}  // namespace

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
  if (!holder.empty() && holder != origin) return Code::kConflict;
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
