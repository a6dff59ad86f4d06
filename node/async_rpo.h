// What a takeover of an async group without its old primary may have lost (the RPO; doc/design.md
// "Async pairs": "clusterd logs how much"). The secondary keeps the last RPO fields the primary
// sent with a journal batch (wire/journal_messages.h: its latest appended sequence, the bytes and
// span of what it had not shipped); at the takeover they are compared with what was received.
// Pure, no clock (the caller passes the time); thread-safe (stateless).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pairfs::node {

// The last RPO fields heard from the primary of one group (a restore journal's site).
struct RpoHeard {
  bool heard = false;              // a batch or probe arrived since this site started
  uint64_t through = 0;            // the last entry of that batch (a probe: first_sequence - 1)
  uint64_t appended_sequence = 0;  // the primary's latest appended sequence then
  uint64_t unsent_bytes = 0;       // data bytes after `through`, through appended_sequence
  uint64_t unsent_span_ms = 0;     // from the oldest of them to the latest append
  int64_t heard_unix_ms = 0;       // when it arrived (this site's clock)
  // The data bytes of that batch's own entries, from first_sequence on (first_sequence + i is
  // entry i). The batch may be received and never made durable (it came before an earlier batch
  // that never arrived: a window of batches is in flight); its entries after what is durable are
  // lost too and their sizes are known here, not from unsent_bytes.
  uint64_t first_sequence = 0;
  std::vector<uint64_t> entry_bytes;
};

// Whether `candidate` was sent after `kept` by the same primary (a later append, or the same one
// and a later batch): the newer RPO fields are kept. Anything is newer than nothing heard.
bool RpoHeardIsNewer(const RpoHeard& candidate, const RpoHeard& kept);

struct RpoEstimate {
  bool known = false;  // something was heard from the primary since this site started
  uint64_t lost_writes = 0;
  uint64_t lost_bytes = 0;
  uint64_t span_ms = 0;      // the lost writes were made in this many ms before the link went
  bool lower_bound = false;  // the primary may have acknowledged writes never heard of
  int64_t heard_ago_ms = 0;  // how long before the takeover it was last heard
};

// `received`: the last sequence the restore journal holds (durable); `old_primary_answered`:
// the takeover is a planned swap (everything is pulled, nothing lost); `now_unix_ms`: this
// site's clock at the takeover.
RpoEstimate EstimateRpo(const RpoHeard& heard, uint64_t received, bool old_primary_answered,
                        int64_t now_unix_ms);

// The log line, e.g. "group app: lost at most 12 writes / 48 KiB written in the last 230 ms
// before the link to site a was lost (a lower bound: ...)".
std::string DescribeRpo(const std::string& group, const std::string& peer_site,
                        const RpoEstimate& estimate);

}  // namespace pairfs::node
