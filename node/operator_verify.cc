// pairctl verify (pairctl(8)): the hashes of a range's regions here and at the peer (the peer
// hashes its own in pair_commands.cc's PeerVerify, through HashRegions), and the ranges where
// they differ.
#include <algorithm>

#include "node/limits.h"
#include "node/replicator.h"
#include "node/replicator_internal.h"

namespace pairfs::node {

using namespace replicator_internal;

Result<std::vector<uint64_t>> Replicator::HashRegions(Pair& pair, uint64_t first, uint64_t count) {
  const uint64_t region_bytes = pair.regions->region_bytes();
  const uint64_t size = pair.volume->size_bytes();
  if (first >= pair.regions->region_count() || count > kVerifyRegionsPerCall) {
    return Status::InvalidArgument("verify: regions out of range");
  }
  count = std::min(count, pair.regions->region_count() - first);
  std::vector<uint64_t> hashes;
  std::vector<char> buffer(region_bytes);
  for (uint64_t region = first; region < first + count; ++region) {
    const uint64_t offset = region * region_bytes;
    const uint64_t length = std::min(region_bytes, size - offset);
    Result<size_t> read = pair.volume->Read(offset, length, buffer.data(), false);
    if (!read.ok()) return read.status();
    hashes.push_back(wire::FastChecksum(std::string_view(buffer.data(), read.value())));
  }
  return hashes;
}

Result<std::vector<uint64_t>> Replicator::Verify(const std::string& name, uint64_t offset,
                                                 uint64_t length) {
  Result<std::shared_ptr<Pair>> found = PairFor(name);
  if (!found.ok()) return found.status();
  Pair& pair = *found.value();
  const uint64_t region_bytes = pair.regions->region_bytes();
  const uint64_t size = pair.volume->size_bytes();
  if (offset >= size) return std::vector<uint64_t>();
  length = std::min(length, size - offset);
  const uint64_t first = offset / region_bytes;
  const uint64_t count = std::min<uint64_t>(
      (offset + length + region_bytes - 1) / region_bytes - first, kVerifyRegionsPerCall);
  Result<std::vector<uint64_t>> local = HashRegions(pair, first, count);
  if (!local.ok()) return local.status();
  Result<wire::PeerAnswerMessage> answer =
      Ask(wire::PeerVerifyCommand{pair.Snapshot().peer_volume, first, count},
          wire::kDefaultControlTimeoutMs / 2);
  if (!answer.ok())
    return Status::Unreachable("site " + options_.peer_site +
                               " is unreachable: " + answer.status().message());
  if (answer->code != 0) return StatusFromCode(answer->code, answer->message);
  if (answer->hashes.size() != local->size())
    return Status::Corruption("verify: the peer sent the wrong number of hashes");
  std::vector<uint64_t> mismatches;
  for (size_t i = 0; i < local->size(); ++i) {
    if (local.value()[i] == answer->hashes[i]) continue;
    const uint64_t start = (first + i) * region_bytes;
    const uint64_t bytes = std::min(region_bytes, size - start);
    if (!mismatches.empty() && mismatches[mismatches.size() - 2] + mismatches.back() == start) {
      mismatches.back() += bytes;
    } else {
      mismatches.push_back(start);
      mismatches.push_back(bytes);
    }
  }
  return mismatches;
}

}  // namespace pairfs::node
