// Names and sizes as users type them. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "wire/status.h"

namespace pairfs::node {

// Ok if `name` is a volume name ([A-Za-z0-9._-]{1,64}, not "." or ".."); else InvalidArgument
// saying which rule it breaks.
Status CheckVolumeName(std::string_view name);

// Ok if `name` is a site name ([A-Za-z0-9._-]{1,31}); else InvalidArgument.
Status CheckSiteName(std::string_view name);

// Parses "4096", "20G", "64K": an integer, with an optional K, M, G or T suffix
// (powers of 1024, case-insensitive, an optional trailing "iB"/"B"). InvalidArgument for anything
// else, for zero, or on overflow.
Result<uint64_t> ParseSize(std::string_view text);

// Ok if `size_bytes` can be a volume's size: not zero, a multiple of 4 KiB, at most 256 TiB;
// else InvalidArgument naming the rule, with the size as the user wrote it (`as_written`).
Status CheckVolumeSize(uint64_t size_bytes, std::string_view as_written);

// Parses a volume size: ParseSize, then CheckVolumeSize.
Result<uint64_t> ParseVolumeSize(std::string_view text);

// "20 GiB", "512 KiB", "4096 B": the largest unit that divides exactly, else one decimal.
std::string FormatSize(uint64_t bytes);

}  // namespace pairfs::node
