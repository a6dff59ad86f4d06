// The readings of a peer's status (node/peer_status_rules.h), row by row.
#include "node/peer_status_rules.h"

#include <catch2/catch.hpp>

#include <vector>

#include "node/limits.h"

namespace pairfs::node {
namespace {

using R = PairRole;
using S = PairStatus;
using V = StatusVerdict;

constexpr int64_t kTimeout = 1000;

PairState PeerSide(R role, S status, bool outdated = false, bool consistent = true) {
  PairState state;
  state.role = role;
  state.status = status;
  state.outdated = outdated;
  state.consistent = consistent;
  return state;
}

// Site a at generation 5/a hears the peer at `peer_generation` with `peer_role`/`peer_status`.
PeerStatusFacts Facts(PairState here, wire::Generation peer_generation, R peer_role,
                      S peer_status) {
  return {here, wire::Generation{5, "a"}, peer_generation, peer_role, peer_status, "a"};
}

// The verdicts of the same status read at times 0, 500, 1001 and 1600 (ms).
std::vector<V> Over(const PeerStatusFacts& facts) {
  StatusWatch watch;
  std::vector<V> verdicts;
  for (int64_t now : {0, 500, 1001, 1600}) {
    verdicts.push_back(ReadPeerStatus(facts, now, kTimeout, &watch));
  }
  return verdicts;
}

}  // namespace

TEST_CASE("peer status: the readings that count at once, later, or never", "[peer_status]") {
  const wire::Generation same{5, "a"}, newer_b{6, "b"}, newer_a{6, "a"};
  struct Row {
    const char* what;
    PeerStatusFacts facts;
    std::vector<V> verdicts;
  };
  const std::vector<Row> rows = {
      {"the same generation, both in PAIR: nothing",
       Facts(PeerSide(R::kPrimary, S::kPAIR), same, R::kSecondary, S::kPAIR),
       {V::kNone, V::kNone, V::kNone, V::kNone}},
      {"a peer newer (made at b) counts only after the timeout: outdated",
       Facts(PeerSide(R::kSecondary, S::kPAIR), newer_b, R::kPrimary, S::kPAIR),
       {V::kNone, V::kNone, V::kPeerNewer, V::kNone}},
      {"a peer at a generation this site made: finish the swap after the timeout",
       Facts(PeerSide(R::kSecondary, S::kPAIR), newer_a, R::kSecondary, S::kPAIR),
       {V::kNone, V::kNone, V::kFinishSwap, V::kNone}},
      {"an outdated side already suspended is settled: a newer peer changes nothing",
       Facts(PeerSide(R::kSecondary, S::kPSUE, true), newer_b, R::kPrimary, S::kPSUS),
       {V::kNone, V::kNone, V::kNone, V::kNone}},
      {"an outdated side still in COPY is not settled",
       Facts(PeerSide(R::kSecondary, S::kCOPY, true), newer_b, R::kPrimary, S::kPSUS),
       {V::kNone, V::kNone, V::kPeerNewer, V::kNone}},
      {"the secondary suspended while this primary replicates: at once",
       Facts(PeerSide(R::kPrimary, S::kPAIR), same, R::kSecondary, S::kPSUE),
       {V::kSecondarySuspended, V::kSecondarySuspended, V::kSecondarySuspended,
        V::kSecondarySuspended}},
      {"the secondary suspended at another generation: nothing",
       Facts(PeerSide(R::kPrimary, S::kPAIR), wire::Generation{4, "a"}, R::kSecondary, S::kPSUE),
       {V::kNone, V::kNone, V::kNone, V::kNone}},
      {"the primary suspended while this secondary replicates: after the timeout",
       Facts(PeerSide(R::kSecondary, S::kCOPY), same, R::kPrimary, S::kPSUE),
       {V::kNone, V::kNone, V::kPrimaryApart, V::kNone}},
      {"the primary suspended while this secondary is suspended too: nothing",
       Facts(PeerSide(R::kSecondary, S::kPSUE), same, R::kPrimary, S::kPSUE),
       {V::kNone, V::kNone, V::kNone, V::kNone}},
  };
  for (const Row& row : rows) {
    INFO(row.what);
    CHECK(Over(row.facts) == row.verdicts);
  }
}

TEST_CASE("peer status: a reading that stops holding starts its timeout again", "[peer_status]") {
  StatusWatch watch;
  const PeerStatusFacts apart =
      Facts(PeerSide(R::kSecondary, S::kPAIR), wire::Generation{5, "a"}, R::kPrimary, S::kPSUE);
  PeerStatusFacts together = apart;
  together.peer_status = S::kPAIR;
  CHECK(ReadPeerStatus(apart, 0, kTimeout, &watch) == V::kNone);
  CHECK(ReadPeerStatus(together, 600, kTimeout, &watch) == V::kNone);  // resets
  CHECK(ReadPeerStatus(apart, 1200, kTimeout, &watch) == V::kNone);    // starts again
  CHECK(ReadPeerStatus(apart, 2000, kTimeout, &watch) == V::kNone);    // 800 ms: not yet
  CHECK(ReadPeerStatus(apart, 2201, kTimeout, &watch) == V::kPrimaryApart);
}

TEST_CASE("finish swap: what this side does for a peer at a generation it made", "[peer_status]") {
  struct Row {
    const char* what;
    PairState here;
    R peer_role;
    S peer_status;
    SwapStep step;
  };
  const std::vector<Row> rows = {
      {"both in PAIR, the peer demoted: promote", PeerSide(R::kSecondary, S::kPAIR), R::kSecondary,
       S::kPAIR, SwapStep::kPromote},
      {"this side in PAIR, the peer suspended since: suspend", PeerSide(R::kSecondary, S::kPAIR),
       R::kSecondary, S::kPSUE, SwapStep::kSuspend},
      {"this side in PAIR, the peer copying: suspend", PeerSide(R::kSecondary, S::kPAIR),
       R::kSecondary, S::kCOPY, SwapStep::kSuspend},
      {"this side suspended: resync --swap", PeerSide(R::kSecondary, S::kPSUE), R::kSecondary,
       S::kPAIR, SwapStep::kResyncSwap},
      {"this side took over (SSWS), its resync --swap lost after the peer became its copy's "
       "target: resync --swap again (L10)",
       PeerSide(R::kSecondary, S::kSSWS), R::kSecondary, S::kCOPY, SwapStep::kResyncSwap},
      {"this side took over (SSWS), the peer demoted in PAIR: resync --swap",
       PeerSide(R::kSecondary, S::kSSWS), R::kSecondary, S::kPAIR, SwapStep::kResyncSwap},
      {"the peer still primary: left as it is", PeerSide(R::kSecondary, S::kPAIR), R::kPrimary,
       S::kPAIR, SwapStep::kNone},
      {"the peer split writable (SSUS): left", PeerSide(R::kSecondary, S::kPAIR), R::kSecondary,
       S::kSSUS, SwapStep::kNone},
      {"this copy outdated: left", PeerSide(R::kSecondary, S::kPSUE, true), R::kSecondary, S::kPAIR,
       SwapStep::kNone},
      {"this copy inconsistent: left", PeerSide(R::kSecondary, S::kPSUE, false, false),
       R::kSecondary, S::kPAIR, SwapStep::kNone},
      {"this side primary: left", PeerSide(R::kPrimary, S::kPAIR), R::kSecondary, S::kPAIR,
       SwapStep::kNone},
      {"this side copying: left", PeerSide(R::kSecondary, S::kCOPY), R::kSecondary, S::kPAIR,
       SwapStep::kNone},
  };
  for (const Row& row : rows) {
    INFO(row.what);
    CHECK(FinishSwapStep(row.here, row.peer_role, row.peer_status) == row.step);
  }
}

TEST_CASE("a reaction to the link applies only at its generation while replicating",
          "[peer_status]") {
  const wire::Generation seen{5, "a"};
  for (S status : kAllStatuses) {
    INFO(StatusName(status));
    const PairState here = PeerSide(R::kPrimary, status);
    CHECK(LinkReactionApplies(here, seen, seen) == IsReplicating(status));
    CHECK_FALSE(LinkReactionApplies(here, wire::Generation{6, "b"}, seen));
    CHECK_FALSE(LinkReactionApplies(here, wire::Generation{5, "b"}, seen));
  }
}

TEST_CASE("a silent link is lost after the timeout, once the peer was heard since the start",
          "[peer_status]") {
  CHECK_FALSE(LinkIsSilent(true, 100, 100 + kTimeout, kTimeout));  // not longer than the timeout
  CHECK(LinkIsSilent(true, 100, 101 + kTimeout, kTimeout));
  CHECK_FALSE(LinkIsSilent(false, 100, 101 + kTimeout, kTimeout));  // never heard: a restart
  CHECK_FALSE(LinkIsSilent(true, 5000, 5000, kTimeout));
}

TEST_CASE("the async takeover's probe: short for clusterd or a silent link, asked again if heard",
          "[peer_status]") {
  // How long the first ask waits (peer_timeout 2000 ms, status interval 500 ms, by default).
  CHECK(TakeoverProbeMs(true, false, 2000, 500) == kFailoverProbeMs);   // clusterd's failover
  CHECK(TakeoverProbeMs(false, true, 2000, 500) == kFailoverProbeMs);   // link silent already
  CHECK(TakeoverProbeMs(false, false, 2000, 500) == kTakeoverProbeMs);  // the operator's
  CHECK(TakeoverProbeMs(false, false, 5000, 800) == 1600);  // two status intervals at least
  CHECK(TakeoverProbeMs(false, false, 600, 500) == 600);    // never past peer_timeout_ms
  CHECK(TakeoverProbeMs(true, false, 100, 500) == 100);
  struct Row {
    const char* what;
    int probe_ms;
    int64_t last_heard_ms;  // the ask started at 1000 and ended unanswered at 1250
    bool again;
  };
  const std::vector<Row> rows = {
      {"heard during the ask", 250, 1100, true},
      {"heard at the ask's start", 250, 1000, true},
      {"heard just before the ask", 250, 999, true},            // 251 ms before the end
      {"heard 999 ms before the end", 250, 251, true},          // within two intervals
      {"heard 1000 ms before the end: gone", 250, 250, false},  // two intervals: silent
      {"never heard since long ago", 250, -100000, false},
      {"the first ask waited peer_timeout_ms", 2000, 1100, false},
  };
  for (const Row& row : rows) {
    INFO(row.what);
    CHECK(AskAgainAfterProbe(row.probe_ms, 2000, 1000, row.last_heard_ms, 1250, 500) == row.again);
  }
}

TEST_CASE("a newer peer outdates this copy at its generation, unless settled or made here",
          "[peer_status]") {
  const wire::Generation seen{5, "a"};
  const wire::Generation newer_elsewhere{6, "b"};
  const wire::Generation made_here{6, "a"};
  struct Row {
    const char* what;
    PairState here;
    wire::Generation generation;
    wire::Generation peer;
    bool applies;
  };
  const std::vector<Row> rows = {
      {"in PAIR, a peer newer from b", PeerSide(R::kSecondary, S::kPAIR), seen, newer_elsewhere,
       true},
      {"suspended, not outdated", PeerSide(R::kPrimary, S::kPSUE), seen, newer_elsewhere, true},
      {"the pair moved on since",
       PeerSide(R::kSecondary, S::kPAIR),
       {6, "a"},
       newer_elsewhere,
       false},
      {"outdated and apart: settled", PeerSide(R::kSecondary, S::kPSUE, true), seen,
       newer_elsewhere, false},
      {"outdated, still in PAIR", PeerSide(R::kSecondary, S::kPAIR, true), seen, newer_elsewhere,
       true},
      {"outdated, a copy stopped midway", PeerSide(R::kSecondary, S::kCOPY, true, false), seen,
       newer_elsewhere, true},
      {"a generation this site made", PeerSide(R::kSecondary, S::kPAIR), seen, made_here, false},
  };
  for (const Row& row : rows) {
    INFO(row.what);
    CHECK(PeerNewerApplies(row.here, row.generation, seen, row.peer, "a") == row.applies);
  }
}

}  // namespace pairfs::node
