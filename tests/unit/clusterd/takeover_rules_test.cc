#include "clusterd/takeover_rules.h"

#include <catch2/catch.hpp>

using namespace pairfs::clusterd;
using pairfs::wire::VolumeInfo;

namespace {

VolumeInfo Row(const std::string& name, const std::string& role, const std::string& status,
               const std::string& mode = "sync") {
  VolumeInfo row;
  row.name = name;
  row.role = role;
  row.status = status;
  row.mode = mode;
  row.peer_heard_ms_ago = 5000;  // the data link silent for 5 s
  return row;
}

// b, FENCED, without a's heartbeats, and its node's data link silent for 5 s (peer_timeout 1 s).
TakeoverView Lost() {
  TakeoverView view;
  view.force = true;
  view.phase = Phase::kFenced;
  view.peer = "a";
  view.node_answered = true;
  view.volumes = {Row("quorum", "secondary", "PSUE"), Row("vm1", "secondary", "PSUE")};
  view.peer_timeout_ms = 1000;
  return view;
}

}  // namespace

TEST_CASE("cluster takeover goes on only with --force, FENCED, and the peer heard nowhere") {
  CHECK(TakeoverRefusal(Lost()).empty());

  TakeoverView unforced = Lost();
  unforced.force = false;
  CHECK_THAT(TakeoverRefusal(unforced), Catch::Contains("needs --force"));

  // A cut of the data link alone: the heartbeats still hear the peer.
  TakeoverView heard = Lost();
  heard.links_hearing_peer = {"tcp://10.1.0.2:7101"};
  CHECK_THAT(TakeoverRefusal(heard),
             Catch::Contains("heard on heartbeat link(s) tcp://10.1.0.2:7101"));
  CHECK_THAT(TakeoverRefusal(heard), Catch::Contains("data link alone"));

  // A cut of the heartbeat networks alone: the data link still hears the peer's node.
  TakeoverView data_link = Lost();
  data_link.volumes[1].peer_heard_ms_ago = 120;
  CHECK_THAT(TakeoverRefusal(data_link), Catch::Contains("heard on the data link 120 ms ago"));
  // Heard only before peer_timeout_ms: silent.
  data_link.volumes[1].peer_heard_ms_ago = 1000;
  CHECK(TakeoverRefusal(data_link).empty());
  // Never heard since the node started (it restarted after the loss): silent.
  data_link.volumes[1].peer_heard_ms_ago = -1;
  CHECK(TakeoverRefusal(data_link).empty());
  // A volume that is in no pair says nothing of the link.
  data_link.volumes.push_back(Row("scratch", "simplex", "SMPL", ""));
  data_link.volumes.back().peer_heard_ms_ago = 10;
  CHECK(TakeoverRefusal(data_link).empty());

  TakeoverView silent_node = Lost();
  silent_node.node_answered = false;
  silent_node.volumes.clear();
  CHECK_THAT(TakeoverRefusal(silent_node), Catch::Contains("node does not answer"));

  for (Phase phase : {Phase::kStarting, Phase::kStandby, Phase::kReserving, Phase::kActive}) {
    TakeoverView not_fenced = Lost();
    not_fenced.phase = phase;
    INFO(PhaseName(phase));
    CHECK_THAT(TakeoverRefusal(not_fenced), Catch::Contains("not FENCED"));
  }
  // The peer's liveness is said before the phase: the operator learns why it is not lost.
  heard.phase = Phase::kStandby;
  CHECK_THAT(TakeoverRefusal(heard), Catch::Contains("is alive"));
}

TEST_CASE("cluster takeover takes the determining volume over first, then managed secondaries") {
  const std::vector<VolumeInfo> volumes = {
      Row("vm2", "secondary", "PSUE"),   Row("quorum", "secondary", "PSUE"),
      Row("vm1", "secondary", "SSWS"),   Row("vm3", "primary", "PSUE"),
      Row("vm4", "simplex", "SMPL", ""), Row("vm5", "secondary", "PAIR", "async")};
  CHECK(VolumesToTakeOver(volumes, "quorum", {"vm1", "vm2", "vm3", "vm4", "vm5", "gone"}) ==
        std::vector<std::string>{"quorum", "vm2", "vm5"});
  // The determining volume already taken over (a repeated command): only the rest.
  std::vector<VolumeInfo> again = volumes;
  again[1].status = "SSWS";
  CHECK(VolumesToTakeOver(again, "quorum", {"vm2"}) == std::vector<std::string>{"vm2"});
}

TEST_CASE("cluster takeover says what each managed volume may lose") {
  std::vector<VolumeInfo> volumes = {
      Row("ok", "secondary", "PSUE"), Row("old", "secondary", "PSUE"),
      Row("mixed", "secondary", "COPY"), Row("journal", "secondary", "PAIR", "async"),
      Row("mine", "primary", "PSUE")};
  volumes[1].outdated = true;
  volumes[2].consistent = false;
  const std::vector<std::string> lines =
      WhatMayBeLost(volumes, {"ok", "old", "mixed", "journal", "mine", "none"}, "a");
  REQUIRE(lines.size() == 6);
  CHECK_THAT(lines[0], Catch::StartsWith("ok (sync, consistent): nothing site a acknowledged"));
  CHECK_THAT(lines[1], Catch::Contains("outdated") && Catch::Contains("misses writes"));
  CHECK_THAT(lines[2], Catch::Contains("inconsistent") && Catch::Contains("file system"));
  CHECK_THAT(lines[3], Catch::Contains("(async)") && Catch::Contains("never shipped"));
  CHECK_THAT(lines[4], Catch::Contains("already writable here"));
  CHECK_THAT(lines[5], Catch::Contains("not in a pair here"));
}
