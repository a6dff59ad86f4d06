#include "node/fault_point.h"

#include <csignal>
#include <cstdlib>
#include <cstring>

#include <spdlog/spdlog.h>

namespace pairfs::node {

void FaultPoint(const char* name) {
  // Read once: the environment does not change while the daemon runs.
  static const char* const armed = std::getenv("PAIRFS_FAULT");
  if (armed == nullptr || std::strcmp(armed, name) != 0) return;
  spdlog::critical("PAIRFS_FAULT={}: killing this process here (test fault point)", name);
  spdlog::default_logger()->flush();
  std::raise(SIGKILL);
}

}  // namespace pairfs::node
