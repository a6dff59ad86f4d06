// What the reservations across a pair decide (node/reserve_rules.h), row by row.
#include "node/reserve_rules.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "wire/limits.h"

namespace pairfs::node {
namespace {

using R = PairRole;
using S = PairStatus;

wire::ReserveVoteRequest Ask(const std::string& holder, bool release = false, bool force = false,
                             const std::string& outdated = "") {
  return {"vm1", holder, outdated, force, release};
}

PairState ReserveSide(R role, S status, bool outdated = false) {
  PairState state;
  state.role = role;
  state.status = status;
  state.outdated = outdated;
  return state;
}

TEST_CASE("a managed volume's reserve: no force, no outdated site, preempt by the dv holder",
          "[reserve_rules]") {
  CHECK(CheckManagedReserve(Ask("a"), false, true, "").ok());
  CHECK(CheckManagedReserve(Ask("a"), false, false, "").ok());
  CHECK(CheckManagedReserve(Ask("a", false, true), false, true, "a").code() ==
        Code::kInvalidArgument);
  CHECK(CheckManagedReserve(Ask("a", false, false, "b"), false, true, "a").code() ==
        Code::kInvalidArgument);
  // force is refused before the preempt is looked at
  CHECK(CheckManagedReserve(Ask("a", false, true), true, true, "b").code() ==
        Code::kInvalidArgument);
  CHECK(CheckManagedReserve(Ask("a"), true, true, "a").ok());
  const Status refused = CheckManagedReserve(Ask("a"), true, true, "b");
  CHECK(refused.code() == Code::kConflict);
  CHECK(refused.message().find("held by b") != std::string::npos);
  CHECK(CheckManagedReserve(Ask("a"), true, true, "").message().find("held by nobody") !=
        std::string::npos);
  CHECK(CheckManagedReserve(Ask("a"), true, false, "a").code() == Code::kConflict);
  // a preempting release needs no hold
  CHECK(CheckManagedReserve(Ask("a", true), true, true, "b").ok());
}

TEST_CASE("the primary orders a reserve unless another site holds the volume", "[reserve_rules]") {
  CHECK(CheckOrderedReserve(Ask("a"), false, "").ok());
  CHECK(CheckOrderedReserve(Ask("a"), false, "a").ok());
  CHECK(CheckOrderedReserve(Ask("a"), true, "b").ok());
  const Status held = CheckOrderedReserve(Ask("a"), false, "b");
  CHECK(held.code() == Code::kConflict);
  CHECK(held.message() == "volume vm1 is reserved by site b");
  CHECK(CheckOrderedReserve(Ask("a", true), false, "b").message() ==
        "volume vm1 is reserved by site b, not a");
  CHECK(CheckOrderedReserve(Ask("a", true), false, "").ok());
}

TEST_CASE("the record decides at the primary or a taken-over copy, never an outdated one",
          "[reserve_rules]") {
  CHECK(RecordDecidesHere(ReserveSide(R::kPrimary, S::kPAIR)));
  CHECK(RecordDecidesHere(ReserveSide(R::kPrimary, S::kPSUE)));
  CHECK(RecordDecidesHere(ReserveSide(R::kPrimary, S::kCOPY)));
  CHECK(RecordDecidesHere(ReserveSide(R::kSecondary, S::kSSWS)));
  CHECK_FALSE(RecordDecidesHere(ReserveSide(R::kPrimary, S::kPSUE, true)));
  CHECK_FALSE(RecordDecidesHere(ReserveSide(R::kSecondary, S::kSSWS, true)));
  CHECK_FALSE(RecordDecidesHere(ReserveSide(R::kSecondary, S::kPAIR)));
  CHECK_FALSE(RecordDecidesHere(ReserveSide(R::kSecondary, S::kSSUS)));
  CHECK_FALSE(RecordDecidesHere(ReserveSide(R::kSimplex, S::kSMPL)));
}

TEST_CASE("a managed volume's reserve is ordered at the primary while the pair replicates",
          "[reserve_rules]") {
  using Route = ReserveRoute;
  for (bool forwarded : {false, true}) {
    CHECK(RouteManagedReserve(false, PairState{}, forwarded) == Route::kApplyHere);
    for (S status : kAllStatuses) {
      INFO(StatusName(status) << " forwarded " << forwarded);
      const bool replicating = IsReplicating(status);
      CHECK(RouteManagedReserve(true, ReserveSide(R::kPrimary, status), forwarded) ==
            (replicating ? Route::kOrderHere : Route::kApplyHere));
      CHECK(RouteManagedReserve(true, ReserveSide(R::kSecondary, status), forwarded) ==
            (!replicating ? Route::kApplyHere
             : forwarded  ? Route::kRefuseForwarded
                          : Route::kAskPeer));
    }
  }
}

TEST_CASE(
    "the determining volume's reserve: a majority with a witness, else where the record "
    "decides",
    "[reserve_rules]") {
  using Route = ReserveRoute;
  const PairState secondary = ReserveSide(R::kSecondary, S::kPAIR);
  const PairState primary = ReserveSide(R::kPrimary, S::kPSUE);
  CHECK(RouteDeterminingReserve(true, true, secondary, true) == Route::kMajority);
  CHECK(RouteDeterminingReserve(true, false, primary, false) == Route::kMajority);
  CHECK(RouteDeterminingReserve(false, false, secondary, true) == Route::kApplyHere);
  CHECK(RouteDeterminingReserve(false, true, primary, false) == Route::kOrderHere);
  CHECK(RouteDeterminingReserve(false, true, primary, true) == Route::kOrderHere);
  CHECK(RouteDeterminingReserve(false, true, ReserveSide(R::kSecondary, S::kSSWS), true) ==
        Route::kOrderHere);
  CHECK(RouteDeterminingReserve(false, true, secondary, false) == Route::kAskPeer);
  CHECK(RouteDeterminingReserve(false, true, secondary, true) == Route::kRefuseForwarded);
  // an outdated primary asks (its record is the stale one), even suspended
  CHECK(RouteDeterminingReserve(false, true, ReserveSide(R::kPrimary, S::kPSUE, true), false) ==
        Route::kAskPeer);
}

TEST_CASE("a fence-reserve pair apart from its peer keeps dv held", "[reserve_rules]") {
  for (S status : kAllStatuses) {
    INFO(StatusName(status));
    CHECK(HoldsDeterminingVolume(FenceLevel::kReserve, status) == (status != S::kPAIR));
    CHECK_FALSE(HoldsDeterminingVolume(FenceLevel::kData, status));
    CHECK_FALSE(HoldsDeterminingVolume(FenceLevel::kNever, status));
  }
}

TEST_CASE("a majority of three copies wins; the first refusal is the reason", "[reserve_rules]") {
  struct Vote {
    bool granted;
    const char* who;
  };
  struct Row {
    int own;  // -1: this copy's vote failed (not counted), 0 refused, 1 granted
    std::vector<Vote> others;
    TallyVerdict verdict;
    bool needs_peer_after_witness;
    std::string refusal;
  };
  const Row rows[] = {
      {1, {{true, "the witness"}}, TallyVerdict::kWon, false, ""},
      {1, {{false, "the witness"}, {true, "site b"}}, TallyVerdict::kWon, true, "the witness: no"},
      {0, {{true, "the witness"}, {true, "site b"}}, TallyVerdict::kWon, true, "own no"},
      {0, {{true, "the witness"}, {false, "site b"}}, TallyVerdict::kRefused, true, "own no"},
      {1,
       {{false, "the witness"}, {false, "site b"}},
       TallyVerdict::kRefused,
       true,
       "the witness: no"},
      {1, {}, TallyVerdict::kUnreachable, true, ""},
      {-1, {{true, "the witness"}}, TallyVerdict::kUnreachable, true, ""},
      {-1, {{true, "the witness"}, {true, "site b"}}, TallyVerdict::kWon, true, ""},
      {-1, {{true, "the witness"}, {false, "site b"}}, TallyVerdict::kRefused, true, "site b: no"},
  };
  for (const Row& row : rows) {
    VoteTally tally;
    if (row.own >= 0) CountVote(&tally, row.own == 1, "", "own no", true);
    for (size_t i = 0; i < row.others.size(); ++i) {
      if (i == 1) CHECK(NeedsPeerVote(tally) == row.needs_peer_after_witness);
      CountVote(&tally, row.others[i].granted, row.others[i].who, "no");
    }
    CHECK(ReadTally(tally) == row.verdict);
    CHECK(tally.own_granted == (row.own == 1));
    CHECK(tally.refusal == row.refusal);
  }
}

TEST_CASE("this copy's grant must still stand when the votes are in", "[reserve_rules]") {
  CHECK(OwnGrantStands(Ask("a"), "a"));
  CHECK_FALSE(OwnGrantStands(Ask("a"), ""));
  CHECK_FALSE(OwnGrantStands(Ask("a"), "b"));
  CHECK(OwnGrantStands(Ask("a", true), ""));
  CHECK_FALSE(OwnGrantStands(Ask("a", true), "a"));
}

TEST_CASE("a site numbers its votes after its last, its copy's and the clock", "[reserve_rules]") {
  CHECK(NextVoteNumber(0, 0, 0) == 1);  // never 0: 0 is "not numbered"
  CHECK(NextVoteNumber(0, 0, 1000) == 1000);
  CHECK(NextVoteNumber(1000, 0, 1000) == 1001);  // two votes in one millisecond
  CHECK(NextVoteNumber(1000, 0, 900) == 1001);   // the clock stepped back: still later
  // after a restart (last 0): later than what its copy of the record holds, even if the
  // clock is behind it (its peer numbered it with a clock ahead)
  CHECK(NextVoteNumber(0, 5000, 4000) == 5001);
  CHECK(NextVoteNumber(0, 5000, 6000) == 6000);
}

TEST_CASE("a mirrored record replaces an older or equal one; far ahead is refused",
          "[reserve_rules]") {
  CHECK(MirrorReplaces(5, 4));
  CHECK(MirrorReplaces(5, 5));
  CHECK_FALSE(MirrorReplaces(4, 5));
  CHECK_FALSE(MirrorFarAhead(5, 4));
  CHECK_FALSE(MirrorFarAhead(4, 5));
  CHECK_FALSE(MirrorFarAhead(wire::kMaxEpochJump + 1, 1));
  CHECK(MirrorFarAhead(wire::kMaxEpochJump + 2, 1));
  CHECK_FALSE(MirrorFarAhead(0, UINT64_MAX));
}

TEST_CASE("a volume reserved by another site refuses this site's writes; by nobody or it, not",
          "[reserve_rules]") {
  CHECK_FALSE(ReservedByOther("", "a"));
  CHECK_FALSE(ReservedByOther("a", "a"));
  CHECK(ReservedByOther("b", "a"));
  CHECK(ReservedByOther("a", ""));  // a write of unknown origin is no holder's
}

}  // namespace
}  // namespace pairfs::node
