#include "clusterd/choices.h"

#include <algorithm>

namespace pairfs::clusterd {
namespace {

bool Suspended(const wire::VolumeInfo& info) {
  return info.status == "PSUS" || info.status == "PSUE";
}

}  // namespace

bool LinkHearsPeer(bool heard, int64_t ms_ago, int64_t timeout_ms) {
  return heard && ms_ago >= 0 && ms_ago < timeout_ms;
}

int64_t PeerLossMs(const ClusterState& state, int64_t timeout_ms, int64_t interval_ms) {
  return state.started ? timeout_ms - interval_ms : timeout_ms;
}

std::optional<Input> HeartbeatInput(const ClusterState& state, const HeartbeatView& view) {
  if (view.peer_heard) {
    if (state.peer_alive && view.peer_phase == state.peer_phase &&
        view.peer_incarnation == view.known_incarnation) {
      return std::nullopt;
    }
    return Input{Event::kPeerSeen, view.peer_phase, true};
  }
  if (state.peer_alive) return Input{Event::kPeerLost};
  if (state.phase == Phase::kStarting && view.startup_wait_over)
    return Input{Event::kStartupTimeout};
  return std::nullopt;
}

PollVerdict JudgePoll(const ClusterState& state, const PollView& view) {
  PollVerdict verdict;
  if (!view.node_answered) {
    // This site's storage is gone: hand over (the peer races at once when it hears FENCED).
    if (state.phase == Phase::kActive && view.node_silent_ms > view.timeout_ms) {
      verdict.events.push_back(Event::kCopiesFenced);
    }
    return verdict;
  }
  for (const wire::VolumeInfo& volume : view.volumes) {
    if (!view.pairs.empty() && volume.name == view.pairs.front() &&
        volume.reserved_by == view.site) {
      verdict.holds_determining = true;
    }
  }
  bool all_in_pair = true, fenced_by_node = false, suspended_here = false;
  for (const std::string& name : view.pairs) {
    const auto found = std::find_if(view.volumes.begin(), view.volumes.end(),
                                    [&](const auto& v) { return v.name == name; });
    if (found == view.volumes.end()) {
      all_in_pair = false;
      continue;
    }
    if (found->status != "PAIR") all_in_pair = false;
    // Fenced by the node itself (its fence reserve lost), not by clusterd's own fence.
    if (found->fenced && state.phase != Phase::kFenced && !state.copies_fenced)
      fenced_by_node = true;
    if ((found->role == "primary" && Suspended(*found)) || found->status == "SSWS")
      suspended_here = true;
  }
  if (fenced_by_node) {
    verdict.events.push_back(Event::kCopiesFenced);
    return verdict;
  }
  if (state.phase == Phase::kActive && state.copies_fenced) {
    verdict.events.push_back(Event::kStillFenced);
  }
  if (state.peer_alive && all_in_pair) verdict.events.push_back(Event::kPairsHealthy);
  if (view.auto_resync && state.peer_alive && suspended_here) {
    verdict.events.push_back(Event::kPairsSuspended);
  }
  return verdict;
}

bool DeterminingPrimaryHere(const std::optional<wire::VolumeInfo>& determining) {
  return determining && (determining->role == "primary" || determining->status == "SSWS");
}

Event ReserveFailedEvent(Code code) {
  return code == Code::kConflict ? Event::kReserveRefused : Event::kReserveUnreachable;
}

bool ReservesManaged(const std::optional<wire::VolumeInfo>& info, bool peer_storage_lost) {
  if (!peer_storage_lost) return true;
  return !(info && info->role == "secondary" && info->status != "SSWS");
}

bool TakesOver(const wire::VolumeInfo& info) { return info.role == "secondary"; }

bool TakeoverFoundPeerLost(const wire::VolumeInfo& after) { return after.status == "SSWS"; }

Resync ResyncFor(const wire::VolumeInfo& info, bool peer_alive) {
  if (!peer_alive) return Resync::kNone;
  if (info.status == "SSWS") return Resync::kSwap;
  if (info.role == "primary" && Suspended(info)) return Resync::kFromHere;
  return Resync::kNone;
}

bool StopsResumedApplications(const ClusterState& state, bool applications_running) {
  return applications_running && !state.started &&
         (state.phase == Phase::kStandby || state.phase == Phase::kFenced) && !state.race_pending;
}

bool RunsOnStart(bool applications_running) { return !applications_running; }

}  // namespace pairfs::clusterd
