// The header of pairfs's small durable files (volume metadata, witness records; node/FORMAT.md):
// magic (u32), format version (u16), body length (u32), xxHash64 of the body (u64), at offsets
// 0, 4, 8 and 16, zero-padded to the file kind's header size; the body follows. Pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "wire/status.h"

namespace pairfs::node {

struct SealedFileKind {
  uint32_t magic;
  uint16_t version;
  size_t header_bytes;  // at least 24
};

// The file's bytes: the header, then `body`.
std::string SealFile(const SealedFileKind& kind, std::string_view body);

// The body of `bytes` (a view into it), or Corruption naming the first check that failed:
// "shorter than its header", "bad magic", "version N is not supported", "length mismatch" or
// "checksum mismatch".
Result<std::string_view> UnsealFile(const SealedFileKind& kind, std::string_view bytes);

}  // namespace pairfs::node
