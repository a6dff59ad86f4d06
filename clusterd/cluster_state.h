// clusterd's decisions (doc/design.md "clusterd and the determining volume"), pure: no I/O, no
// clock, no sockets. The daemon (clusterd/daemon.h) turns heartbeats, timers, the node's answers
// and operator commands into events, and carries out the actions in the order given.
//
// One site is ACTIVE (runs the applications) only after winning the reserve of the determining
// volume; the standby races standby_delay_ms later than the active site, so a cut of the
// heartbeat networks alone leaves the active site active. A site that loses (or cannot reach
// the reservation) fences its copies before it runs on_stop. The table of every transition is
// in clusterd(8), printed from this code by build/tools/cluster_table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pairfs::clusterd {

enum class Phase : uint8_t {
  kStarting,   // waiting up to timeout_ms to hear the peer
  kStandby,    // the peer runs the applications, or nobody does yet; a race may be scheduled
  kReserving,  // asking for the determining volume's reservation
  kActive,     // won: this site runs the applications
  kFenced,     // lost: the managed copies refuse writes; until recovery or `cluster unfence`
};

struct ClusterState {
  Phase phase = Phase::kStarting;
  bool peer_alive = false;              // a heartbeat arrived on some link within timeout_ms
  Phase peer_phase = Phase::kStarting;  // what the peer's last heartbeat said
  bool race_pending = false;            // standby: a race is scheduled (standby_delay_ms)
  bool started = false;                 // on_start ran and on_stop did not since
  bool holds_determining = false;       // this site holds the determining volume's reservation
  // The managed copies are fenced by clusterd (fence-managed ran, or an unfence the node
  // refused); the daemon corrects it from the node's answers.
  bool copies_fenced = false;
  // on_start ran before this clusterd restarted (clusterd.state): at start-up this site races at
  // once, like an active site, so that a restart of the active site's clusterd is no failover.
  bool resuming = false;
  bool operator==(const ClusterState&) const = default;
};

enum class Event : uint8_t {
  kStartupTimeout,  // nothing heard from the peer for timeout_ms after start
  kPeerSeen,        // a heartbeat (input.peer_phase says what the peer is doing); a STANDBY
                    // site leaves a peer that is STARTING alone: the peer decides first; a
                    // FENCED site races again when nobody is active (the peer STANDBY or FENCED)
  kPeerLost,        // every heartbeat link silent for timeout_ms
  kRaceTimer,       // the scheduled race is due
  kReserveWon,      // the determining volume is reserved for this site
  kReserveRefused,  // the other site holds it (or the majority refused)
  kReserveUnreachable,  // its primary (or a majority of its copies) did not answer
  kCopiesFenced,        // the node fenced a managed copy itself (fence reserve, reserve lost)
  kPairsHealthy,        // peer alive and every managed pair and the determining volume in PAIR
  kPairsSuspended,      // peer alive, some managed pair suspended (sent only with auto_resync)
  kReleased,            // the determining volume's reservation was released
  kUnfence,             // the operator: pairctl cluster unfence
  kStillFenced,  // ACTIVE with copies still fenced (an unfence the node refused): every timeout_ms
  // ops (issue 15): the operator's `pairctl cluster takeover --force`, fed once the daemon took
  // the pairs over and released the lost holder's record; a FENCED site without the peer's
  // heartbeats races at once (the daemon refuses the command otherwise).
  kTakeover,
};

struct Input {
  Event event;
  Phase peer_phase = Phase::kStarting;   // kPeerSeen
  bool determining_primary_here = true;  // kReserveWon: the determining volume's role here
};

enum class Action : uint8_t {
  kScheduleRace,   // race after standby_delay_ms
  kScheduleRetry,  // race again after timeout_ms (a FENCED site whose race failed)
  kCancelRace,
  kReserveDetermining,  // ask for the determining volume's reservation (answer: an event)
  kReserveManaged,      // reserve every managed volume for this site, preempting (I/O fencing)
  kResyncPairs,         // the determining volume is primary here: resync the pairs
  kSwapPairs,           // it is secondary here: resync --swap the pairs and it (takeover, SSWS,
                        // where the peer's storage does not answer)
  kRunOnStart,
  kFenceManaged,  // the managed copies refuse writes (EROFS)
  kRunOnStop,
  kUnfenceManaged,      // by the operator, on recovery, or by the winner (its own fence: the node
                        // lifts it into writing alone only for the holder with the peer outdated)
  kReleaseDetermining,  // the next race starts from an unreserved determining volume
  kAutoResync,          // auto_resync: resync the suspended pairs from the current primary
};

struct Transition {
  ClusterState next;
  std::vector<Action> actions;
  std::string why;  // one line for the log and `cluster status`; empty when nothing happens
};

// The next state and actions for `input` in `state`. Events that mean nothing in a phase leave
// the state as it is with no actions.
Transition Decide(const ClusterState& state, const Input& input);

const char* PhaseName(Phase phase);  // "STARTING", "STANDBY", ...
bool ParsePhase(const std::string& name, Phase* phase);
const char* EventName(Event event);     // "startup-timeout", ...
const char* ActionName(Action action);  // "schedule-race", ...

}  // namespace pairfs::clusterd
