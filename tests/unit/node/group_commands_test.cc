// What a group command decides before it touches a pair (node/group_commands.h), row by row.
#include "node/group_commands.h"

#include <catch2/catch.hpp>

#include "wire/limits.h"

namespace pairfs::node {
namespace {

using R = PairRole;
using S = PairStatus;

GroupMember Member(const std::string& name, R role, S status, const std::string& primary_site,
                   PairMode mode = PairMode::kSync) {
  return {name, role, status, mode, primary_site};
}

std::vector<std::string> Names(const std::vector<wire::PairOutcome>& outcomes) {
  std::vector<std::string> names;
  for (const auto& outcome : outcomes) names.push_back(outcome.name);
  return names;
}

TEST_CASE("a group command on a group with no pair here is NotFound", "[group_commands]") {
  for (GroupCommand command : {GroupCommand::kSplit, GroupCommand::kResync,
                               GroupCommand::kResyncSwap, GroupCommand::kTakeover}) {
    Result<GroupPlan> plan = PlanGroupCommand("app", command, {}, "a");
    REQUIRE_FALSE(plan.ok());
    CHECK(plan.status().code() == Code::kNotFound);
    CHECK(plan.status().message() == "no pair in group app at site a");
  }
}

TEST_CASE("a group split runs on every pair in name order, whatever order they came in",
          "[group_commands]") {
  Result<GroupPlan> plan = PlanGroupCommand(
      "app", GroupCommand::kSplit,
      {Member("vm2", R::kPrimary, S::kPAIR, "a"), Member("db", R::kPrimary, S::kCOPY, "a"),
       Member("log", R::kPrimary, S::kPAIR, "a")},
      "a");
  REQUIRE(plan.ok());
  CHECK(plan->run == std::vector<std::string>{"db", "log", "vm2"});
  CHECK(plan->already.empty());
  CHECK_FALSE(plan->forward);
}

TEST_CASE("a group split issued at the secondaries' site is forwarded to the primary site",
          "[group_commands]") {
  Result<GroupPlan> plan = PlanGroupCommand(
      "app", GroupCommand::kSplit,
      {Member("db", R::kSecondary, S::kPAIR, "a"), Member("log", R::kSecondary, S::kPAIR, "a")},
      "b");
  REQUIRE(plan.ok());
  CHECK(plan->forward);
  CHECK(plan->run == std::vector<std::string>{"db", "log"});
  for (GroupCommand command :
       {GroupCommand::kResync, GroupCommand::kResyncSwap, GroupCommand::kTakeover}) {
    Result<GroupPlan> other =
        PlanGroupCommand("app", command, {Member("db", R::kSecondary, S::kPSUS, "a")}, "b");
    REQUIRE(other.ok());
    CHECK_FALSE(other->forward);
  }
}

TEST_CASE("pairs already where the command takes them are left as they are, and said so",
          "[group_commands]") {
  struct Row {
    GroupCommand command;
    GroupMember member;
    const char* already;  // "" = the command runs on it
  };
  const Row rows[] = {
      {GroupCommand::kSplit, Member("x", R::kPrimary, S::kPAIR, "a"), ""},
      {GroupCommand::kSplit, Member("x", R::kPrimary, S::kCOPY, "a"), ""},
      {GroupCommand::kSplit, Member("x", R::kPrimary, S::kPSUS, "a"), "already suspended (PSUS)"},
      {GroupCommand::kSplit, Member("x", R::kPrimary, S::kPSUE, "a"), "already suspended (PSUE)"},
      {GroupCommand::kResync, Member("x", R::kPrimary, S::kPSUS, "a"), ""},
      {GroupCommand::kResync, Member("x", R::kPrimary, S::kPSUE, "a"), ""},
      {GroupCommand::kResync, Member("x", R::kPrimary, S::kPAIR, "a"), "already PAIR"},
      {GroupCommand::kResync, Member("x", R::kPrimary, S::kCOPY, "a"), "already COPY"},
      {GroupCommand::kResyncSwap, Member("x", R::kSecondary, S::kSSWS, "b"), ""},
      {GroupCommand::kResyncSwap, Member("x", R::kPrimary, S::kPSUS, "a"), ""},
      {GroupCommand::kResyncSwap, Member("x", R::kPrimary, S::kPAIR, "a"),
       "already the primary here (PAIR)"},
      {GroupCommand::kTakeover, Member("x", R::kSecondary, S::kPAIR, "b"), ""},
      {GroupCommand::kTakeover, Member("x", R::kSecondary, S::kPSUE, "b"), ""},
      {GroupCommand::kTakeover, Member("x", R::kSecondary, S::kSSWS, "b"),
       "already taken over (SSWS)"},
      {GroupCommand::kTakeover, Member("x", R::kPrimary, S::kPAIR, "a"),
       "already the primary here (PAIR)"},
  };
  for (const Row& row : rows) {
    INFO(GroupCommandName(row.command) << " in " << StatusName(row.member.status));
    Result<GroupPlan> plan = PlanGroupCommand("app", row.command, {row.member}, "a");
    REQUIRE(plan.ok());
    if (std::string(row.already).empty()) {
      CHECK(plan->run == std::vector<std::string>{"x"});
      CHECK(plan->already.empty());
    } else {
      CHECK(plan->run.empty());
      REQUIRE(plan->already.size() == 1);
      CHECK(plan->already[0].code == 0);
      CHECK(plan->already[0].message == row.already);
    }
  }
}

TEST_CASE("a group of mixed modes is refused by every group command", "[group_commands]") {
  for (GroupCommand command : {GroupCommand::kSplit, GroupCommand::kResync,
                               GroupCommand::kResyncSwap, GroupCommand::kTakeover}) {
    Result<GroupPlan> plan =
        PlanGroupCommand("app", command,
                         {Member("db", R::kPrimary, S::kPAIR, "a"),
                          Member("log", R::kPrimary, S::kPAIR, "a", PairMode::kAsync)},
                         "a");
    REQUIRE_FALSE(plan.ok());
    CHECK(plan.status().code() == Code::kInvalidArgument);
    CHECK(plan.status().message().find("db has mode sync, log has async") != std::string::npos);
  }
}

TEST_CASE(
    "split and resync refuse a group whose primaries are at two sites; takeover and "
    "resync --swap bring them together",
    "[group_commands]") {
  const std::vector<GroupMember> mixed = {Member("db", R::kSecondary, S::kPAIR, "a"),
                                          Member("log", R::kPrimary, S::kPAIR, "b")};
  for (GroupCommand command : {GroupCommand::kSplit, GroupCommand::kResync}) {
    Result<GroupPlan> plan = PlanGroupCommand("app", command, mixed, "b");
    REQUIRE_FALSE(plan.ok());
    CHECK(plan.status().code() == Code::kInvalidArgument);
    CHECK(plan.status().message().find("db has its primary site a, log has primary site b") !=
          std::string::npos);
  }
  Result<GroupPlan> takeover = PlanGroupCommand("app", GroupCommand::kTakeover, mixed, "b");
  REQUIRE(takeover.ok());
  CHECK(takeover->run == std::vector<std::string>{"db"});  // a retry finishes a partial takeover
  CHECK(Names(takeover->already) == std::vector<std::string>{"log"});
  Result<GroupPlan> swap = PlanGroupCommand("app", GroupCommand::kResyncSwap, mixed, "b");
  REQUIRE(swap.ok());
  CHECK(swap->run == std::vector<std::string>{"db"});
}

TEST_CASE("a pair joins a group only with its mode and primary site, up to the limit",
          "[group_commands]") {
  const std::vector<GroupMember> group = {Member("db", R::kPrimary, S::kPAIR, "a")};
  CHECK(CheckGroupJoin("app", Member("log", R::kPrimary, S::kCOPY, "a"), group).ok());
  CHECK(CheckGroupJoin("app", Member("log", R::kPrimary, S::kCOPY, "a"), {}).ok());
  Status other_site = CheckGroupJoin("app", Member("log", R::kPrimary, S::kCOPY, "b"),
                                     {Member("db", R::kSecondary, S::kPAIR, "a")});
  CHECK(other_site.code() == Code::kInvalidArgument);
  CHECK(other_site.message() ==
        "group app has its primaries at site a (db); a pair with its primary at site b cannot "
        "join it");
  Status other_mode =
      CheckGroupJoin("app", Member("log", R::kPrimary, S::kCOPY, "a", PairMode::kAsync), group);
  CHECK(other_mode.code() == Code::kInvalidArgument);
  CHECK(other_mode.message() == "group app holds sync pairs (db); a async pair cannot join it");
  std::vector<GroupMember> full;
  for (size_t i = 0; i < wire::kMaxGroupPairs; ++i)
    full.push_back(Member("v" + std::to_string(i), R::kPrimary, S::kPAIR, "a"));
  CHECK(CheckGroupJoin("app", Member("one-more", R::kPrimary, S::kCOPY, "a"), full).code() ==
        Code::kInvalidArgument);
  full.pop_back();
  CHECK(CheckGroupJoin("app", Member("last", R::kPrimary, S::kCOPY, "a"), full).ok());
}

TEST_CASE(
    "a group command is done when every pair is; otherwise it names the pairs not done "
    "with the first one's code",
    "[group_commands]") {
  CHECK(SummarizeGroupOutcomes("app", GroupCommand::kTakeover, {{"db", 0, "took over"}}).ok());
  Status partial =
      SummarizeGroupOutcomes("app", GroupCommand::kTakeover,
                             {{"a1", 0, "took over"},
                              {"db", static_cast<uint8_t>(Code::kReadOnly), "outdated"},
                              {"log", static_cast<uint8_t>(Code::kUnreachable), "peer gone"}});
  CHECK(partial.code() == Code::kReadOnly);
  CHECK(partial.message() == "takeover --group app: 2 of 3 pairs not done: db, log");
}

TEST_CASE("a pair created without a group is a group of its own, named after the volume",
          "[group_commands]") {
  CHECK(EffectiveGroup("vm1", "") == "vm1");
  CHECK(EffectiveGroup("vm1", "app") == "app");
}

}  // namespace
}  // namespace pairfs::node
