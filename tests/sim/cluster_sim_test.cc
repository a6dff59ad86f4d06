// The cluster simulation (tests/sim/cluster_sim.h) across seeds; the findings it made in the
// product, each kept as a seed that replays it; and the proof that its checks can fail:
// deliberately broken stand-ins for the pure functions (never the real code) must break an
// invariant within the seeds run.
//
// PAIRFS_SIM_SEEDS sets how many seeds the sweep runs (default 1000 from seed 1, two at a time;
// odd seeds with a witness), PAIRFS_SIM_LONG_SEEDS those of the hidden [long] sweep (default
// 20,000). PAIRFS_SIM_SEED=N runs seed N alone and prints its trace
// (PAIRFS_SIM_HASTY_OPERATOR=1: with the hasty operator of the final heal;
// PAIRFS_SIM_LATE_FRAMES=1: with late frames; PAIRFS_SIM_HEARTBEAT_CUT=1: the heartbeat cut).
// PAIRFS_SIM_MUTATION_SEEDS bounds the seeds a mutation may take to be caught (default 400).
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "tests/sim/cluster_sim.h"
#include "tests/sim/sim_env.h"

namespace pairfs::sim {
namespace {

constexpr int kThreads = 2;  // the seeds are independent, each on one thread
// Seeds of the sweep in make check, and of the hidden long sweep. 1000 are enough for what the
// sweep is for in make check: every [mutation] below is caught within its first ten seeds, and
// 50,000 seeds broke no invariant of the product (issue 12; they were 3000, 12 s of a loaded
// make check). The long sweep is the search: after a change of a decision or of the model.
constexpr uint64_t kCheckSeeds = 1000;
constexpr uint64_t kLongSeeds = 20000;

// What a sweep runs besides the seed and the logic (ClusterSimOptions says what each means).
struct Scenario {
  bool late_frames = false;
  bool heartbeat_cut = false;
  bool partition = false;
  // Which runs have a witness: kAlternate, the odd seeds; kAlways and kNever map the sweep's n-th
  // seed to the n-th odd or even one.
  enum class Witness { kAlternate, kAlways, kNever } witness = Witness::kAlternate;
};

ClusterSimOptions OptionsFor(uint64_t seed, ClusterLogic logic = {}, Scenario scenario = {}) {
  ClusterSimOptions options;
  options.seed = scenario.witness == Scenario::Witness::kAlways  ? 2 * seed - 1
                 : scenario.witness == Scenario::Witness::kNever ? 2 * seed
                                                                 : seed;
  options.witness = options.seed % 2 == 1;
  options.logic = logic;
  options.late_frames = scenario.late_frames;
  options.heartbeat_cut = scenario.heartbeat_cut;
  options.partition = scenario.partition;
  return options;
}

// Findings of the simulation in the product, fixed: each seed replays in make check with every
// invariant kept and both pairs back in PAIR (the test case below). Fixed before they had a seed
// here: L4, L5, L6 and W1 (commit acccbd7 and after: a FENCED site races again while nobody is
// active, the winner lifts its own fence, two ACTIVE sites resolve to the holder, a secondary
// follows its suspended primary); L7 and L8 (a swap whose last step was lost is finished by the
// side it was for: FinishSwap; a race refused while nobody is active is retried). A finding that
// cannot be fixed at once goes into a hidden "[findings]" test case that fails until it is, as
// until ac6bb2f. None is left in 20,000 seeds, liveness included; no invariant broken in 50,000.
struct FixedFinding {
  uint64_t seed;
  const char* what;
};
constexpr FixedFinding kFixedFindings[] = {
    {2798,
     "L9: a second resync, refused by the peer, had stopped the copy the first one started: the "
     "determining volume in COPY with no copy running (node/copy_engine.h StopCopyFor)"},
    {7470, "L9, with the other site ACTIVE"},
    {11539,
     "L10: a resync --swap whose last save was lost (the node restarted) left the site that took "
     "over in SSWS and the peer its copy's target at a generation made there: FinishSwapStep "
     "runs resync --swap again"},
    {7761,
     "W2: two ACTIVE sites after the heal, both having held the determining volume by their own "
     "copy's word and both released: the one that releases while the other is ACTIVE steps down "
     "(clusterd/cluster_state.cc DecideActive); also seeds 11009, 13781, 14413, 18141, 19004"},
    {11009, "W2"},
};

// The last `lines` lines of a trace.
std::string Tail(const std::string& trace, int lines) {
  size_t at = trace.size();
  for (int i = 0; i <= lines && at != std::string::npos && at > 0; ++i)
    at = trace.rfind('\n', at - 1);
  return at == std::string::npos ? trace : trace.substr(at + 1);
}

struct Sweep {
  std::map<uint64_t, std::string> failures;
  std::map<uint64_t, std::string> liveness;
  ClusterSimResult totals;
};

// Runs `count` seeds from `first` on kThreads threads; stops early once a failure says
// `stop_at` (when not empty).
Sweep RunSeeds(uint64_t first, uint64_t count, ClusterLogic logic, const std::string& stop_at,
               Scenario scenario = {}) {
  std::atomic<uint64_t> next{first};
  std::mutex mutex;  // guards sweep
  Sweep sweep;
  auto run = [&] {
    for (uint64_t seed = next++; seed < first + count; seed = next++) {
      const ClusterSimResult result = RunClusterSim(OptionsFor(seed, logic, scenario));
      std::lock_guard<std::mutex> lock(mutex);
      if (!result.failure.empty()) sweep.failures[seed] = result.failure;
      if (!result.liveness.empty()) sweep.liveness[seed] = result.liveness;
      sweep.totals.writes_acknowledged += result.writes_acknowledged;
      sweep.totals.writes_refused += result.writes_refused;
      sweep.totals.reserves_won += result.reserves_won;
      sweep.totals.takeovers += result.takeovers;
      sweep.totals.late_votes += result.late_votes;
      if (!stop_at.empty() && result.failure.find(stop_at) != std::string::npos)
        next = first + count;
    }
  };
  std::vector<std::thread> runners;
  for (int i = 0; i < kThreads; ++i) runners.emplace_back(run);
  for (std::thread& runner : runners) runner.join();
  return sweep;
}

// A seed's report: what went wrong, and the end of its replayed trace.
std::string Report(const ClusterSimOptions& run, const std::string& what) {
  ClusterSimOptions options = run;
  options.trace = true;
  const ClusterSimResult replay = RunClusterSim(options);
  return "seed " + std::to_string(run.seed) +
         " (replay with PAIRFS_SIM_SEED=" + std::to_string(run.seed) +
         (run.hasty_operator ? " PAIRFS_SIM_HASTY_OPERATOR=1" : "") +
         (run.heartbeat_cut ? " PAIRFS_SIM_HEARTBEAT_CUT=1" : "") +
         (run.partition ? " PAIRFS_SIM_PARTITION=1" : "") + "): " + what +
         "\nthe end of its trace:\n" + Tail(replay.trace, 60);
}

// The sweep of seeds 1..count: every invariant holds, and the
// schedules really fail over, write and refuse.
void SweepKeepsInvariants(uint64_t count) {
  const Sweep sweep = RunSeeds(1, count, {}, "");
  int reported = 0;
  for (const auto& [seed, failure] : sweep.failures) {
    if (reported++ < 3) {
      FAIL_CHECK(Report(OptionsFor(seed), failure));
    } else {
      FAIL_CHECK("seed " << seed << " (replay with PAIRFS_SIM_SEED=" << seed << "): " << failure);
    }
  }
  // The schedules must really fail over, write and refuse, or the invariants say little.
  int stuck = 0;
  for (const auto& [seed, liveness] : sweep.liveness)
    stuck += liveness.find("not back in PAIR") != std::string::npos;
  if (!sweep.liveness.empty()) {
    std::string first;
    for (const auto& [seed, liveness] : sweep.liveness) {
      if (first.size() < 60) first += (first.empty() ? "" : " ") + std::to_string(seed);
    }
    WARN(sweep.liveness.size() << " of " << count
                               << " seeds had no single ACTIVE site 12 s after the heal or "
                               << "never got both pairs back to PAIR (" << stuck
                               << ", even with the operator): "
                               << "liveness findings; the first: " << first
                               << " (replay with PAIRFS_SIM_SEED=N)");
  }
  INFO(count << " seeds: " << sweep.totals.writes_acknowledged << " writes acknowledged, "
             << sweep.totals.writes_refused << " refused, " << sweep.totals.reserves_won
             << " reserves of the determining volume won, " << sweep.totals.takeovers
             << " takeovers of vm1");
  CHECK(sweep.totals.writes_acknowledged > static_cast<int>(count) * 10);
  CHECK(sweep.totals.writes_refused > static_cast<int>(count));
  CHECK(sweep.totals.reserves_won > static_cast<int>(count));
  CHECK(sweep.totals.takeovers > static_cast<int>(count) / 10);
}

}  // namespace

TEST_CASE("cluster simulation keeps its three invariants across seeds", "[sim][cluster]") {
  if (const char* replay = std::getenv("PAIRFS_SIM_SEED")) {
    ClusterSimOptions options = OptionsFor(std::strtoull(replay, nullptr, 10));
    options.hasty_operator = EnvOr("PAIRFS_SIM_HASTY_OPERATOR", 0) != 0;
    options.late_frames = EnvOr("PAIRFS_SIM_LATE_FRAMES", 0) != 0;
    options.heartbeat_cut = EnvOr("PAIRFS_SIM_HEARTBEAT_CUT", 0) != 0;
    options.partition = EnvOr("PAIRFS_SIM_PARTITION", 0) != 0;  // with PAIRFS_SIM_HEARTBEAT_CUT
    options.trace = true;
    const ClusterSimResult result = RunClusterSim(options);
    std::cout << result.trace;
    INFO("seed " << options.seed << ": "
                 << (result.failure.empty() ? "every invariant held" : result.failure)
                 << (result.liveness.empty() ? "" : "\nliveness: " + result.liveness));
    CHECK(result.failure.empty());
    return;
  }
  SweepKeepsInvariants(EnvOr("PAIRFS_SIM_SEEDS", kCheckSeeds));
}

// The long sweep, hidden: run it after a change of a decision or of the model
// (unit_tests "[sim][cluster][long]": 20,000 seeds, about 1.5 min on two idle cores; 10 min at
// a load of 20; no invariant broke in it, 10 liveness warnings).
TEST_CASE("cluster simulation keeps its three invariants across many seeds",
          "[.][sim][cluster][long]") {
  SweepKeepsInvariants(EnvOr("PAIRFS_SIM_LONG_SEEDS", kLongSeeds));
}

// Late frames (ClusterSimOptions::late_frames) in fewer seeds than the main sweep, whose seeds
// and findings stay as they were: a frame the sender gave up on must change nothing when it
// arrives. PAIRFS_SIM_LATE_SEEDS sets how many (default 300). Seed 93 (replay with
// PAIRFS_SIM_SEED=93 PAIRFS_SIM_LATE_FRAMES=1) broke invariant 3 before votes were numbered
// (house, issue 12): a's release vote of 740 ms reached the witness at 5068 ms, after a's newer
// reserve (2981 ms), and cleared it; b then won with its own vote and the witness's. Now every
// vote carries its asker's number (wire::ReserveVoteRequest::hold) and a copy refuses a release
// numbered below the holder's latest reserve (node/reservation.h): the sweep must see such late
// releases refused, or it no longer tests them.
TEST_CASE("cluster simulation keeps its three invariants with late frames",
          "[sim][cluster][late]") {
  const uint64_t count = EnvOr("PAIRFS_SIM_LATE_SEEDS", 300);
  const Sweep sweep = RunSeeds(1, count, {}, "", {.late_frames = true});
  for (const auto& [seed, failure] : sweep.failures) {
    FAIL_CHECK("seed " << seed << " with late frames: " << failure);
  }
  if (!sweep.liveness.empty()) {
    WARN(sweep.liveness.size() << " of " << count << " seeds with late frames had a liveness "
                               << "finding; the first: " << sweep.liveness.begin()->first);
  }
  CHECK(sweep.failures.empty());
  CHECK(sweep.totals.late_votes > 0);  // the late releases reached a copy, and were refused
}

TEST_CASE(
    "cluster simulation findings fixed in the product replay with every invariant kept and both "
    "pairs back in PAIR",
    "[sim][cluster]") {
  for (const FixedFinding& finding : kFixedFindings) {
    const ClusterSimOptions options = OptionsFor(finding.seed);
    const ClusterSimResult result = RunClusterSim(options);
    if (!result.failure.empty())
      FAIL_CHECK(Report(options, std::string(finding.what) + "\n" + result.failure));
    if (!result.liveness.empty())
      FAIL_CHECK(Report(options, std::string(finding.what) + "\n" + result.liveness));
  }
}

namespace {

// The heartbeat-cut scenario over `count` seeds: no run may fail, and the runs must reach their
// cut.
void ExpectActiveStays(Scenario scenario, uint64_t count) {
  const Sweep sweep = RunSeeds(1, count, {}, "", scenario);
  int reported = 0;
  for (const auto& [seed, failure] : sweep.failures) {
    if (reported++ < 2) FAIL_CHECK(Report(OptionsFor(seed, {}, scenario), failure));
  }
  // The scenario must reach its cut: one site ACTIVE and both pairs in PAIR after 8 s.
  INFO(sweep.liveness.size() << " seeds did not settle before the cut"
                             << (sweep.liveness.empty() ? ""
                                                        : ": " + sweep.liveness.begin()->second));
  CHECK(sweep.liveness.size() <= count / 20);
  CHECK(sweep.failures.empty());
}

}  // namespace

// A cut of the heartbeat links alone (ClusterSimOptions::heartbeat_cut) leaves the active site
// ACTIVE and fences the standby, whatever the phase of the two sites' heartbeats. The CI of
// session 19's stop saw the standby win such a cut in cluster_failover.sh: both sites lost the
// peer after timeout_ms, so the standby, whose last heartbeat from the active could come up to
// interval_ms earlier than the active's last from it, had only standby_delay_ms less that skew
// to spare. The active site's head start (clusterd::PeerLossMs) closed it; the mutation below
// takes it away and must be caught.
// PAIRFS_SIM_CUT_SEEDS sets how many seeds (default 300).
TEST_CASE("cluster simulation: a cut of the heartbeat links alone leaves the active site active",
          "[sim][cluster]") {
  ExpectActiveStays({.heartbeat_cut = true}, EnvOr("PAIRFS_SIM_CUT_SEEDS", 300));
}

// A full partition between the sites without a witness: the standby cannot reach the determining
// volume's record (its primary is at the active site), so the active site stays ACTIVE.
TEST_CASE("cluster simulation: a partition without a witness leaves the active site active",
          "[sim][cluster]") {
  ExpectActiveStays(
      {.heartbeat_cut = true, .partition = true, .witness = Scenario::Witness::kNever},
      EnvOr("PAIRFS_SIM_CUT_SEEDS", 300));
}

// Finding P1, open: with a witness, a site that lost a race keeps the grant it got from one copy
// of the record (each copy grants the first asker; the winner's majority came from the other
// two), and nobody gives it back: the winner's release of the determining volume clears only its
// own grants. On a later partition between the sites, the standby wins with that copy and its own
// against the active site, which is left FENCED (seeds 679 and 1061 of 2,000: replay with
// PAIRFS_SIM_HEARTBEAT_CUT=1 PAIRFS_SIM_PARTITION=1 PAIRFS_SIM_SEED=679; the witness's record
// named a, the standby, since the race at start-up). Two copies are not enough to give it back:
// a reserve that lost must not release a hold it had before (the simulation's invariant 3 broke
// when it did), and the vote's answer does not say whether its grant was new. Hidden, failing
// until fixed: unit_tests "[findings]".
TEST_CASE("cluster simulation: a partition with a witness leaves the active site active (P1)",
          "[.][sim][cluster][findings]") {
  ExpectActiveStays(
      {.heartbeat_cut = true, .partition = true, .witness = Scenario::Witness::kAlways},
      EnvOr("PAIRFS_SIM_CUT_SEEDS", 1000));
}

namespace {

// Mutations: what each breaks, and the invariant that must notice.

// Every copy grants every reserve: two sites can hold the determining volume at once.
node::VoteOutcome VoteGrantingEveryone(const wire::ReservationRecord& record,
                                       const wire::ReserveVoteRequest& request) {
  if (request.release) return node::Vote(record, request);
  wire::ReservationRecord won{record.epoch + 1, request.holder, request.outdated};
  return {true, won, "granted (mutation)"};
}

// clusterd takes a refused or unreachable reserve for a win: it fails over without the record.
clusterd::Transition DecideWinningAlways(const clusterd::ClusterState& state,
                                         const clusterd::Input& input) {
  clusterd::Input changed = input;
  if (input.event == clusterd::Event::kReserveRefused ||
      input.event == clusterd::Event::kReserveUnreachable) {
    changed.event = clusterd::Event::kReserveWon;
    changed.determining_primary_here = false;
  }
  return clusterd::Decide(state, changed);
}

// A secondary in sync writes its own copy instead of forwarding to the primary.
node::WriteRule SecondaryWritingAlone(const node::PairState& state,
                                      const node::PairContext& context) {
  const node::WriteRule rule = node::WriteRuleFor(state, context);
  return rule == node::WriteRule::kForwardToPrimary ? node::WriteRule::kLocalTracked : rule;
}

// A write that lost the link is acknowledged where the pair refuses it (a secondary that cannot
// reach its primary, an outdated copy): the mount says done for a write the copy kept loses.
node::LinkLossOutcome AcknowledgingAfterLinkLoss(const node::PairState& state,
                                                 node::FenceLevel fence, node::WriteRule rule) {
  const node::LinkLossOutcome outcome = node::AfterLinkLoss(state, fence, rule);
  return outcome == node::LinkLossOutcome::kRefuseReadOnly ? node::LinkLossOutcome::kWritten
                                                           : outcome;
}

// A majority reserve counts one grant as a win: two sites can hold the determining volume.
node::TallyVerdict TallyWinningWithOneGrant(const node::VoteTally& tally) {
  return tally.granted >= 1 ? node::TallyVerdict::kWon : node::ReadTally(tally);
}

// A primary grants a forwarded write of another generation (before and after taking its range):
// a write the secondary gave up on lands after a later one. (JudgeForwardedWrite alone ignoring
// the generation changes nothing: the check under the range lock refuses the same writes with the
// same code.)
Code JudgingForwardedAtAnyGeneration(node::WriteRule rule, const wire::Generation& generation,
                                     const wire::Generation&, const std::string& holder,
                                     const std::string& origin) {
  return node::JudgeForwardedWrite(rule, generation, generation, holder, origin);
}
bool AnyGenerationCurrent(const wire::Generation&, const wire::Generation&) { return true; }

// An outdated primary's (or SSWS secondary's) copy of the determining record decides a reserve
// (node::RecordDecidesHere keeping an outdated copy): after a takeover elsewhere its record is the
// stale one, and it grants what the other site holds.
node::ReserveRoute RoutingByOutdatedRecord(bool witness, bool paired, const node::PairState& here,
                                           bool forwarded) {
  node::PairState current = here;
  current.outdated = false;
  return node::RouteDeterminingReserve(witness, paired, current, forwarded);
}

void ExpectCaught(ClusterLogic logic, const std::string& invariant, Scenario scenario = {}) {
  const uint64_t count = EnvOr("PAIRFS_SIM_MUTATION_SEEDS", 400);
  const Sweep sweep = RunSeeds(1, count, logic, invariant, scenario);
  for (const auto& [seed, failure] : sweep.failures) {
    if (failure.find(invariant) == std::string::npos) continue;
    // The same schedule with the product's functions keeps the invariant: the mutation broke it.
    const ClusterSimResult product = RunClusterSim(OptionsFor(seed, {}, scenario));
    INFO("seed " << seed << " with the product's functions: " << product.failure);
    CHECK(product.failure.empty());
    SUCCEED("caught by seed " << seed << " (" << sweep.failures.size()
                              << " seeds failed): " << failure);
    return;
  }
  FAIL(invariant << " never broke in " << count << " seeds (" << sweep.failures.size()
                 << " failed otherwise)");
}

}  // namespace

// Both sites lose the peer after timeout_ms, as before PeerLossMs.
int64_t PeerLossWithoutHeadStart(const clusterd::ClusterState&, int64_t timeout_ms, int64_t) {
  return timeout_ms;
}

TEST_CASE("cluster simulation catches an active site without its head start on a heartbeat cut",
          "[sim][cluster][mutation]") {
  ClusterLogic logic;
  logic.peer_loss_ms = &PeerLossWithoutHeadStart;
  const Sweep sweep = RunSeeds(1, EnvOr("PAIRFS_SIM_MUTATION_SEEDS", 400), logic, "heartbeat cut",
                               {.heartbeat_cut = true});
  bool caught = false;
  for (const auto& [seed, failure] : sweep.failures)
    caught = caught || failure.find("heartbeat cut") != std::string::npos;
  CHECK(caught);
}

TEST_CASE("cluster simulation catches a vote rule that grants every reserve",
          "[sim][cluster][mutation]") {
  ClusterLogic logic;
  logic.vote = &VoteGrantingEveryone;
  ExpectCaught(logic, "invariant 3");
}

TEST_CASE("cluster simulation catches a clusterd that fails over without winning the reserve",
          "[sim][cluster][mutation]") {
  ClusterLogic logic;
  logic.decide = &DecideWinningAlways;
  ExpectCaught(logic, "invariant 1");
}

TEST_CASE("cluster simulation catches a secondary that writes without the primary",
          "[sim][cluster][mutation]") {
  ClusterLogic logic;
  logic.write_rule = &SecondaryWritingAlone;
  ExpectCaught(logic, "invariant 2");
}

TEST_CASE("cluster simulation catches a write acknowledged after the link was lost",
          "[sim][cluster][mutation]") {
  ClusterLogic logic;
  logic.after_link_loss = &AcknowledgingAfterLinkLoss;
  ExpectCaught(logic, "invariant 2");
}

TEST_CASE("cluster simulation catches a majority reserve won with one grant",
          "[sim][cluster][mutation]") {
  ClusterLogic logic;
  logic.read_tally = &TallyWinningWithOneGrant;
  ExpectCaught(logic, "invariant 3");
}

// Not caught yet (hidden until a scenario breaks it): a forwarded write runs at the primary only
// at its first delivery (a later copy gets the answered-request cache's answer), so a stale one
// needs every copy but a late one lost while the primary suspends and resyncs; 2000 seeds with
// late frames never made it. The table test (tests/unit/node/write_rules_test.cc) checks the rule.
TEST_CASE("cluster simulation catches a primary granting forwarded writes of another generation",
          "[!hide][.][sim][cluster][mutation][uncaught]") {
  ClusterLogic logic;
  logic.judge_forwarded_write = &JudgingForwardedAtAnyGeneration;
  logic.forwarded_write_still_current = &AnyGenerationCurrent;
  ExpectCaught(logic, "invariant 2", {.late_frames = true});
}

// Not caught yet (hidden until a scenario breaks it; 3000 seeds did not): without a witness an
// outdated copy of the record is stale only after a takeover of dv at the other site while this
// one was unreachable, and it must then be asked for a reserve. reserve_rules_test.cc checks it.
TEST_CASE("cluster simulation catches an outdated copy of the record deciding a reserve",
          "[!hide][.][sim][cluster][mutation][uncaught]") {
  ClusterLogic logic;
  logic.route_determining_reserve = &RoutingByOutdatedRecord;
  ExpectCaught(logic, "invariant 3");
}

}  // namespace pairfs::sim
