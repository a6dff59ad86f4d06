// When clusterd may lift a copy's fence (node/fence_rules.h), row by row.
#include "node/fence_rules.h"

#include <catch2/catch.hpp>

namespace pairfs::node {
namespace {

using R = PairRole;
using S = PairStatus;
using W = WriteRule;

PairState FenceSide(R role, S status, bool fenced, bool outdated = false) {
  PairState state;
  state.role = role;
  state.status = status;
  state.fenced = fenced;
  state.outdated = outdated;
  return state;
}

TEST_CASE("lifting a fence is checked only where the copy would then write alone",
          "[fence_rules]") {
  const PairState fenced = FenceSide(R::kPrimary, S::kPSUE, true);
  CHECK(UnfenceWritesAlone(fenced, W::kLocal));
  CHECK(UnfenceWritesAlone(fenced, W::kLocalTracked));
  for (W rule : {W::kReplicate, W::kForwardToPrimary, W::kRefuseIo, W::kRefuseReadOnly}) {
    CHECK_FALSE(UnfenceWritesAlone(fenced, rule));
  }
  // not fenced: nothing to lift
  CHECK_FALSE(UnfenceWritesAlone(FenceSide(R::kPrimary, S::kPSUE, false), W::kLocalTracked));
}

TEST_CASE("the unfenced rule is WriteRuleFor of the state without the fence", "[fence_rules]") {
  const PairContext context;
  for (R role : {R::kPrimary, R::kSecondary}) {
    for (S status : {S::kPAIR, S::kPSUE, S::kPSUS, S::kSSWS, S::kCOPY}) {
      PairState here = FenceSide(role, status, true);
      PairState lifted = here;
      lifted.fenced = false;
      INFO(RoleName(role) << " " << StatusName(status));
      CHECK(UnfenceWritesAlone(here, context) ==
            UnfenceWritesAlone(here, WriteRuleFor(lifted, context)));
    }
  }
  // The rule comes from `rule_for` (the cluster simulation's mutations).
  auto always_local = [](const PairState&, const PairContext&) { return W::kLocal; };
  CHECK(UnfenceWritesAlone(FenceSide(R::kSecondary, S::kPAIR, true), context, always_local));
  CHECK_FALSE(UnfenceWritesAlone(FenceSide(R::kSecondary, S::kPAIR, false), context, always_local));
}

TEST_CASE("the winner asks the peer only holding dv with a current copy", "[fence_rules]") {
  std::string why;
  CHECK(WinnerMayAskPeer(true, FenceSide(R::kPrimary, S::kPSUE, true), &why));
  CHECK_FALSE(WinnerMayAskPeer(false, FenceSide(R::kPrimary, S::kPSUE, true), &why));
  CHECK(why == "this site does not hold the determining volume");
  CHECK_FALSE(WinnerMayAskPeer(true, FenceSide(R::kSecondary, S::kSSWS, true, true), &why));
  CHECK(why == "this copy is outdated");
}

TEST_CASE("the winner lifts its fence only over an older, outdated or outdated-marked peer",
          "[fence_rules]") {
  const wire::Generation mine{7, "a"};
  struct Row {
    PeerCopy peer;
    bool record_marks_peer_outdated;
    bool lifts;
    const char* why;
  };
  const Row rows[] = {
      {{true, false, {6, "a"}}, false, true, "site b's copy is older"},
      {{true, true, {7, "a"}}, false, true, "site b's copy is outdated"},
      {{true, true, {8, "b"}}, false, true, "site b's copy is outdated"},
      {{true, false, {7, "a"}}, true, false, "site b's copy is as new"},
      {{true, false, {8, "b"}}, true, false, "site b's copy is as new"},
      {{false, false, {}},
       true,
       true,
       "this site holds the determining volume and its record marks site b outdated"},
      {{false, true, {1, "b"}}, false, false, "site b does not answer and is not marked outdated"},
  };
  for (const Row& row : rows) {
    std::string why;
    CHECK(WinnerMayLift(row.peer, mine, row.record_marks_peer_outdated, "b", &why) == row.lifts);
    CHECK(why == row.why);
  }
}

}  // namespace
}  // namespace pairfs::node
