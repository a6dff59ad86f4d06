// Whole-file reads and crash-atomic replacement. Thread-safe for different paths; two writers of
// the same path must be serialized by the caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "wire/status.h"

namespace pairfs::node {

// Writes all `length` bytes at `offset`, retrying short writes and EINTR. IoError naming `path`
// (with errno: ENOSPC when the disk is full) otherwise.
Status WriteFully(int fd, const char* data, size_t length, uint64_t offset,
                  const std::string& path);

// Reads up to `length` bytes at `offset`, retrying short reads and EINTR; fewer only at the end
// of the file. IoError naming `path`.
Result<size_t> ReadFully(int fd, char* out, size_t length, uint64_t offset,
                         const std::string& path);

// Replaces `path` with `bytes` so that a crash at any instant leaves the old file or the new one:
// write `path`.tmp, fsync it, rename over `path`, fsync the directory. IoError (with errno) on any
// failed step; the old file is then untouched.
Status ReplaceFileAtomically(const std::string& path, const std::string& bytes);

// Reads all of `path`. NotFound if absent; Corruption if larger than `max_bytes`; IoError else.
Result<std::string> ReadWholeFile(const std::string& path, size_t max_bytes);

// fsyncs the directory `path` (after creating, renaming or removing an entry in it).
Status SyncDirectory(const std::string& path);

}  // namespace pairfs::node
