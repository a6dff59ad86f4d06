// Internals shared by the replicator's files (node/README.md lists them): the helpers they all
// use, and the headers of the pair runtime (pair_runtime.h: Pair, Gate, the lock order), the
// activity log (activity_log.h), the async pairs' side (async_pairs.h: Replicator::async_) and
// the request plumbing (peer_calls.h). Not part of the node's interface.
#pragma once

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "node/activity_log.h"
#include "node/async_pairs.h"
#include "node/pair_runtime.h"
#include "node/pair_state.h"
#include "node/peer_calls.h"
#include "node/replicator.h"

namespace pairfs::node::replicator_internal {

using Clock = std::chrono::steady_clock;

inline std::chrono::milliseconds Ms(int ms) { return std::chrono::milliseconds(ms); }

inline Status StatusFromCode(uint8_t code, const std::string& message) {
  if (code == 0) return Status::Ok();
  if (code > static_cast<uint8_t>(Code::kUnsupported))
    return Status::Corruption("unknown result code from the peer");
  return Status(static_cast<Code>(code),
                message.empty() ? CodeName(static_cast<Code>(code)) : message);
}

// The result code a site sends for a failed write of its copy: NoSpace when its disk is full
// (the writer then gets ENOSPC), the status's own code otherwise (IoError: EIO).
inline Code DiskFaultCode(const Status& status) {
  return status.code() == Code::kIoError && status.error_number() == ENOSPC ? Code::kNoSpace
                                                                            : status.code();
}

// A write refused because the peer's copy could not be written (not by role, status or
// reservation).
inline bool IsDiskFault(uint8_t code) {
  return code == static_cast<uint8_t>(Code::kIoError) ||
         code == static_cast<uint8_t>(Code::kNoSpace);
}

// What the writer gets when the peer's copy could not be written (pairfs(8) ERRORS): ENOSPC for
// a full disk, EIO for any other failure.
inline Status PeerDiskFault(uint8_t code, const std::string& volume, const std::string& peer_site) {
  const bool full = code == static_cast<uint8_t>(Code::kNoSpace);
  return Status::IoError("volume " + volume + ": the write failed at site " + peer_site + " (" +
                             (full ? "disk full" : "I/O error") + ")",
                         full ? ENOSPC : EIO);
}

// Bits [first, first + count) of a dirty bitmap whose marked regions are `regions` (ascending),
// one bit per region, low bit first: what a kPeerBitmap answer carries.
inline std::vector<char> PackBitsChunk(const std::vector<uint64_t>& regions, uint64_t first,
                                       uint64_t count) {
  std::vector<char> bits((count + 7) / 8, 0);
  for (auto it = std::lower_bound(regions.begin(), regions.end(), first);
       it != regions.end() && *it < first + count; ++it) {
    const uint64_t bit = *it - first;
    bits[bit / 8] = static_cast<char>(bits[bit / 8] | (1 << (bit % 8)));
  }
  return bits;
}

// The regions a chunk's bits mark, numbered from `first`; bits beyond `count` are ignored.
inline std::vector<uint64_t> UnpackBitsChunk(const std::vector<char>& bits, uint64_t first,
                                             uint64_t count) {
  std::vector<uint64_t> regions;
  for (uint64_t bit = 0; bit < count && bit / 8 < bits.size(); ++bit) {
    if (bits[bit / 8] & (1 << (bit % 8))) regions.push_back(first + bit);
  }
  return regions;
}

}  // namespace pairfs::node::replicator_internal
