// The operator's forced takeover at the survivor (`pairctl cluster takeover --force`, ops issue 15
// part 3), decided in pure functions: no I/O, no clock. Whether it may go on (never while the
// other site is heard on any heartbeat link or on the data link), which volumes it takes over,
// and what each may lose. The daemon (clusterd/operator_takeover.cc) carries it out; the table
// test is tests/unit/clusterd/takeover_rules_test.cc. Thread-safe (no state).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "clusterd/cluster_state.h"
#include "wire/messages.h"

namespace pairfs::clusterd {

// What clusterd knows when the command arrives.
struct TakeoverView {
  bool force = false;              // --force was given
  Phase phase = Phase::kStarting;  // clusterd's phase here
  std::string peer;                // the other site's name
  // The heartbeat links (their listen endpoints) that heard the peer within timeout_ms.
  std::vector<std::string> links_hearing_peer;
  bool node_answered = false;  // this site's node answered the display just asked
  // The node's rows (display): their peer_heard_ms_ago says when the data link last carried
  // anything from the peer's node.
  std::vector<wire::VolumeInfo> volumes;
  int64_t peer_timeout_ms = 0;  // the data link is silent after this long (site.peer_timeout_ms)
};

// "" when the takeover may go on; else why not, in one line for the operator. Refused without
// --force, while a heartbeat link or the data link hears the peer (a cut of one network is not
// a dead site), when the node does not answer, and unless this site is FENCED.
std::string TakeoverRefusal(const TakeoverView& view);

// The volumes to take over, in order: the determining volume first, then the managed ones, each
// only where it is the secondary here and not already writable (SSWS). `volumes` is the node's
// display; a name it does not list, or not in a pair, is left out.
std::vector<std::string> VolumesToTakeOver(const std::vector<wire::VolumeInfo>& volumes,
                                           const std::string& determining,
                                           const std::vector<std::string>& managed);

// One line per managed volume saying what taking it over here may lose, from its row before the
// takeover: a consistent sync copy nothing the peer acknowledged while the pair was in PAIR; an
// outdated or inconsistent one, writes (said so); an async one, the journal tail the peer never
// shipped (the node's RPO line follows its takeover).
std::vector<std::string> WhatMayBeLost(const std::vector<wire::VolumeInfo>& volumes,
                                       const std::vector<std::string>& managed,
                                       const std::string& peer);

}  // namespace pairfs::clusterd
