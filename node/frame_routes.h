// Where a frame from the peer is handled (Replicator::OnFrame, on the peer link's thread): handed
// to the call that waits for it, served on the link thread at once, or queued for a peer worker.
// A pure function of the frame (its type and body), with no I/O, lock or clock; its table test is
// tests/unit/node/frame_routes_test.cc. Thread-safe (no state).
#pragma once

#include <cstdint>

#include "wire/envelope.h"

namespace pairfs::node {

enum class FrameRoute : uint8_t {
  kAnswer,   // an answer to a call of this site (a grant, an ack, a reply): to its waiter
  kConfirm,  // a secondary's confirmation of a write this site granted: to the grant's waiter
  kInline,   // served on the link thread at once (Replicator::Serve)
  kWorker,   // queued for a peer worker (a command, a forwarded write, a long replica write)
  kRefuse,   // not a site-to-site type: counted as a refusal and dropped
};

// The route of `frame`:
// - A replica write of at most kInlineReplicaWriteBytes is served inline: a hand-off to a worker
//   costs more than the write (a page-cache copy), and it is on every write's round trip.
//   Concurrent replica writes never overlap (the primary holds their ranges until the answers),
//   so serving some inline and some on workers keeps their order.
// - A flush ahead (wire/protocol.md FlushMessage.through_sequence set; node/flush_path.cc) too:
//   it follows a lone small write, served inline just before, and its fdatasync is on the
//   application's fsync's critical path. Frames behind it wait for the fdatasync, as they wait
//   for an inline write's: one is sent only while its write is alone in flight, for an
//   application that fsyncs after each write, whose next write waits for this fsync anyway.
// - A plain flush (writes overlapping), a forwarded write, a journal batch and every command go
//   to a worker: they may wait (for a range, a disk, the witness), which the link thread never
//   does. A flush whose body does not decode goes there too, to be refused with an answer.
FrameRoute RouteOf(const wire::Frame& frame);

}  // namespace pairfs::node
