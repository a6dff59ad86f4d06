// The vote rule of the determining volume's reservation record (doc/design.md "clusterd and the
// determining volume"): every copy of the record (each site's node and the witness) answers a
// ReserveVoteRequest with Vote(), so a majority reserve over three copies has at most one winner.
// Pure: no I/O, no clock; thread-safe.
#pragma once

#include <string>

#include "wire/messages.h"

namespace pairfs::node {

// What one copy of the record answers. `record` is the copy after the vote: the caller persists
// it when it differs from the one it passed in (a refusal returns the record unchanged).
// `reason` is one line for users: why a vote was refused, or what a grant did.
struct VoteOutcome {
  bool granted = false;
  wire::ReservationRecord record;
  std::string reason;
  bool late = false;  // refused as a late release (below): the caller counts these
};

// Applies `request` to `record`.
//
// Reserve (release = false), refused when the request has no holder or asks the holder to mark
// itself outdated. The holder asking again is granted with the epoch unchanged (and its
// `outdated` mark, if any, recorded). Otherwise, without force, it is refused while another site
// holds the record ("reserved by X") or when the asker is the site marked outdated ("site Y is
// outdated ...", after "reserved by X; " when both hold); else it is
// granted: epoch + 1, the asker holds the record, and `outdated` becomes the request's mark, or
// stays as it was unless it named the asker (a forced win clears the winner's own mark).
// A grant records the request's number (`hold`) as the record's: the holder asking again keeps
// the larger of the two (a late reserve of its own never lowers it).
//
// Release (release = true): refused as late (`late`, "a late release ...") when the asker holds
// the record and the release's number is below the record's: it was sent before the reserve
// that made this hold (a delayed frame), and must not end it; a release or record without a
// number (0: an older version's) is never late. Else granted when nobody holds the record, the
// asker holds it, or with force: holder, outdated and number are cleared (both sites are healthy
// and in PAIR by then), and the epoch is bumped when a holder was removed. Else refused
// ("reserved by X").
VoteOutcome Vote(const wire::ReservationRecord& record, const wire::ReserveVoteRequest& request);

}  // namespace pairfs::node
