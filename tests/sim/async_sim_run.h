// One seeded run of the async replication simulation (tests/sim/async_sim_test.cc says what it
// checks) and sweeps of many seeds on several threads: the product's node::AsyncGroup at both
// sites, a modelled writer, the seeded link of tests/sim/async_sim.h.
//
// Thread-safety: a run belongs to one thread; RunSeeds runs kConcurrentSeeds of them at once.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "tests/sim/async_sim.h"

namespace pairfs::sim {

struct AsyncSimOptions {
  uint64_t seed = 1;
  int operations = 24;
  bool skip_replay = false;  // the mutation: a restarted master that does not replay its journal
  // Half the master's crashes are power losses for its journal file too (the entries written
  // after its last sync lost). Off in `make check`: finding F1 (tests/sim/README.md).
  bool journal_power_loss = false;
  // The fix of finding F1 (node/async_replicator.cc WriteJournaled): a write's regions are marked
  // durably (hot ones, or a large write's within a bound; re-journaled at the restart) or its
  // image write waits until its entry is durable, so no power loss keeps an image write whose
  // entry it lost unnoticed. Off: the finding's mutation.
  bool durable_before_image = true;
  bool trace = false;
  // Non-empty: RunSeeds starts no seed once a failure's text contains it (the seeds running
  // finish): a mutation test needs one seed that catches the mutation.
  std::string stop_at_failure_with;
};

struct AsyncSimResult {
  std::string failure;
  std::string trace;
  LinkStats link;
  uint64_t writes = 0, acknowledged = 0, journal_full = 0;
  uint64_t master_crashes = 0, restore_crashes = 0, prefix_checks = 0;
};

// Runs one seed with its journals in `dir` (created; the caller removes it).
AsyncSimResult RunAsyncSim(const AsyncSimOptions& options, const std::string& dir);

struct AsyncSweep {
  std::map<uint64_t, std::string> failures;  // seed -> what broke (and its trace)
  AsyncSimResult totals;                     // summed; link.max_in_flight: the largest
};

// Runs seeds [first, first + count) on kConcurrentSeeds threads in a tmpfs directory (fewer once
// a failure has `base.stop_at_failure_with`).
AsyncSweep RunSeeds(uint64_t first, uint64_t count, AsyncSimOptions base);

}  // namespace pairfs::sim
