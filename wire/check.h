// PAIRFS_CHECK: an always-on check of an invariant that only a bug in pairfs can break (a range
// granted twice, a sequence that goes back, a checksum that fails after the write that made it).
// Never for input: what a peer, a client, a config file or a disk can make false is a Status
// that is refused and logged. A failed check logs the expression and its place at critical level
// and aborts, in every build (NDEBUG does not turn it off): carrying on would risk the data.
// Thread-safe. Named PAIRFS_CHECK because Catch2's CHECK is in every test file.
#pragma once

namespace pairfs::wire {

// Logs "check failed at FILE:LINE: EXPRESSION (WHY)" and aborts. Never returns.
[[noreturn]] void CheckFailed(const char* file, int line, const char* expression, const char* why);

}  // namespace pairfs::wire

#define PAIRFS_CHECK(condition, why)                                                    \
  do {                                                                                  \
    if (!(condition)) ::pairfs::wire::CheckFailed(__FILE__, __LINE__, #condition, why); \
  } while (false)
