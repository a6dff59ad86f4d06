#include "wire/check.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

namespace pairfs::wire {

void CheckFailed(const char* file, int line, const char* expression, const char* why) {
  spdlog::critical("check failed at {}:{}: {} ({})", file, line, expression, why);
  spdlog::shutdown();  // flush the log files before the process ends
  std::fprintf(stderr, "pairfs: check failed at %s:%d: %s (%s)\n", file, line, expression, why);
  std::abort();
}

}  // namespace pairfs::wire
