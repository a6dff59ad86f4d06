// The choices the clusterd daemon takes around its state machine (cluster_state.h), pure: no
// I/O, no clock. Which event the heartbeats and the node's answers make, and, when an action
// runs, which volume it touches and how. The daemon (daemon.cc) and the cluster simulation
// (tests/sim/cluster_sim_clusterd.cc) both call these, so the simulation checks the product's
// choices, not a copy of them. Each function's input is a plain struct of what is known.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "clusterd/cluster_state.h"
#include "wire/limits.h"
#include "wire/messages.h"
#include "wire/status.h"

namespace pairfs::clusterd {

// How long STARTING listens for the peer before racing alone. Longer than timeout_ms: the
// peer's heartbeat connection to a clusterd that was down backs off up to
// kHeartbeatReconnectMaxMs before it dials again, and a start-up race against a peer that is
// ACTIVE but not yet heard would make two active sites.
constexpr int64_t StartupWaitMs(int64_t timeout_ms, int64_t interval_ms) {
  return timeout_ms + wire::kHeartbeatReconnectMaxMs + 2 * interval_ms;
}

// What Daemon::Observe knows of the heartbeats at one look.
struct HeartbeatView {
  bool peer_heard = false;              // some link heard the peer within timeout_ms
  Phase peer_phase = Phase::kStarting;  // what the latest heartbeat said (kStarting: none)
  uint64_t peer_incarnation = 0;        // the latest heartbeat's clusterd incarnation (0: none)
  uint64_t known_incarnation = 0;       // the incarnation the daemon fed last
  bool startup_wait_over = false;       // STARTING has listened for the whole start-up wait
  size_t links = 0;                     // heartbeat links (for the log only)
};

// HeartbeatView::peer_heard, link by link: a link hears the peer when it took in a beat
// (`heard`) whose arrival is less than timeout_ms ago (`ms_ago`; negative: unknown, not heard).
bool LinkHearsPeer(bool heard, int64_t ms_ago, int64_t timeout_ms);

// How long every link must be silent before a site in `state` loses the peer: timeout_ms, and
// interval_ms less for the site that runs the applications (`started`: ACTIVE, and RESERVING
// while it confirms its hold, so that the threshold does not change under the confirm). The two
// sites' beats are up to interval_ms apart, so the standby can hear the last beat of a cut
// heartbeat network up to interval_ms before the active site does; with the same timeout it
// could lose the peer first and, standby_delay_ms later, ask for the determining volume before
// the active site confirmed its hold (a CI run saw a 168 ms skew leave 19 ms of the 200). With the
// head start the active site asks at least standby_delay_ms before the standby, whatever the
// phase of the beats. A silence that ends between the two timeouts costs the active site a
// confirmed hold, released as always once both sites are healthy.
int64_t PeerLossMs(const ClusterState& state, int64_t timeout_ms, int64_t interval_ms);

// The event the heartbeats make in `state`: the peer seen (anew, in another phase, or
// restarted), lost, or, while STARTING, nothing heard for the start-up wait; nullopt when
// nothing changed.
std::optional<Input> HeartbeatInput(const ClusterState& state, const HeartbeatView& view);

// What Daemon::PollNode knows after asking the node for its volumes.
struct PollView {
  bool node_answered = true;
  int64_t node_silent_ms = 0;             // since the node's last answer (when it did not answer)
  int64_t timeout_ms = 0;                 // [cluster] timeout_ms
  std::vector<wire::VolumeInfo> volumes;  // the node's answer
  std::vector<std::string> pairs;         // the pairs clusterd moves, the determining volume first
  std::string site;                       // this site's name
  bool auto_resync = false;               // [cluster] auto_resync
};

struct PollVerdict {
  // The node's copy of the record says this site holds the determining volume (won in a race,
  // or taken by the node's fence reserve): the daemon sets ClusterState::holds_determining.
  bool holds_determining = false;
  // To feed in this order. kStillFenced and kPairsSuspended are retries paced by timers
  // (every timeout_ms): the caller feeds each only when its timer is due at that moment.
  std::vector<Event> events;
};

// What a poll of the node means: an ACTIVE site whose node is silent for longer than
// timeout_ms hands over (kCopiesFenced); a managed copy the node fenced itself fences this site
// (kCopiesFenced alone); else ACTIVE with copies still fenced retries its unfence
// (kStillFenced), every pair in PAIR with the peer alive is kPairsHealthy, and with auto_resync
// a suspended primary or an SSWS copy here, with the peer alive, is kPairsSuspended.
PollVerdict JudgePoll(const ClusterState& state, const PollView& view);

// kReserveWon's `determining_primary_here`: the determining volume's copy here is the primary
// or was taken over (SSWS). False when the node did not say.
bool DeterminingPrimaryHere(const std::optional<wire::VolumeInfo>& determining);

// The event of a reserve of the determining volume that failed with `code`: refused when the
// other site holds it (kConflict), else unreachable.
Event ReserveFailedEvent(Code code);

// kReserveManaged: whether to reserve a managed volume. Once this race found the peer's
// storage lost, a copy still secondary (not taken over) is left alone.
bool ReservesManaged(const std::optional<wire::VolumeInfo>& info, bool peer_storage_lost);

// kSwapPairs: whether a pair is taken over here (its copy here is the secondary).
bool TakesOver(const wire::VolumeInfo& info);

// A takeover that left the copy here SSWS found the peer's storage lost: the race's later
// takeovers and reserves need not ask it again.
bool TakeoverFoundPeerLost(const wire::VolumeInfo& after);

enum class Resync : uint8_t {
  kNone,
  kFromHere,  // a suspended primary here: resync from this site
  kSwap,      // a copy taken over here (SSWS): resync --swap, this copy becomes the primary
};

// kResyncPairs, kAutoResync and after kSwapPairs: how to resync one pair, only while the peer
// is alive.
Resync ResyncFor(const wire::VolumeInfo& info, bool peer_alive);

// After each event: a clusterd restarted with its applications still running (on_start ran
// before the restart) that settled without winning runs on_stop once.
bool StopsResumedApplications(const ClusterState& state, bool applications_running);

// kRunOnStart: on_start runs unless it ran already (before this clusterd restarted).
bool RunsOnStart(bool applications_running);

}  // namespace pairfs::clusterd
