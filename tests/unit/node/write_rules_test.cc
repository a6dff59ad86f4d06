// What the write paths decide (node/write_rules.h), row by row.
#include "node/write_rules.h"

#include <catch2/catch.hpp>

#include <utility>

namespace pairfs::node {
namespace {

using R = PairRole;
using S = PairStatus;
using W = WriteRule;

PairState WriteSide(R role, S status, bool fenced = false) {
  PairState state;
  state.role = role;
  state.status = status;
  state.fenced = fenced;
  return state;
}

const wire::Generation kFive{5, "a"};
const wire::Generation kSix{6, "b"};

PairContext Mode(PairMode mode, FenceLevel fence = FenceLevel::kNever) {
  PairContext context;
  context.mode = mode;
  context.fence = fence;
  return context;
}

PairState Outdated(PairState state) {
  state.outdated = true;
  return state;
}

TEST_CASE("a write at the mount takes its path from the status, an async primary its journal",
          "[write_rules][write]") {
  using P = WritePath;
  const PairContext sync = Mode(PairMode::kSync);
  const PairContext async = Mode(PairMode::kAsync);
  const PairContext async_data = Mode(PairMode::kAsync, FenceLevel::kData);
  struct Row {
    PairState here;
    PairContext context;
    P path;
  };
  const Row rows[] = {
      {WriteSide(R::kSimplex, S::kSMPL), sync, P::kLocal},
      {WriteSide(R::kPrimary, S::kPAIR), sync, P::kReplicate},
      {WriteSide(R::kSecondary, S::kPAIR), sync, P::kForwardToPrimary},
      {WriteSide(R::kPrimary, S::kPSUS), sync, P::kLocalTracked},
      // async: the journal from PAIR on; the initial copy replicates as a sync pair does
      {WriteSide(R::kPrimary, S::kPAIR), async, P::kJournal},
      {WriteSide(R::kPrimary, S::kPFUL), async, P::kJournal},
      {WriteSide(R::kPrimary, S::kPAIR), async_data, P::kJournal},
      {WriteSide(R::kPrimary, S::kCOPY), async, P::kReplicate},
      {WriteSide(R::kPrimary, S::kPFUS), async, P::kLocalTracked},
      {WriteSide(R::kPrimary, S::kPSUS), async, P::kLocalTracked},
      // never the journal when fenced or outdated: what the state machine says (EROFS)
      {WriteSide(R::kPrimary, S::kPAIR, true), async, P::kRefuseReadOnly},
      {Outdated(WriteSide(R::kPrimary, S::kPAIR)), async, P::kRefuseReadOnly},
      {Outdated(WriteSide(R::kPrimary, S::kPFUL)), async, P::kRefuseReadOnly},
      // an async secondary never writes while in PAIR, and writes alone once split
      {WriteSide(R::kSecondary, S::kPAIR), async, P::kRefuseReadOnly},
      {WriteSide(R::kSecondary, S::kSSWS), async, P::kLocalTracked},
  };
  for (const Row& row : rows) {
    INFO(RoleName(row.here.role) << " " << StatusName(row.here.status) << " "
                                 << ModeName(row.context.mode) << " fenced " << row.here.fenced
                                 << " outdated " << row.here.outdated);
    CHECK(WritePathFor(row.here, row.context, WriteRuleFor(row.here, row.context)) == row.path);
  }
  // Outside the journal the path is the rule's, one to one.
  const std::pair<W, P> same[] = {
      {W::kLocal, P::kLocal},
      {W::kLocalTracked, P::kLocalTracked},
      {W::kReplicate, P::kReplicate},
      {W::kForwardToPrimary, P::kForwardToPrimary},
      {W::kRefuseReadOnly, P::kRefuseReadOnly},
      {W::kRefuseIo, P::kRefuseIo},
  };
  for (const auto& [rule, path] : same) {
    CHECK(WritePathFor(WriteSide(R::kPrimary, S::kPSUS), sync, rule) == path);
    CHECK(WritePathFor(WriteSide(R::kPrimary, S::kPAIR), async, rule) == P::kJournal);
  }
}

TEST_CASE("an fsync at the mount flushes this copy, both, or an async primary's journal",
          "[write_rules][write]") {
  using F = FlushPath;
  const PairContext sync = Mode(PairMode::kSync);
  const PairContext async = Mode(PairMode::kAsync);
  struct Row {
    PairState here;
    PairContext context;
    F path;
  };
  const Row rows[] = {
      {WriteSide(R::kSimplex, S::kSMPL), sync, F::kLocal},
      {WriteSide(R::kPrimary, S::kPAIR), sync, F::kWithPeer},
      {WriteSide(R::kPrimary, S::kCOPY), sync, F::kWithPeer},
      {WriteSide(R::kSecondary, S::kPAIR), sync, F::kWithPeer},
      {WriteSide(R::kPrimary, S::kPSUS), sync, F::kLocal},
      {WriteSide(R::kSecondary, S::kSSUS), sync, F::kLocal},
      {WriteSide(R::kPrimary, S::kPAIR), async, F::kJournal},
      {WriteSide(R::kPrimary, S::kPFUL), async, F::kJournal},
      // the journal holds the writes acknowledged before the fence: only its flush keeps them
      {WriteSide(R::kPrimary, S::kPAIR, true), async, F::kJournal},
      {Outdated(WriteSide(R::kPrimary, S::kPFUL)), async, F::kJournal},
      {WriteSide(R::kPrimary, S::kCOPY), async, F::kWithPeer},
      {WriteSide(R::kPrimary, S::kPFUS), async, F::kLocal},
      {WriteSide(R::kSecondary, S::kPAIR), async, F::kLocal},
  };
  for (const Row& row : rows) {
    INFO(RoleName(row.here.role) << " " << StatusName(row.here.status) << " "
                                 << ModeName(row.context.mode) << " fenced " << row.here.fenced
                                 << " outdated " << row.here.outdated);
    CHECK(FlushPathFor(row.here, row.context, WriteRuleFor(row.here, row.context)) == row.path);
  }
}

TEST_CASE("a write that lost the link returns what the fence level and the reaction say",
          "[write_rules]") {
  using O = LinkLossOutcome;
  struct Row {
    PairState here;
    FenceLevel fence;
    WriteRule rule;
    O outcome;
  };
  const Row rows[] = {
      {WriteSide(R::kPrimary, S::kPSUE), FenceLevel::kNever, W::kLocalTracked, O::kWritten},
      {WriteSide(R::kPrimary, S::kPSUE), FenceLevel::kData, W::kRefuseIo, O::kRefuseIo},
      {WriteSide(R::kPrimary, S::kPSUE, true), FenceLevel::kReserve, W::kRefuseReadOnly,
       O::kFencedIo},
      // a fenced primary with fence reserve is EIO whatever its rule says
      {WriteSide(R::kPrimary, S::kPSUE, true), FenceLevel::kReserve, W::kLocalTracked,
       O::kFencedIo},
      // fenced, but not by the reserve: the rule decides
      {WriteSide(R::kPrimary, S::kPSUE, true), FenceLevel::kNever, W::kRefuseReadOnly,
       O::kRefuseReadOnly},
      // a fenced secondary under fence reserve: the rule decides
      {WriteSide(R::kSecondary, S::kSSUS, true), FenceLevel::kReserve, W::kRefuseIo, O::kRefuseIo},
      {WriteSide(R::kPrimary, S::kPSUE), FenceLevel::kReserve, W::kLocalTracked, O::kWritten},
      {WriteSide(R::kSecondary, S::kPAIR), FenceLevel::kNever, W::kForwardToPrimary,
       O::kRefuseReadOnly},
      {WriteSide(R::kSecondary, S::kSSUS), FenceLevel::kNever, W::kRefuseReadOnly,
       O::kRefuseReadOnly},
      {WriteSide(R::kPrimary, S::kPAIR), FenceLevel::kNever, W::kReplicate, O::kRefuseReadOnly},
      {WriteSide(R::kPrimary, S::kPSUS), FenceLevel::kNever, W::kLocal, O::kRefuseReadOnly},
  };
  for (const Row& row : rows) {
    INFO(RoleName(row.here.role) << " " << StatusName(row.here.status) << " fenced "
                                 << row.here.fenced << " fence " << FenceName(row.fence));
    CHECK(AfterLinkLoss(row.here, row.fence, row.rule) == row.outcome);
  }
}

TEST_CASE("the primary reads the answer to a replica write", "[write_rules]") {
  using A = ReplicaAnswerStep;
  CHECK(ReadReplicaAnswer(false, Code::kOk, kFive, kFive) == A::kLinkLost);
  CHECK(ReadReplicaAnswer(false, Code::kReadOnly, kSix, kFive) == A::kLinkLost);
  CHECK(ReadReplicaAnswer(true, Code::kOk, kFive, kFive) == A::kDone);
  // an ack is an ack, whatever generation it carries
  CHECK(ReadReplicaAnswer(true, Code::kOk, kSix, kFive) == A::kDone);
  CHECK(ReadReplicaAnswer(true, Code::kReadOnly, kSix, kFive) == A::kPeerNewer);
  // a newer peer outweighs its disk fault
  CHECK(ReadReplicaAnswer(true, Code::kIoError, kSix, kFive) == A::kPeerNewer);
  CHECK(ReadReplicaAnswer(true, Code::kIoError, kFive, kFive) == A::kDiskFault);
  CHECK(ReadReplicaAnswer(true, Code::kNoSpace, kFive, kFive) == A::kDiskFault);
  CHECK(ReadReplicaAnswer(true, Code::kReadOnly, kFive, kFive) == A::kLinkLost);
  CHECK(ReadReplicaAnswer(true, Code::kReadOnly, kFive, kSix) == A::kLinkLost);  // peer older
  CHECK(ReadReplicaAnswer(true, Code::kNotFound, kFive, kFive) == A::kLinkLost);
}

TEST_CASE("a secondary writes a replica write only in sync at the same generation",
          "[write_rules]") {
  CHECK(AcceptsReplicaWrite(WriteSide(R::kSecondary, S::kPAIR), kFive, kFive));
  CHECK(AcceptsReplicaWrite(WriteSide(R::kSecondary, S::kCOPY), kFive, kFive));
  CHECK_FALSE(AcceptsReplicaWrite(WriteSide(R::kSecondary, S::kPAIR), kFive, kSix));
  CHECK_FALSE(AcceptsReplicaWrite(WriteSide(R::kSecondary, S::kPAIR), kSix, kFive));
  CHECK_FALSE(AcceptsReplicaWrite(WriteSide(R::kSecondary, S::kSSUS), kFive, kFive));
  CHECK_FALSE(AcceptsReplicaWrite(WriteSide(R::kSecondary, S::kSSWS), kFive, kFive));
  CHECK_FALSE(AcceptsReplicaWrite(WriteSide(R::kPrimary, S::kPAIR), kFive, kFive));
  CHECK_FALSE(AcceptsReplicaWrite(WriteSide(R::kSimplex, S::kSMPL), kFive, kFive));
}

TEST_CASE("a primary judges a forwarded write before it grants it", "[write_rules]") {
  CHECK(JudgeForwardedWrite(W::kReplicate, kFive, kFive, "", "b") == Code::kOk);
  CHECK(JudgeForwardedWrite(W::kReplicate, kFive, kFive, "b", "b") == Code::kOk);
  CHECK(JudgeForwardedWrite(W::kReplicate, kFive, kFive, "a", "b") == Code::kConflict);
  CHECK(JudgeForwardedWrite(W::kReplicate, kFive, kSix, "", "b") == Code::kReadOnly);
  // another generation is refused before the reservation is looked at
  CHECK(JudgeForwardedWrite(W::kReplicate, kSix, kFive, "a", "b") == Code::kReadOnly);
  for (W rule :
       {W::kLocal, W::kLocalTracked, W::kForwardToPrimary, W::kRefuseIo, W::kRefuseReadOnly}) {
    CHECK(JudgeForwardedWrite(rule, kFive, kFive, "", "b") == Code::kReadOnly);
    CHECK(JudgeForwardedWrite(rule, kFive, kFive, "a", "b") == Code::kReadOnly);
  }
}

TEST_CASE("a refused grant gives the writer a conflict, the peer's disk fault or EROFS",
          "[write_rules]") {
  CHECK(RefusedGrantCode(Code::kConflict) == Code::kConflict);
  CHECK(RefusedGrantCode(Code::kIoError) == Code::kIoError);
  CHECK(RefusedGrantCode(Code::kNoSpace) == Code::kNoSpace);
  for (Code code : {Code::kReadOnly, Code::kNotFound, Code::kInvalidArgument, Code::kUnreachable,
                    Code::kUnsupported}) {
    CHECK(RefusedGrantCode(code) == Code::kReadOnly);
  }
}

}  // namespace
}  // namespace pairfs::node
