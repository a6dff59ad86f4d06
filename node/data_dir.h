// The data directory's permissions (doc/design.md "Security"): the control sockets, the lock files
// and the logs live there, so only the daemon's user may enter it. Thread-safe (no shared state).
#pragma once

#include <string>

#include "wire/status.h"

namespace pairfs::node {

// Makes `data_dir` ready for a daemon: creates it with mode 0700 if it is missing; refuses one
// that group or others can write, or that another user owns (NotPermitted naming the directory
// and the fix: they could replace the sockets, locks and logs); takes away the read and search
// access of group and others from one that had it (chmod 0700). IoError naming the directory
// when it cannot be created, examined or changed, or is not a directory.
Status PrepareDataDir(const std::string& data_dir);

}  // namespace pairfs::node
