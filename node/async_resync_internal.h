// Internals of the async resync shared by node/async_resync.cc (resync at the primary) and
// node/async_resync_swap.cc (resync --swap after a takeover): one pair of such a resync while it
// runs, the sizes of its regions as a journal batch, and the outcomes. Not part of the node's
// interface. Pure helpers; the member is used by one command's thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "node/async_pairs.h"
#include "node/journal_format.h"
#include "node/replicator.h"
#include "node/replicator_internal.h"

namespace pairfs::node {

struct AsyncPairs::AsyncResyncMember {
  std::string name;
  std::shared_ptr<Pair> pair;
  Status status;               // Ok while the pair's resync goes on; else its outcome
  PairContext context;         // with the peer's status, for the state machine
  bool peer_writable = false;  // SSUS: its bitmap may change until it is told (copy engine)
  wire::Generation generation;
  AfterSave after;                // the copy path's kStartCopy
  std::vector<uint64_t> regions;  // marked once the peer was told
  std::vector<uint64_t> covered;  // a restart's marked regions the replay wrote whole
  bool journaled = false;         // resync --swap: its target stayed consistent (in the batch)
};

namespace async_resync_internal {

// The bytes of `regions` (sorted region numbers of `region_bytes`) within a volume of `size`.
inline uint64_t RegionBytes(const std::vector<uint64_t>& regions, uint64_t region_bytes,
                            uint64_t size) {
  uint64_t total = 0;
  for (uint64_t region : regions) {
    const uint64_t offset = region * region_bytes;
    if (offset < size) total += std::min(region_bytes, size - offset);
  }
  return total;
}

// The journal bytes of `regions` of `pair` as resync entries (data and a header each), bounded
// above (a region of zeros costs no data).
inline uint64_t BatchBytesOf(AsyncPairs::Pair& pair, const std::vector<uint64_t>& regions) {
  return RegionBytes(regions, pair.regions->region_bytes(), pair.volume->size_bytes()) +
         regions.size() * kJournalEntryHeaderBytes;
}

// Room kept free beside a resync batch: one more entry of the largest size.
inline uint64_t ResyncSlackBytes() { return JournalEntryBytes(kMaxJournalEntryDataBytes); }

// The batch bytes a resync of a group may take in a journal of `capacity_bytes` (the share of
// AsyncResyncFits, at most kMaxAsyncResyncBatchBytes).
uint64_t ResyncBatchLimitBytes(uint64_t capacity_bytes);

wire::PairOutcome OutcomeOf(const std::string& name, const Status& status, const std::string& done);

// (Templates: the member type is the replicator's own.) Each member's outcome (how its regions
// went, asyncrest); the first failure.
template <class Members>
Status OutcomesOf(const Members& members, std::vector<wire::PairOutcome>* outcomes) {
  Status first;
  for (const auto& member : members) {
    const char* done = member.journaled ? "resynced through the journal"
                                        : "copying (the secondary is inconsistent until done)";
    outcomes->push_back(OutcomeOf(member.name, member.status, member.status.ok() ? done : ""));
    if (first.ok() && !member.status.ok()) first = member.status;
  }
  return first;
}

// Every member still going fails with `why`.
template <class Members>
void FailEach(Members& members, const Status& why) {
  for (auto& member : members)
    if (member.status.ok()) member.status = why;
}

template <class Members>
bool AnyGoing(const Members& members) {
  return std::any_of(members.begin(), members.end(),
                     [](const auto& member) { return member.status.ok(); });
}

}  // namespace async_resync_internal
}  // namespace pairfs::node
