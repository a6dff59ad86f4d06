// Logging set-up for the daemons (spdlog). Call once, before any thread starts.
#pragma once

#include <string>

#include "wire/status.h"

namespace pairfs::node {

// Logs to stderr, and also to `file` when it is not empty (daemons in the background lose
// stderr), created or made mode 0600. `debug` lowers the level from info to debug. IoError if
// the file cannot be opened or its mode set.
Status SetUpLogging(const std::string& program, const std::string& file, bool debug);

}  // namespace pairfs::node
