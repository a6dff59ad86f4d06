// What a Replicator is built with (node/replicator.h): the transports it talks to the peer and the
// witness through, and its options; and the options of one reserve or release.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "node/thread_starter.h"
#include "node/time_source.h"
#include "wire/limits.h"
#include "wire/messages.h"
#include "wire/status.h"

namespace pairfs::node {

// Carries encoded frames to the peer; best effort (the replicator retransmits and times out).
class PeerTransport {
 public:
  virtual ~PeerTransport() = default;
  virtual Status Send(std::string frame_bytes) = 0;
  // The same for a frame the sender keeps to retransmit (a write's): a transport that can send it
  // without a copy overrides this; by default it is copied.
  virtual Status SendShared(std::shared_ptr<const std::string> frame_bytes) {
    return Send(*frame_bytes);
  }
};

// Asks the witness for one vote of a majority reserve (node/replicator_reserve.cc); the daemon's
// implementation talks to [witness].endpoint. Thread-safe.
class WitnessTransport {
 public:
  virtual ~WitnessTransport() = default;
  // The witness's answer (code 0 = granted, Conflict = refused), or Unreachable after timeout_ms.
  virtual Result<wire::Reply> Vote(const wire::ReserveVoteRequest& request, int timeout_ms) = 0;
};

struct ReplicatorOptions {
  std::string site;
  std::string peer_site;                   // "" when no [peer] is configured: pairs are refused
  int peer_timeout_ms = 2000;              // longest a write waits for the peer
  uint64_t region_size_bytes = 64 * 1024;  // for new pairs
  int retransmit_ms = 250;                 // resend an unanswered message this often
  int status_interval_ms = 500;            // send every pair's status to the peer this often
  int trim_interval_ms = 2000;             // clear cold regions of the activity log this often
  int tick_ms = 50;                   // the background thread's wake-up (statuses, trims, silence)
  size_t window_bytes = 64ull << 20;  // write data in flight to the peer at most
  int workers = 8;                    // threads serving the peer's requests
  // [cluster] (part 3): the determining volume ("" = no clusterd here: fence reserve refused) and
  // the volumes clusterd fails over (their pairs default to fence reserve).
  std::string determining_volume;
  std::vector<std::string> managed_volumes;
  // ---- async pairs (issue 13) ----
  std::string journal_dir;  // DATA_DIR/journals: one G.journal per consistency group
  uint64_t journal_size_bytes = 1ull << 30;  // [journal] size, for new journals
  int journal_high_water_percent = 80;       // [journal] high_water_percent: PFUL above it
  // pairctl --site (node/carried_commands.cc): how long a carried request waits for the peer's
  // reply; the daemon keeps wire::kCarryTimeoutMs, tests shorten it.
  int carry_timeout_ms = wire::kCarryTimeoutMs;
  // ---- the clock (issue 12: the Env seam's first part, node/time_source.h) ----
  // The time the replicator reads (its timers, the link's silence, the status watch); null: the
  // steady clock. Not owned: it outlives the Replicator. Tests hold or move it (ManualClock).
  const TimeSource* clock = nullptr;
  // The threads it starts (node/thread_starter.h: the peer workers, the background thread, the
  // copy threads, its async groups' threads); null: named std::threads. Not owned.
  const ThreadStarter* threads = nullptr;
};

// A reserve or release (pairctl reserve/release, clusterd, the fence-reserve path).
struct ReserveOptions {
  std::string holder;
  bool release = false;
  // clusterd after winning: take a managed volume from another holder. Allowed only to the
  // holder of the determining volume's reservation (as this node's copy of its record says).
  bool preempt = false;
  // The determining volume only: win although held by another site or recorded outdated; and
  // a site to record as outdated with the grant (fence reserve: the peer that missed writes).
  bool force = false;
  std::string outdated;
};

}  // namespace pairfs::node
