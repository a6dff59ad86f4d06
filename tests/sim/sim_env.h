// What the simulation tests read from the environment: seed counts and replays
// (PAIRFS_SIM_SEEDS, PAIRFS_SIM_SEED, ...; tests/sim/README.md lists them).
#pragma once

#include <cstdint>
#include <cstdlib>

namespace pairfs::sim {

// The number in environment variable `name`, or `fallback` when it is not set.
inline uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value ? std::strtoull(value, nullptr, 10) : fallback;
}

}  // namespace pairfs::sim
