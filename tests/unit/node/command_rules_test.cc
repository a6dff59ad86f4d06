// What the pair commands decide beyond the state machine (node/command_rules.h), row by row.
#include "node/command_rules.h"

#include <catch2/catch.hpp>

namespace pairfs::node {
namespace {

TEST_CASE("a takeover or swap makes a generation newer than both copies', named here",
          "[command_rules]") {
  CHECK(NextGeneration({5, "a"}, 3, "b") == wire::Generation{6, "b"});
  CHECK(NextGeneration({5, "a"}, 5, "b") == wire::Generation{6, "b"});
  CHECK(NextGeneration({5, "a"}, 9, "a") == wire::Generation{10, "a"});
  CHECK(NextGeneration({0, ""}, 0, "a") == wire::Generation{1, "a"});
}

TEST_CASE("a resync target still replicating at an older generation is behind", "[command_rules]") {
  for (PairStatus status : kAllStatuses) {
    PairState here;
    here.role = PairRole::kSecondary;
    here.status = status;
    INFO(StatusName(status));
    CHECK(ResyncTargetIsBehind(here, {5, "a"}, {6, "b"}) == IsReplicating(status));
    CHECK_FALSE(ResyncTargetIsBehind(here, {5, "a"}, {5, "a"}));
    CHECK_FALSE(ResyncTargetIsBehind(here, {6, "a"}, {5, "b"}));
  }
}

}  // namespace
TEST_CASE("a primary's copy resumes at the start in COPY, and in PAIR with regions marked",
          "[command_rules]") {
  for (PairRole role : kAllRoles) {
    for (PairStatus status : kAllStatuses) {
      const PairState here{role, status, true, false, false};
      if (!IsValidPairState(here)) continue;
      INFO(RoleName(role) << " " << StatusName(status));
      const bool primary = role == PairRole::kPrimary;
      CHECK(CopyResumesAtStart(here, 0) == (primary && status == PairStatus::kCOPY));
      CHECK(CopyResumesAtStart(here, 4096) ==
            (primary && (status == PairStatus::kCOPY || status == PairStatus::kPAIR)));
    }
  }
}

TEST_CASE("a committed transition's generation: bumped, adopted or kept", "[command_rules]") {
  using A = PairAction;
  const wire::Generation mine{5, "a"}, given{7, "b"};
  CHECK(GenerationAfter({}, mine, &given, "a") == mine);
  CHECK(GenerationAfter({A::kStopCopy}, mine, nullptr, "a") == mine);
  CHECK(GenerationAfter({A::kBumpGeneration}, mine, nullptr, "a") == wire::Generation{6, "a"});
  CHECK(GenerationAfter({A::kBumpGeneration}, mine, nullptr, "b") == wire::Generation{6, "b"});
  CHECK(GenerationAfter({A::kBumpGeneration}, mine, &given, "a") == given);
  CHECK(GenerationAfter({A::kAdoptPeerGeneration}, mine, &given, "a") == given);
  CHECK(GenerationAfter({A::kAdoptPeerGeneration}, mine, nullptr, "a") == mine);
  CHECK(GenerationAfter({A::kStopCopy, A::kBumpGeneration, A::kClearPairFields}, mine, nullptr,
                        "a") == wire::Generation{6, "a"});
}

}  // namespace pairfs::node
