// Whole-file reads and crash-atomic replacement. Thread-safe for different paths; two writers of
// the same path must be serialized by the caller.
#pragma once

#include <cstddef>
#include <string>

#include "wire/status.h"

namespace pairfs::node {

// Replaces `path` with `bytes` so that a crash at any instant leaves the old file or the new one:
// write `path`.tmp, fsync it, rename over `path`, fsync the directory. IoError (with errno) on any
// failed step; the old file is then untouched.
Status ReplaceFileAtomically(const std::string& path, const std::string& bytes);

// Reads all of `path`. NotFound if absent; Corruption if larger than `max_bytes`; IoError else.
Result<std::string> ReadWholeFile(const std::string& path, size_t max_bytes);

// fsyncs the directory `path` (after creating, renaming or removing an entry in it).
Status SyncDirectory(const std::string& path);

}  // namespace pairfs::node
