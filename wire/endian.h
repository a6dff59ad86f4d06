// Little-endian integers in byte strings: how every pairfs header (wire frames, metadata files)
// stores its fields, independent of the host's byte order. Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pairfs::wire {

// Stores `value` at `out[at .. at+sizeof(T))`; the caller has sized `out`.
template <class T>
void PutLittleEndian(std::string& out, size_t at, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) out[at + i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

// Reads a T from `in[at .. at+sizeof(T))`; the caller has checked the length.
template <class T>
T GetLittleEndian(std::string_view in, size_t at) {
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i)
    value |= static_cast<T>(static_cast<uint8_t>(in[at + i])) << (8 * i);
  return value;
}

}  // namespace pairfs::wire
