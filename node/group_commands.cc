#include "node/group_commands.h"

#include <algorithm>

#include "wire/limits.h"

namespace pairfs::node {
namespace {

using S = PairStatus;

bool IsSuspended(PairStatus status) {
  return status == S::kPSUS || status == S::kPSUE || status == S::kSSUS || status == S::kSSWS ||
         status == S::kPFUS;
}

// Why `member` is already where `command` takes it, or "" when the command must run on it.
std::string AlreadyThere(GroupCommand command, const GroupMember& member,
                         const std::string& this_site) {
  const std::string status = StatusName(member.status);
  switch (command) {
    case GroupCommand::kSplit:
      return IsSuspended(member.status) ? "already suspended (" + status + ")" : "";
    case GroupCommand::kResync:
      return member.status == S::kPAIR || member.status == S::kCOPY ? "already " + status : "";
    case GroupCommand::kResyncSwap:
      return member.primary_site == this_site && member.role == PairRole::kPrimary &&
                     (member.status == S::kPAIR || member.status == S::kCOPY)
                 ? "already the primary here (" + status + ")"
                 : "";
    case GroupCommand::kTakeover:
      if (member.role == PairRole::kPrimary) return "already the primary here (" + status + ")";
      return member.status == S::kSSWS ? "already taken over (SSWS)" : "";
  }
  return "";
}

// InvalidArgument naming two pairs that differ in what `field` reads, or Ok.
template <class Field>
Status Alike(const std::string& group, const std::vector<GroupMember>& members, const char* what,
             Field field) {
  for (const GroupMember& member : members) {
    if (field(member) == field(members.front())) continue;
    return Status::InvalidArgument("group " + group + " is inconsistent: " + members.front().name +
                                   " has " + what + " " + field(members.front()) + ", " +
                                   member.name + " has " + field(member) +
                                   " (all pairs of a group have one mode and one primary site)");
  }
  return Status::Ok();
}

std::string ModeOf(const GroupMember& member) { return ModeName(member.mode); }
std::string PrimaryOf(const GroupMember& member) { return "primary site " + member.primary_site; }

}  // namespace

const char* GroupCommandName(GroupCommand command) {
  switch (command) {
    case GroupCommand::kSplit: return "split";
    case GroupCommand::kResync: return "resync";
    case GroupCommand::kResyncSwap: return "resync --swap";
    case GroupCommand::kTakeover: return "takeover";
  }
  return "?";
}

std::string EffectiveGroup(const std::string& volume, const std::string& stored_group) {
  return stored_group.empty() ? volume : stored_group;
}

Result<GroupPlan> PlanGroupCommand(const std::string& group, GroupCommand command,
                                   const std::vector<GroupMember>& members,
                                   const std::string& this_site) {
  if (members.empty())
    return Status::NotFound("no pair in group " + group + " at site " + this_site);
  if (Status modes = Alike(group, members, "mode", ModeOf); !modes.ok()) return modes;
  const bool moves_primaries =
      command == GroupCommand::kTakeover || command == GroupCommand::kResyncSwap;
  if (!moves_primaries) {
    if (Status primaries = Alike(group, members, "its", PrimaryOf); !primaries.ok())
      return primaries;
  }
  std::vector<GroupMember> sorted = members;
  std::sort(sorted.begin(), sorted.end(),
            [](const GroupMember& x, const GroupMember& y) { return x.name < y.name; });
  GroupPlan plan;
  for (const GroupMember& member : sorted) {
    const std::string already = AlreadyThere(command, member, this_site);
    if (already.empty()) {
      plan.run.push_back(member.name);
    } else {
      plan.already.push_back({member.name, 0, already});
    }
  }
  plan.forward = command == GroupCommand::kSplit && sorted.front().primary_site != this_site;
  return plan;
}

Status CheckGroupJoin(const std::string& group, const GroupMember& joining,
                      const std::vector<GroupMember>& members) {
  if (members.size() >= wire::kMaxGroupPairs) {
    return Status::InvalidArgument("group " + group + " already has " +
                                   std::to_string(members.size()) +
                                   " pairs, the most a group holds");
  }
  for (const GroupMember& member : members) {
    if (member.name == joining.name) continue;
    if (member.mode != joining.mode) {
      return Status::InvalidArgument("group " + group + " holds " + ModeOf(member) + " pairs (" +
                                     member.name + "); a " + ModeOf(joining) +
                                     " pair cannot join it");
    }
    if (member.primary_site != joining.primary_site) {
      return Status::InvalidArgument("group " + group + " has its primaries at site " +
                                     member.primary_site + " (" + member.name +
                                     "); a pair with its primary at site " + joining.primary_site +
                                     " cannot join it");
    }
  }
  return Status::Ok();
}

Status SummarizeGroupOutcomes(const std::string& group, GroupCommand command,
                              const std::vector<wire::PairOutcome>& outcomes) {
  std::string failed;
  size_t count = 0;
  uint8_t first_code = 0;
  for (const wire::PairOutcome& outcome : outcomes) {
    if (outcome.code == 0) continue;
    if (first_code == 0) first_code = outcome.code;
    failed += (count++ == 0 ? "" : ", ") + outcome.name;
  }
  if (count == 0) return Status::Ok();
  const Code code = first_code <= static_cast<uint8_t>(Code::kUnsupported)
                        ? static_cast<Code>(first_code)
                        : Code::kCorruption;
  return Status(code, std::string(GroupCommandName(command)) + " --group " + group + ": " +
                          std::to_string(count) + " of " + std::to_string(outcomes.size()) +
                          " pairs not done: " + failed);
}

}  // namespace pairfs::node
