// Limits of clusterd: every wait and size has a named constant and the reason for it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pairfs::clusterd {

// A hook's output line longer than this is logged in pieces (a script printing a binary blob
// must not make one enormous log line).
inline constexpr size_t kMaxHookLineBytes = 4096;

// The daemon's loop wakes at least this often (timers, heartbeats' news, the node's statuses):
// well under the default interval_ms of 200, so a decision waits at most this much on the loop.
inline constexpr int kLoopTickMs = 20;

// A control call to the node (reserve, fence, takeover, ...) waits this long beyond the site's
// peer_timeout_ms: the node may itself wait that long for the peer before it answers.
inline constexpr int kNodeCallSlackMs = 3000;

// Requests to clusterd's own endpoint (pairctl cluster ...) served per loop turn at most, so a
// flood of status requests cannot starve the heartbeat checks.
inline constexpr int kControlRequestsPerTick = 16;

}  // namespace pairfs::clusterd
