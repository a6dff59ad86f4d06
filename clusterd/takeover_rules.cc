#include "clusterd/takeover_rules.h"

#include <algorithm>

namespace pairfs::clusterd {
namespace {

const wire::VolumeInfo* Row(const std::vector<wire::VolumeInfo>& volumes, const std::string& name) {
  auto it = std::find_if(volumes.begin(), volumes.end(),
                         [&](const wire::VolumeInfo& row) { return row.name == name; });
  return it == volumes.end() ? nullptr : &*it;
}

// The data link heard the peer's node within peer_timeout_ms: any pair's row says so (the node
// keeps one time for the whole link).
bool DataLinkHearsPeer(const TakeoverView& view, int64_t* heard_ms_ago) {
  for (const wire::VolumeInfo& row : view.volumes) {
    if (row.mode.empty() || row.peer_heard_ms_ago < 0) continue;
    if (row.peer_heard_ms_ago < view.peer_timeout_ms) {
      *heard_ms_ago = row.peer_heard_ms_ago;
      return true;
    }
  }
  return false;
}

std::string Joined(const std::vector<std::string>& items) {
  std::string joined;
  for (const std::string& item : items) joined += (joined.empty() ? "" : ", ") + item;
  return joined;
}

}  // namespace

std::string TakeoverRefusal(const TakeoverView& view) {
  if (!view.force) {
    return "cluster takeover needs --force: it makes this site carry on without site " + view.peer +
           ", which must be down (or cut off for good, its applications stopped)";
  }
  if (!view.links_hearing_peer.empty()) {
    return "site " + view.peer + " is alive: heard on heartbeat link(s) " +
           Joined(view.links_hearing_peer) +
           " (a cut of the data link alone does not make it lost); nothing done";
  }
  if (!view.node_answered) return "this site's node does not answer: nothing done";
  int64_t heard_ms_ago = 0;
  if (DataLinkHearsPeer(view, &heard_ms_ago)) {
    return "site " + view.peer + "'s node is alive: heard on the data link " +
           std::to_string(heard_ms_ago) +
           " ms ago (only the heartbeat networks are cut); nothing done";
  }
  if (view.phase != Phase::kFenced) {
    return std::string("this site is ") + PhaseName(view.phase) +
           ", not FENCED: clusterd decides by itself here; nothing done";
  }
  return "";
}

std::vector<std::string> VolumesToTakeOver(const std::vector<wire::VolumeInfo>& volumes,
                                           const std::string& determining,
                                           const std::vector<std::string>& managed) {
  std::vector<std::string> names = {determining};
  names.insert(names.end(), managed.begin(), managed.end());
  std::vector<std::string> chosen;
  for (const std::string& name : names) {
    const wire::VolumeInfo* row = Row(volumes, name);
    if (row == nullptr || row->mode.empty()) continue;
    if (row->role == "secondary" && row->status != "SSWS") chosen.push_back(name);
  }
  return chosen;
}

std::vector<std::string> WhatMayBeLost(const std::vector<wire::VolumeInfo>& volumes,
                                       const std::vector<std::string>& managed,
                                       const std::string& peer) {
  std::vector<std::string> lines;
  for (const std::string& name : managed) {
    const wire::VolumeInfo* row = Row(volumes, name);
    if (row == nullptr || row->mode.empty()) {
      lines.push_back(name + ": not in a pair here: left alone");
    } else if (row->role == "primary" || row->status == "SSWS") {
      lines.push_back(name + ": already writable here (" + row->status + "): nothing to take over");
    } else if (row->outdated || !row->consistent) {
      lines.push_back(name + ": this copy is " + (row->outdated ? "outdated" : "inconsistent") +
                      ": it misses writes site " + peer + " acknowledged" +
                      (row->outdated ? " after the pair was suspended"
                                     : "; its copied regions mix old and new data (check the "
                                       "file system on it)"));
    } else if (row->mode == "async") {
      lines.push_back(name + " (async): the journal entries site " + peer +
                      " acknowledged and never shipped here are lost (the takeover's RPO line "
                      "says how many, as last heard)");
    } else {
      lines.push_back(name + " (sync, consistent): nothing site " + peer +
                      " acknowledged while the pair was in PAIR; only writes it made alone after "
                      "a suspension (none if it was in PAIR) are not here");
    }
  }
  return lines;
}

}  // namespace pairfs::clusterd
