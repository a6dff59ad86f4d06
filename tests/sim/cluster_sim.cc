// The world of a cluster simulation run (tests/sim/cluster_sim.h): the virtual clock, the
// network, the fault schedule, the workload, the final heal and the invariants.
#include "tests/sim/cluster_sim.h"

#include <algorithm>
#include <cstdio>

#include "tests/sim/cluster_sim_world.h"

namespace pairfs::sim {
namespace cluster {
namespace {

std::string Endpoint(int site, const std::string& what) { return SiteName(site) + "." + what; }

}  // namespace

std::string StateText(const Copy& copy) {
  const node::PairState& state = copy.state;
  std::string text = std::string(node::RoleName(state.role)) + " " + node::StatusName(state.status);
  if (state.fenced) text += " fenced";
  if (state.outdated) text += " outdated";
  if (!state.consistent) text += " inconsistent";
  return text + " gen " + std::to_string(copy.generation.counter) + "/" + copy.generation.site;
}

std::string RecordText(const wire::ReservationRecord& record) {
  return "{holder '" + record.holder + "', epoch " + std::to_string(record.epoch) + ", outdated '" +
         record.outdated + "', hold " + std::to_string(record.hold) + "}";
}

namespace {

void InOrderFrom(std::shared_ptr<std::vector<std::function<void(Done)>>> steps, size_t next,
                 Done then) {
  if (next == steps->size()) return then();
  (*steps)[next]([steps, next, then] { InOrderFrom(steps, next + 1, then); });
}

}  // namespace

void InOrder(std::vector<std::function<void(Done)>> steps, Done then) {
  InOrderFrom(std::make_shared<std::vector<std::function<void(Done)>>>(std::move(steps)), 0,
              std::move(then));
}

// ---- waiting with continuations ----------------------------------------------------------------

void Mutex::Lock(Done got) {
  if (held_) return waiting_.push_back(std::move(got));
  held_ = true;
  got();
}

void Mutex::Unlock() {
  if (waiting_.empty()) {
    held_ = false;
    return;
  }
  Done next = std::move(waiting_.front());  // stays held, for the next in line
  waiting_.pop_front();
  owner_.After(0, std::move(next));
}

void Gate::EnterShared(Done inside) {
  if (closed_) return enterers_.push_back(std::move(inside));
  ++inside_;
  inside();
}

void Gate::LeaveShared() {
  --inside_;
  Advance();
}

void Gate::Close(Done closed) {
  closers_.push_back(std::move(closed));
  Advance();
}

void Gate::Open() {
  closed_ = false;
  Advance();
}

void Gate::Advance() {
  if (closed_) {
    if (closing_ && inside_ == 0) {
      owner_.After(0, std::move(*closing_));
      closing_.reset();
    }
    return;
  }
  if (!closers_.empty()) {
    closed_ = true;
    closing_ = std::move(closers_.front());
    closers_.pop_front();
    return Advance();
  }
  while (!enterers_.empty()) {
    ++inside_;
    owner_.After(0, std::move(enterers_.front()));
    enterers_.pop_front();
  }
}

BlockLocks::BlockLocks(Process& owner) {
  for (int block = 0; block < kBlocks; ++block) locks_.push_back(std::make_unique<Mutex>(owner));
}

void BlockLocks::AcquireAll(Done got, int from) {
  if (from == kBlocks) return got();
  Acquire(from, [this, got, from] { AcquireAll(got, from + 1); });
}

void BlockLocks::ReleaseAll() {
  for (int block = 0; block < kBlocks; ++block) Release(block);
}

void Process::After(int64_t delay_ms, Done fn) { world_.After(delay_ms, Guard(std::move(fn))); }

Done Process::Guard(Done fn) {
  return [this, incarnation = incarnation_, fn = std::move(fn)] {
    if (up_ && incarnation_ == incarnation) fn();
  };
}

World::World(const ClusterSimOptions& options)
    : options_(options), random_(options.seed), network_(0, {}) {
  FaultProfile profile;
  profile.drop = Uniform(0, 30) / 1000.0;
  profile.duplicate = Uniform(0, 30) / 1000.0;
  profile.min_delay_ms = 1;
  profile.max_delay_ms = Uniform(1, 40);
  if (options.late_frames) {
    profile.late = 0.01;
    profile.late_min_delay_ms = 2000;
    profile.late_max_delay_ms = 6000;
  }
  network_ = Network(random_(), profile);
  heartbeat_links_ = static_cast<int>(Uniform(1, 2));
  auto_resync_ = Chance(0.5);
  for (int site = 0; site < 2; ++site) {
    nodes_.push_back(std::make_unique<Node>(*this, site));
    clusterds_.push_back(std::make_unique<Clusterd>(*this, site, heartbeat_links_));
  }
  witness_ = std::make_unique<Witness>(*this);
  // Both pairs in PAIR, with their primaries where a past failover may have left them.
  for (const std::string& name : {kDetermining, kManaged}) {
    const int primary = static_cast<int>(Uniform(0, 1));
    for (int site = 0; site < 2; ++site) {
      Copy& copy = nodes_[site]->copies[name];
      copy.state = {site == primary ? node::PairRole::kPrimary : node::PairRole::kSecondary,
                    node::PairStatus::kPAIR, true, false, false};
      copy.context.fence = name == kManaged
                               ? node::FenceLevel::kReserve
                               : (Chance(0.5) ? node::FenceLevel::kNever : node::FenceLevel::kData);
      copy.generation = {1, SiteName(primary)};
    }
  }
  const Copy& determining = nodes_[0]->copies[kDetermining];
  Trace("seed " + std::to_string(options.seed) +
        (options.witness ? ", with a witness" : ", no witness") + ", " +
        std::to_string(heartbeat_links_) + " heartbeat link(s), drop " +
        std::to_string(profile.drop) + ", duplicate " + std::to_string(profile.duplicate) +
        ", delay 1-" + std::to_string(profile.max_delay_ms) + " ms, auto_resync " +
        (auto_resync_ ? "on" : "off") + "; dv primary at " + determining.generation.site +
        " (fence " + node::FenceName(determining.context.fence) + "), vm1 primary at " +
        nodes_[0]->copies[kManaged].generation.site);
}

void World::After(int64_t delay_ms, Done fn) {
  timers_.push({now_ms_ + std::max<int64_t>(0, delay_ms), timer_order_++,
                std::make_shared<Done>(std::move(fn))});
}

int64_t World::Uniform(int64_t low, int64_t high) {
  return std::uniform_int_distribution<int64_t>(low, high)(random_);
}

bool World::Chance(double probability) {
  return std::uniform_real_distribution<double>(0, 1)(random_) < probability;
}

void World::Send(const std::string& from, const std::string& to, Message message) {
  const uint64_t id = NextId();
  const uint64_t dropped = network_.dropped(), duplicated = network_.duplicated();
  network_.Send(now_ms_, from, to, std::to_string(id));
  if (network_.dropped() != dropped) return;
  in_flight_[id] = {network_.duplicated() != duplicated ? 2 : 1, to, std::move(message)};
}

void World::Deliver(const Delivery& delivery) {
  auto found = in_flight_.find(std::stoull(delivery.bytes));
  if (found == in_flight_.end()) return;
  const std::string to = found->second.to;
  const Message message = found->second.message;
  if (--found->second.deliveries == 0) in_flight_.erase(found);
  const int site = to[0] == 'a' ? 0 : 1;
  if (to == "w") {
    if (witness_->up()) witness_->OnMessage(message);
  } else if (to.substr(2) == "node") {
    if (nodes_[site]->up()) nodes_[site]->OnMessage(message);
  } else if (clusterds_[site]->up()) {
    clusterds_[site]->OnHeartbeat(to.back() - '0', message);
  }
}

void World::Trace(const std::string& line) {
  if (!options_.trace) return;
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "[%6lld ms] ", static_cast<long long>(now_ms_));
  trace_ += stamp + line + "\n";
}

void World::Fail(const std::string& what) {
  if (!result_.failure.empty()) return;
  result_.failure = "at " + std::to_string(now_ms_) + " ms: " + what + "\n" + Describe();
  Trace("FAILED: " + what);
}

// ---- invariant 3: one holder of the determining volume -----------------------------------------

void World::OnDeterminingReserved(int site, bool release, const Status& status) {
  Trace(SiteName(site) + ".node: " + (release ? "release" : "reserve") + " of dv for " +
        SiteName(site) + ": " + (status.ok() ? std::string("OK") : status.message()));
  if (release) {
    const bool asked_as_holder = releases_asked_as_holder_[site] > 0;
    if (asked_as_holder) --releases_asked_as_holder_[site];
    if (status.ok() && !asked_as_holder && holder_ && *holder_ != site) {
      Fail("invariant 3: site " + SiteName(site) + " released the determining volume that site " +
           SiteName(*holder_) + " holds (since " + std::to_string(holder_since_ms_) + " ms)");
    }
    return;
  }
  if (!status.ok()) return;
  if (holder_ && *holder_ != site) {
    Fail("invariant 3: the determining volume was reserved for site " + SiteName(site) +
         " while site " + SiteName(*holder_) + " held it (since " +
         std::to_string(holder_since_ms_) + " ms, no release asked)");
    return;
  }
  if (!holder_) {
    ++result_.reserves_won;
    holder_ = site;
    holder_since_ms_ = now_ms_;
  }
}

// The holder gives the reservation up when it asks to release it: the other site may win as
// soon as the copies it asks have cleared theirs, before the release returns here. A release
// asked by a site that does not hold it fails the invariant only if it goes through.
void World::OnDeterminingReleaseAsked(int site) {
  if (holder_ && *holder_ != site) return;
  ++releases_asked_as_holder_[site];
  holder_.reset();
}

// ---- invariant 1: never two sites writing unordered -------------------------------------------

bool World::LocalWriter(int site) {
  Node& node = *nodes_[site];
  if (!node.up()) return false;
  const Copy& copy = node.copies.at(kManaged);
  const node::WriteRule rule =
      node::WriteRuleFor(copy.state, copy.context);  // the real rule: the spec
  if (rule != node::WriteRule::kLocal && rule != node::WriteRule::kLocalTracked) return false;
  return copy.record.holder.empty() || copy.record.holder == SiteName(site);
}

void World::CheckUnorderedWriters() {
  if (LocalWriter(0) && LocalWriter(1)) {
    Fail(
        "invariant 1: both sites write vm1 alone (a: " + StateText(nodes_[0]->copies.at(kManaged)) +
        ", b: " + StateText(nodes_[1]->copies.at(kManaged)) + "), unordered by one primary");
  }
}

// ---- the schedule
// --------------------------------------------------------------------------------

void World::CutLinks(const Links& links, bool cut) {
  std::string names;
  for (const auto& [from, to] : links) {
    cut ? network_.Cut(from, to) : network_.Heal(from, to);
    names += " " + from + "->" + to;
  }
  Trace(std::string(cut ? "CUT" : "HEAL") + names);
}

void World::CrashAndRestart(const std::string& what, int site, int64_t down_ms) {
  const bool node = what == "node" || what == "site";
  const bool cluster = what == "clusterd" || what == "site";
  if ((node && !nodes_[site]->up()) || (cluster && !clusterds_[site]->up())) return;
  Trace("CRASH " + (what == "witness" ? std::string("witness") : what + " " + SiteName(site)) +
        " for " + std::to_string(down_ms) + " ms");
  if (what == "witness") {
    if (!witness_->up()) return;
    witness_->Crash();
    network_.DropInFlightTo("w");
    After(down_ms, [this] {
      Trace("RESTART witness");
      witness_->Start();
    });
    return;
  }
  if (node) {
    nodes_[site]->Crash();
    network_.DropInFlightTo(Endpoint(site, "node"));
    for (WriteRecord& write : writes_) {  // the mount is gone: a write in flight fails (ENOTCONN)
      if (write.site == site && write.returned_ms < 0) {
        write.returned_ms = now_ms_;
        write.code = Code::kIoError;
      }
    }
  }
  if (cluster) {
    clusterds_[site]->Crash();
    for (int link = 0; link < heartbeat_links_; ++link) {
      network_.DropInFlightTo(Endpoint(site, "hb" + std::to_string(link)));
    }
  }
  After(down_ms, [this, site, node, cluster] {
    Trace(std::string("RESTART ") +
          (node && cluster ? "site "
           : node          ? "node "
                           : "clusterd ") +
          SiteName(site));
    if (node && !nodes_[site]->up()) nodes_[site]->Start();
    if (cluster && !clusterds_[site]->up()) clusterds_[site]->Start();
  });
}

// Directed links, listed a->b then b->a for each.
Links World::DataLinks() const { return {{"a.node", "b.node"}, {"b.node", "a.node"}}; }

Links World::HeartbeatLinks() const {
  Links links;
  for (int link = 0; link < heartbeat_links_; ++link) {
    const std::string name = "hb" + std::to_string(link);
    links.push_back({Endpoint(0, name), Endpoint(1, name)});
    links.push_back({Endpoint(1, name), Endpoint(0, name)});
  }
  return links;
}

Links World::WitnessLinks(int site) const {
  return {{Endpoint(site, "node"), "w"}, {"w", Endpoint(site, "node")}};
}

// Keeps one direction (0: a->b or site->witness, 1: the other) or both (2).
static Links Directed(const Links& links, int64_t direction) {
  Links kept;
  for (size_t i = 0; i < links.size(); ++i) {
    if (direction == 2 || static_cast<int64_t>(i % 2) == direction) kept.push_back(links[i]);
  }
  return kept;
}

// The links a fault of `kind` (4 to 8) cuts.
Links World::LinksToCut(int64_t kind, int site, int64_t direction) const {
  Links links;
  auto add = [&links](const Links& more) { links.insert(links.end(), more.begin(), more.end()); };
  switch (kind) {
    case 4: return Directed(HeartbeatLinks(), direction);
    case 5: return Directed(DataLinks(), direction);
    case 6:
      add(Directed(HeartbeatLinks(), direction));
      add(Directed(DataLinks(), direction));
      return links;
    case 7:  // a site cut from everyone
      add(HeartbeatLinks());
      add(DataLinks());
      if (options_.witness) add(WitnessLinks(site));
      return links;
    default: return options_.witness ? Directed(WitnessLinks(site), direction) : links;
  }
}

// A fault every 0.2 to 2.5 s: a crash (of a clusterd, a node, a whole site or the witness) with
// its restart, a cut of some links (one way or both) with its heal, or a heal of every link.
void World::ScheduleFaults(int64_t until_ms) {
  for (int64_t at = Uniform(300, 1500); at < until_ms; at += Uniform(200, 2500)) {
    const int64_t kind = Uniform(0, 9);
    const int site = static_cast<int>(Uniform(0, 1));
    const int64_t direction = Chance(0.5) ? 2 : Uniform(0, 1);
    const int64_t delay = at - now_ms_;
    if (kind <= 3) {
      static const char* const kWhat[] = {"clusterd", "node", "site", "witness"};
      static const int64_t kShortest[] = {50, 50, 300, 100}, kLongest[] = {5000, 5000, 8000, 6000};
      if (kind == 3 && !options_.witness) continue;
      const int64_t down = Uniform(kShortest[kind], kLongest[kind]);
      After(delay, [this, what = std::string(kWhat[kind]), site, down] {
        CrashAndRestart(what, site, down);
      });
    } else if (kind <= 8) {
      const Links links = LinksToCut(kind, site, direction);
      if (links.empty()) continue;
      After(delay, [this, links] { CutLinks(links, true); });
      After(delay + Uniform(200, 8000), [this, links] { CutLinks(links, false); });
    } else {
      After(delay, [this] { HealLinks(); });
    }
  }
}

void World::HealLinks() {
  Links all = DataLinks();
  const Links heartbeat = HeartbeatLinks();
  all.insert(all.end(), heartbeat.begin(), heartbeat.end());
  for (int site = 0; site < 2; ++site) {
    const Links witness = WitnessLinks(site);
    all.insert(all.end(), witness.begin(), witness.end());
  }
  CutLinks(all, false);
}

void World::ScheduleWrites(int site, int64_t until_ms) {
  After(Uniform(20, 400), [this, site, until_ms] {
    if (now_ms_ >= until_ms) return;
    const bool busy = std::any_of(writes_.begin(), writes_.end(), [&](const WriteRecord& w) {
      return w.site == site && w.returned_ms < 0;
    });
    if (!busy && nodes_[site]->up()) {
      const size_t index = writes_.size();
      const int block = static_cast<int>(Uniform(0, kBlocks - 1));
      writes_.push_back({site, block, now_ms_});
      const uint64_t write_id = index + 1;
      Trace(SiteName(site) + " mount: write #" + std::to_string(write_id) + " to block " +
            std::to_string(block));
      nodes_[site]->MountWrite(block, write_id, [this, index, write_id](Code code) {
        WriteRecord& write = writes_[index];
        if (write.returned_ms >= 0) return;
        write.returned_ms = now_ms_;
        write.code = code;
        code == Code::kOk ? ++result_.writes_acknowledged : ++result_.writes_refused;
        Trace(SiteName(write.site) + " mount: write #" + std::to_string(write_id) + " " +
              (code == Code::kOk ? std::string("acknowledged")
                                 : std::string("failed: ") + CodeName(code)));
      });
    }
    ScheduleWrites(site, until_ms);
  });
}

void World::HealEverything() {
  Trace("HEAL EVERYTHING: every link up, no more loss, every process back");
  HealLinks();
  FaultProfile calm{0.0, 0.0, 1, 5};
  network_.set_profile(calm);
  for (int site = 0; site < 2; ++site) {
    if (!nodes_[site]->up()) nodes_[site]->Start();
    if (!clusterds_[site]->up()) clusterds_[site]->Start();
  }
  if (options_.witness && !witness_->up()) witness_->Start();
}

}  // namespace cluster
}  // namespace pairfs::sim
