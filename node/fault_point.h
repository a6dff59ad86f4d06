// Named crash points for tests (FoundationDB's "buggify", reduced to kill -9): a test starts
// pairfs with PAIRFS_FAULT=NAME and the daemon kills itself with SIGKILL when it reaches the
// point of that name, between two steps of a multi-step change, so that the test can check
// that a restart finds the old or the new state (doc/design.md "Faults of the local disk").
//
// Test-only: never set PAIRFS_FAULT in production. When it is unset, a fault point costs one
// load of a cached pointer. Thread-safe.
#pragma once

namespace pairfs::node {

// Kills this process with SIGKILL (no clean-up, as kill -9 would) if PAIRFS_FAULT equals `name`;
// otherwise returns at once. The names in use are listed in pairfs(8), ENVIRONMENT.
void FaultPoint(const char* name);

}  // namespace pairfs::node
