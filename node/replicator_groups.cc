// The group commands at this site (pairctl split/resync/takeover --group G): the pure plan of
// node/group_commands.h, carried out on the pairs of the group.
//
// One point of the write order (split --group): every write to a volume of a pair holds that
// pair's gate shared from before it is written anywhere until both copies answered (the
// primary's writes and the secondary's forwarded writes alike, node/pair_runtime.h). The group
// split closes the gates of all the group's pairs first, in name order (so writes in flight
// finish and new ones wait), then saves the split of each, then opens them all. No write is
// therefore replicated after the split of one volume while another volume of the group is still
// in PAIR: whatever a writer had acknowledged before the point is at both secondaries, whatever
// it wrote after the point is at neither (a database on vm1 with its log on vm2 finds the two
// secondaries at one point). The peers are told of the splits after the gates open, as a single
// split does.
#include <algorithm>
#include <memory>

#include <spdlog/spdlog.h>

#include "node/group_commands.h"
#include "node/replicator.h"
#include "node/replicator_internal.h"
#include "wire/limits.h"

namespace pairfs::node {

using namespace replicator_internal;

namespace {

wire::PairOutcome OutcomeOf(const std::string& name, const Status& status, const std::string& note,
                            const char* done) {
  std::string message = status.ok() ? (note.empty() ? std::string(done) : note) : status.message();
  if (message.size() > wire::kMaxOutcomeMessageBytes) message.resize(wire::kMaxOutcomeMessageBytes);
  return {name, static_cast<uint8_t>(status.code()), message};
}

}  // namespace

std::vector<GroupMember> Replicator::GroupMembers(const std::string& group) const {
  std::vector<std::shared_ptr<Pair>> pairs;
  {
    std::lock_guard<std::mutex> lock(pairs_mutex_);
    for (const auto& [name, pair] : pairs_) pairs.push_back(pair);
  }
  std::vector<GroupMember> members;
  for (const std::shared_ptr<Pair>& pair : pairs) {
    const VolumeMetadata metadata = pair->volume->metadata();
    if (EffectiveGroup(metadata.name, metadata.group) != group) continue;
    const PairView view = pair->Snapshot();
    if (view.state.role == PairRole::kSimplex) continue;
    members.push_back({metadata.name, view.state.role, view.state.status, view.context.mode,
                       view.state.role == PairRole::kPrimary ? options_.site : options_.peer_site});
  }
  return members;
}

Status Replicator::CheckJoinsGroup(const wire::PairCreateRequest& request) const {
  GroupMember joining{request.name, PairRole::kPrimary, PairStatus::kCOPY, PairMode::kSync,
                      options_.site};
  // A mode that does not parse is PlanCreate's to refuse, with its own message.
  if (!ParseMode(request.mode.empty() ? "sync" : request.mode, &joining.mode)) return Status::Ok();
  const std::string group = EffectiveGroup(request.name, request.group);
  return CheckGroupJoin(group, joining, GroupMembers(group));
}

Status Replicator::RunGroup(const std::string& group, GroupCommand command,
                            const GroupOptions& options, std::vector<wire::PairOutcome>* outcomes,
                            std::string* note) {
  Result<GroupPlan> planned = PlanGroupCommand(group, command, GroupMembers(group), options_.site);
  if (!planned.ok()) return planned.status();
  const GroupPlan& plan = planned.value();
  if (plan.forward && !plan.run.empty()) {
    if (options.forwarded) {
      return Status::InvalidArgument(
          "group " + group + ": site " + options_.peer_site +
          " asked for a group split, but its pairs are secondaries here");
    }
    Status forwarded = ForwardGroupSplit(group, plan, options.read_write, note);
    for (const std::string& name : plan.run) {
      outcomes->push_back(
          OutcomeOf(name, forwarded, "", ("split at site " + options_.peer_site).c_str()));
    }
  } else if (command == GroupCommand::kSplit) {
    SplitGroupHere(plan, options.read_write, outcomes);
  } else {
    RunEachOfGroup(plan, command, options, outcomes);
  }
  outcomes->insert(outcomes->end(), plan.already.begin(), plan.already.end());
  std::sort(outcomes->begin(), outcomes->end(),
            [](const wire::PairOutcome& x, const wire::PairOutcome& y) { return x.name < y.name; });
  return SummarizeGroupOutcomes(group, command, *outcomes);
}

Status Replicator::ForwardGroupSplit(const std::string& group, const GroupPlan& plan,
                                     bool read_write, std::string* note) {
  std::shared_ptr<Pair> pair = FindPair(plan.run.front());
  if (!pair) return Status::NotFound("no pair named " + plan.run.front());
  const wire::PeerForwardSplitCommand command{pair->Snapshot().peer_volume, read_write, group};
  Result<wire::PeerAnswerMessage> answer = Ask(command, wire::kDefaultControlTimeoutMs / 2);
  if (!answer.ok()) {
    return Status::Unreachable("the primary site " + options_.peer_site + " of group " + group +
                               " is unreachable: " + answer.status().message());
  }
  if (note) *note = answer->message;
  return StatusFromCode(answer->code, answer->message);
}

void Replicator::SplitGroupHere(const GroupPlan& plan, bool read_write,
                                std::vector<wire::PairOutcome>* outcomes) {
  std::vector<std::shared_ptr<Pair>> pairs;
  for (const std::string& name : plan.run) {
    Result<std::shared_ptr<Pair>> found = PairFor(name);
    Status refused = found.status();
    if (found.ok() && read_write && IsDetermining(name)) {
      refused = Status::InvalidArgument("split --rw of the determining volume " + name +
                                        " is refused: only clusterd makes a copy of it writable");
    }
    if (refused.ok()) {
      pairs.push_back(found.value());
    } else {
      outcomes->push_back(OutcomeOf(name, refused, "", ""));
    }
  }
  std::vector<Result<SplitPoint>> points;
  {
    // The split point: every write of the group in flight has finished, and no new one starts.
    std::vector<std::unique_ptr<ClosedGate>> closed;
    for (const std::shared_ptr<Pair>& pair : pairs)
      closed.push_back(std::make_unique<ClosedGate>(pair->gate));
    for (const std::shared_ptr<Pair>& pair : pairs) points.push_back(SplitHere(*pair, read_write));
  }
  spdlog::info("group split: {} pairs split at one point", pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) {
    const std::string name = pairs[i]->volume->name();
    std::string note;
    Status status = points[i].status();
    if (status.ok()) status = SplitAtPeer(*pairs[i], points[i].value(), read_write, &note);
    outcomes->push_back(OutcomeOf(name, status, note, ""));
  }
}

void Replicator::RunEachOfGroup(const GroupPlan& plan, GroupCommand command,
                                const GroupOptions& options,
                                std::vector<wire::PairOutcome>* outcomes) {
  // A takeover asks the peer once whether it answers: a dead peer costs one timeout, not one per
  // pair, and every pair then goes SSWS alike.
  bool peer_lost = false;
  if (command == GroupCommand::kTakeover && !plan.run.empty()) {
    if (std::shared_ptr<Pair> first = FindPair(plan.run.front())) {
      // asyncrest: an async group's probe is bounded (kTakeoverProbeMs).
      Result<wire::PeerAnswerMessage> peer = first->Snapshot().context.mode == PairMode::kAsync
                                                 ? async_->ProbePeerForTakeover(*first, false)
                                                 : AskStatus(*first);
      peer_lost = !peer.ok() && peer.status().code() == Code::kUnreachable;
    }
  }
  // asyncrest: resync --swap of async pairs at one point, through the journal when it fits
  // (node/async_resync_swap.cc).
  if (command == GroupCommand::kResyncSwap && !plan.run.empty()) {
    bool all_async = true;
    for (const std::string& name : plan.run) {
      std::shared_ptr<Pair> pair = FindPair(name);
      all_async = all_async && pair && pair->Snapshot().context.mode == PairMode::kAsync;
    }
    if (all_async) {
      std::string note;
      (void)async_->ResyncSwapAsync(plan.run, outcomes, &note);
      return;
    }
  }
  // The async pairs of a group resync at one point, their regions in one journal batch
  // (node/async_resync.cc; issue 13 part 4).
  if (command == GroupCommand::kResync && !plan.run.empty()) {
    bool async_primaries = true;
    for (const std::string& name : plan.run) {
      std::shared_ptr<Pair> pair = FindPair(name);
      async_primaries = async_primaries && pair &&
                        pair->Snapshot().context.mode == PairMode::kAsync &&
                        pair->Snapshot().state.role == PairRole::kPrimary;
    }
    if (async_primaries) {
      std::string note;
      (void)async_->ResyncAsync(plan.run, outcomes, &note);
      return;
    }
  }
  for (const std::string& name : plan.run) {
    std::string note;
    Status status;
    switch (command) {
      case GroupCommand::kResync: status = Resync(name, false, false, &note); break;
      case GroupCommand::kResyncSwap: status = Resync(name, true, false, &note); break;
      case GroupCommand::kTakeover:
        status = Takeover(name, options.force, false, peer_lost, &note);
        break;
      case GroupCommand::kSplit: break;  // SplitGroupHere's
    }
    outcomes->push_back(OutcomeOf(name, status, note, ""));
  }
}

}  // namespace pairfs::node
