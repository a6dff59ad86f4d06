// on_start / on_stop: the operator's scripts that start and stop the applications at a site.
#pragma once

#include <string>
#include <vector>

#include "wire/status.h"

namespace pairfs::clusterd {

// Runs `command` with /bin/sh -c in its own process group, with `environment` ("NAME=value")
// added to clusterd's, its standard input from /dev/null and every line it prints logged under
// `label`. Waits for it at most `timeout_ms`, then kills the whole group (SIGKILL).
// Ok if it exited 0; Timeout if it was killed; IoError (with the exit status) otherwise.
// An empty command is Ok at once. Blocks the calling thread.
Status RunHook(const std::string& label, const std::string& command,
               const std::vector<std::string>& environment, int64_t timeout_ms);

}  // namespace pairfs::clusterd
