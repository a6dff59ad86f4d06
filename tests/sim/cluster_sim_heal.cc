// A cluster simulation run from start to end (tests/sim/cluster_sim.h): the steps, the final
// heal with the operator's part, and the end check of acknowledged writes (invariant 2).
#include <algorithm>

#include "tests/sim/cluster_sim_world.h"

namespace pairfs::sim {
namespace cluster {
namespace {

constexpr int64_t kFaultsUntilMs = 20000;   // faults and writes happen before this
constexpr int64_t kSettleMs = 12000;        // then everything heals and the sites settle
constexpr int64_t kOperatorRoundMs = 8000;  // between two rounds of the operator
constexpr int kOperatorRounds = 5;
// ClusterSimOptions::heartbeat_cut: the cut comes once the sites settled (StartupWait, the
// pairs' copy, the release of the determining volume), and the sites have this long after it.
constexpr int64_t kHeartbeatCutSettleMs = 8000;
constexpr int64_t kHeartbeatCutRunMs = 6000;

bool InPair(Node& a, Node& b, const std::string& name) {
  const Copy& x = a.copies.at(name);
  const Copy& y = b.copies.at(name);
  return a.up() && b.up() && x.state.status == node::PairStatus::kPAIR &&
         y.state.status == node::PairStatus::kPAIR && x.state.role != y.state.role &&
         x.generation == y.generation;
}

}  // namespace

void World::RunUntil(int64_t until_ms) {
  while (result_.failure.empty()) {
    const std::optional<int64_t> delivery = network_.NextDeliveryAt();
    const int64_t timer = timers_.empty() ? INT64_MAX : timers_.top().at_ms;
    const int64_t next = std::min(timer, delivery.value_or(INT64_MAX));
    if (next > until_ms) break;
    now_ms_ = next;
    if (delivery && *delivery == next) {
      Deliver(*network_.Deliver(now_ms_));
    } else {
      std::shared_ptr<Done> fn = timers_.top().fn;
      timers_.pop();
      (*fn)();
    }
    CheckUnorderedWriters();
  }
  now_ms_ = std::max(now_ms_, until_ms);
}

bool World::PairsInPair() {
  return InPair(*nodes_[0], *nodes_[1], kDetermining) && InPair(*nodes_[0], *nodes_[1], kManaged);
}

int World::ActiveSites() {
  int actives = 0;
  for (int site = 0; site < 2; ++site) {
    actives += clusterds_[site]->up() && clusterds_[site]->state.phase == clusterd::Phase::kActive;
  }
  return actives;
}

// The copy an operator keeps when a pair is not in PAIR, and whether it is resynced with --swap
// (it is not the primary): of the current copies (neither outdated nor inconsistent), the one
// with the newer generation; on a tie (no side wrote alone since they were in sync: a fence
// does not move the generation) an unfenced copy, then a taken-over one, then the primary, then
// the active site's. A fenced copy to take over is unfenced before it is resynced from.
std::optional<std::pair<int, bool>> World::CopyToKeep(const std::string& name, int active) {
  auto rank = [&](int site) {
    const Copy& copy = nodes_[site]->copies.at(name);
    if (copy.state.outdated || !copy.state.consistent) return -1;
    const int role = copy.state.status == node::PairStatus::kSSWS
                         ? 2
                         : copy.state.role == node::PairRole::kPrimary;
    return static_cast<int>(copy.generation.counter) * 16 + !copy.state.fenced * 8 + role * 2 +
           (site == active);
  };
  const int best = rank(0) >= rank(1) ? 0 : 1;
  if (rank(best) < 0) return std::nullopt;
  return std::pair{best, nodes_[best]->copies.at(name).state.role != node::PairRole::kPrimary};
}

// Whether lifting FENCED at `site` keeps one writer: the other site does not race and take
// over meanwhile (it is FENCED, or ACTIVE and hearing this one, or its copy of vm1 cannot be
// taken over), and the two copies of vm1 are not both local writers once this one is unfenced.
bool World::SafeToUnfence(int site) {
  const clusterd::Phase other = clusterds_[1 - site]->state.phase;
  const node::PairState& other_copy = nodes_[1 - site]->copies.at(kManaged).state;
  if (other != clusterd::Phase::kFenced && other != clusterd::Phase::kActive &&
      !other_copy.outdated && other_copy.consistent) {
    return false;
  }
  Copy unfenced = nodes_[site]->copies.at(kManaged);
  unfenced.state.fenced = false;
  const node::WriteRule rule = node::WriteRuleFor(unfenced.state, unfenced.context);
  const bool alone = (rule == node::WriteRule::kLocal || rule == node::WriteRule::kLocalTracked) &&
                     (unfenced.record.holder.empty() || unfenced.record.holder == SiteName(site));
  return !(alone && LocalWriter(1 - site));
}

void World::OperatorUnfence(int site) {
  Trace("OPERATOR: pairctl cluster unfence at " + SiteName(site));
  clusterds_[site]->OperatorUnfence();
}

// What an operator does once every site is back: resync each pair that is not in PAIR from the
// copy to keep (lifting FENCED first where that copy is fenced and lifting it is safe); once
// both pairs are in PAIR and nobody runs the applications, lift FENCED everywhere so that the
// sites race again. The hasty operator lifts FENCED at once when nobody is active.
void World::OperatorRound() {
  Trace("OPERATOR: " + Describe());
  const int actives = ActiveSites();
  int active = -1;
  for (int site = 0; site < 2 && actives == 1; ++site) {
    if (clusterds_[site]->state.phase == clusterd::Phase::kActive) active = site;
  }
  const bool fenced[2] = {clusterds_[0]->state.phase == clusterd::Phase::kFenced,
                          clusterds_[1]->state.phase == clusterd::Phase::kFenced};
  if (actives == 0 && (PairsInPair() || options_.hasty_operator)) {
    for (int site = 0; site < 2; ++site) {
      if (fenced[site]) OperatorUnfence(site);
    }
    return;
  }
  for (const std::string& name : {kDetermining, kManaged}) {
    if (InPair(*nodes_[0], *nodes_[1], name)) continue;
    const std::optional<std::pair<int, bool>> keep = CopyToKeep(name, active);
    if (!keep) continue;
    const auto [site, swap] = *keep;
    if (nodes_[site]->copies.at(name).state.status == node::PairStatus::kCOPY)
      continue;  // copying from it
    // A fenced primary is resynced from as it is (it stays fenced: pairctl(8)); a fenced copy
    // to take over is unfenced first.
    if (nodes_[site]->copies.at(name).state.fenced && swap) {
      if (fenced[site] && SafeToUnfence(site)) OperatorUnfence(site);
      continue;  // resynced in the next round
    }
    Trace("OPERATOR: pairctl resync" + std::string(swap ? " --swap " : " ") + name + " at " +
          SiteName(site));
    nodes_[site]->Control(wire::ResyncRequest{name, swap}, [this, name, site](ControlReply reply) {
      Trace("OPERATOR: resync of " + name + " at " + SiteName(site) + ": " +
            (reply.status.ok() ? std::string("started") : reply.status.message()));
    });
  }
}

void World::CheckAcknowledgedWrites() {
  const int primary = nodes_[0]->copies.at(kManaged).state.role == node::PairRole::kPrimary ? 0 : 1;
  const Copy& kept = nodes_[primary]->copies.at(kManaged);
  for (int block = 0; block < kBlocks; ++block) {
    const auto held = kept.blocks.find(block);
    const uint64_t final_id = held == kept.blocks.end() ? 0 : held->second;
    // The held write returned at this time (never returned, or nothing written: see below).
    const int64_t held_returned = final_id == 0 ? -2 : writes_[final_id - 1].returned_ms;
    for (size_t i = 0; i < writes_.size(); ++i) {
      const WriteRecord& write = writes_[i];
      if (write.block != block || write.code != Code::kOk || i + 1 == final_id) continue;
      const bool lost = final_id == 0 || (held_returned >= 0 && held_returned < write.started_ms);
      if (lost) {
        Fail("invariant 2: acknowledged write #" + std::to_string(i + 1) + " (site " +
             SiteName(write.site) + ", block " + std::to_string(block) + ", " +
             std::to_string(write.started_ms) + "-" + std::to_string(write.returned_ms) +
             " ms) is missing at site " + SiteName(primary) + ", which ends primary: block " +
             std::to_string(block) + " holds " +
             (final_id == 0 ? std::string("nothing")
                            : "write #" + std::to_string(final_id) + ", which returned at " +
                                  std::to_string(held_returned) + " ms"));
        return;
      }
    }
  }
  if (nodes_[0]->copies.at(kManaged).blocks != nodes_[1]->copies.at(kManaged).blocks) {
    Fail("invariant 2: vm1 is in PAIR but its copies differ");
  }
}

std::string World::Describe() {
  std::string text;
  for (int site = 0; site < 2; ++site) {
    Node& node = *nodes_[site];
    Clusterd& cluster = *clusterds_[site];
    text += "  site " + SiteName(site) + ": node " + (node.up() ? "up" : "DOWN") + ", clusterd " +
            (cluster.up() ? clusterd::PhaseName(cluster.state.phase) : "DOWN") +
            (cluster.applications_running ? " (applications running)" : "") + "\n    dv  " +
            StateText(node.copies.at(kDetermining)) + " record " +
            RecordText(node.copies.at(kDetermining).record) + "\n    vm1 " +
            StateText(node.copies.at(kManaged)) + " reserved by '" +
            node.copies.at(kManaged).record.holder + "'\n";
  }
  if (options_.witness) {
    text += "  witness " + std::string(witness_->up() ? "up" : "DOWN") + " record " +
            RecordText(witness_->record) + "\n";
  }
  text += "  dv held by " + (holder_ ? SiteName(*holder_) : std::string("nobody")) +
          " as the grants said";
  return text;
}

// Both nodes at once, each clusterd within the first 300 ms (the sites' heartbeats at random
// phases).
void World::StartSites() {
  for (int site = 0; site < 2; ++site) {
    nodes_[site]->Start();
    After(Uniform(0, 300), [this, site] { clusterds_[site]->Start(); });
  }
}

ClusterSimResult World::Finish() {
  Trace("END\n" + Describe());
  result_.ended_at_ms = now_ms_;
  result_.trace = std::move(trace_);
  return result_;
}

ClusterSimResult World::Run() {
  if (options_.heartbeat_cut) return RunHeartbeatCut();
  StartSites();
  ScheduleFaults(kFaultsUntilMs);
  for (int site = 0; site < 2; ++site) ScheduleWrites(site, kFaultsUntilMs);
  After(kFaultsUntilMs, [this] { HealEverything(); });
  RunUntil(kFaultsUntilMs + kSettleMs);
  if (result_.failure.empty() && ActiveSites() != 1) {
    result_.liveness = std::to_string(ActiveSites()) + " site(s) ACTIVE " +
                       std::to_string(kSettleMs) +
                       " ms after everything healed, before the operator (a " +
                       clusterd::PhaseName(clusterds_[0]->state.phase) + ", b " +
                       clusterd::PhaseName(clusterds_[1]->state.phase) + ")";
  }
  for (int round = 0;
       round < kOperatorRounds && result_.failure.empty() && !(PairsInPair() && ActiveSites() == 1);
       ++round) {
    OperatorRound();
    RunUntil(now_ms_ + kOperatorRoundMs);
  }
  if (result_.failure.empty() && !PairsInPair()) {
    // Invariant 2 cannot be checked: a liveness finding, not a broken invariant.
    result_.liveness = "the pairs are not back in PAIR after the heal and " +
                       std::to_string(kOperatorRounds) + " rounds of the operator (" +
                       (result_.liveness.empty() ? "" : result_.liveness + "; ") +
                       std::to_string(ActiveSites()) + " site(s) ACTIVE at the end)\n" + Describe();
  } else if (result_.failure.empty()) {
    CheckAcknowledgedWrites();
  }
  return Finish();
}

int64_t World::LoopTickMs() {
  return kLoopTickMs + (options_.heartbeat_cut ? Uniform(0, kBusyLoopLateMs) : 0);
}

ClusterSimResult World::RunHeartbeatCut() {
  network_.set_profile(FaultProfile{0.0, 0.0, 1, Uniform(1, 40)});
  StartSites();
  const int64_t cut_at = kHeartbeatCutSettleMs + Uniform(0, kHeartbeatIntervalMs);
  for (int site = 0; site < 2; ++site) ScheduleWrites(site, cut_at + kHeartbeatCutRunMs);
  RunUntil(cut_at);
  if (result_.failure.empty() && (ActiveSites() != 1 || !PairsInPair())) {
    result_.liveness = "heartbeat cut: not one ACTIVE site and both pairs in PAIR " +
                       std::to_string(cut_at) + " ms after the start\n" + Describe();
  } else if (result_.failure.empty()) {
    const int active = clusterds_[0]->state.phase == clusterd::Phase::kActive ? 0 : 1;
    CutLinks(HeartbeatLinks(), true);
    if (options_.partition) CutLinks(DataLinks(), true);
    RunUntil(now_ms_ + kHeartbeatCutRunMs);
    const clusterd::Phase kept = clusterds_[active]->state.phase;
    const clusterd::Phase other = clusterds_[1 - active]->state.phase;
    if (result_.failure.empty() &&
        (kept != clusterd::Phase::kActive || other != clusterd::Phase::kFenced)) {
      result_.failure = "heartbeat cut: " + SiteName(active) + " was ACTIVE and is " +
                        clusterd::PhaseName(kept) + ", " + SiteName(1 - active) +
                        " was its standby and is " + clusterd::PhaseName(other) + " " +
                        std::to_string(kHeartbeatCutRunMs) +
                        (options_.partition ? " ms after a partition between the sites"
                                            : " ms after only the heartbeat links were cut") +
                        " (expected ACTIVE and FENCED)\n" + Describe();
    }
  }
  return Finish();
}

}  // namespace cluster

ClusterSimResult RunClusterSim(const ClusterSimOptions& options) {
  cluster::World world(options);
  return world.Run();
}

}  // namespace pairfs::sim
