// Consistency groups (doc/design.md "Async pairs", "Consistency group"): what a group command
// (pairctl split/resync/takeover/wait/display --group G) decides before it touches a pair, pure:
// which pairs of the group it runs on, in which order, which it leaves as they are, and whether
// the group is consistent enough to run it at all; and what the outcomes of its pairs add up to.
// No I/O, no locks; thread-safe (stateless). Mode-neutral: sync and async groups plan alike; the
// replicator executes the plan (node/replicator_groups.cc).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "node/pair_state.h"
#include "wire/messages.h"
#include "wire/status.h"

namespace pairfs::node {

enum class GroupCommand : uint8_t {
  kSplit,       // split --group G [--rw]: every pair at one point of the write order
  kResync,      // resync --group G
  kResyncSwap,  // resync --group G --swap: this site becomes the primary of every pair
  kTakeover,    // takeover --group G [--force]
};

// One pair of a group as this site sees it.
struct GroupMember {
  std::string name;  // the local volume
  PairRole role = PairRole::kSimplex;
  PairStatus status = PairStatus::kSMPL;
  PairMode mode = PairMode::kSync;
  std::string primary_site;  // where the pair's writes are ordered (this site or the peer)
};

struct GroupPlan {
  // The pairs to run the command on, in name order: the order a group split closes their gates
  // (one order for every thread, so two group commands never wait for each other in a circle).
  std::vector<std::string> run;
  // Pairs left as they are because they are already where the command takes them (code 0, the
  // message says so): a retried command finishes what a partly failed one left.
  std::vector<wire::PairOutcome> already;
  // split: this site holds the group's secondaries, so the primary site must run it (it orders
  // the writes); the replicator forwards it as one command.
  bool forward = false;
};

// The plan of `command` on `members` (all the pairs of `group` at `this_site`):
// NotFound when `members` is empty; InvalidArgument when the pairs have different modes, or, for
// split and resync, different primary sites (takeover and resync --swap are what bring the
// primaries of a group back to one site, so they accept a mixed group).
Result<GroupPlan> PlanGroupCommand(const std::string& group, GroupCommand command,
                                   const std::vector<GroupMember>& members,
                                   const std::string& this_site);

// create --group: Ok if `joining` may join `group` whose pairs here are `members`; InvalidArgument
// when its mode or primary site differs from theirs, or the group already has kMaxGroupPairs.
Status CheckGroupJoin(const std::string& group, const GroupMember& joining,
                      const std::vector<GroupMember>& members);

// A group command's status from its pairs' outcomes: Ok when every pair is done; otherwise the
// code of the first pair not done, with a message naming every pair not done (the outcomes say
// why, pair by pair).
Status SummarizeGroupOutcomes(const std::string& group, GroupCommand command,
                              const std::vector<wire::PairOutcome>& outcomes);

// The group a pair belongs to: the one it was created in, or (none given) its own, named after
// the volume.
std::string EffectiveGroup(const std::string& volume, const std::string& stored_group);

// "split", "resync", "resync --swap", "takeover": for messages.
const char* GroupCommandName(GroupCommand command);

}  // namespace pairfs::node
