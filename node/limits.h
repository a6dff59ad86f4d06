// Limits of the node: every queue, size and wait has a named constant and the reason for it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "wire/limits.h"

namespace pairfs::node {

// Sizes that travel in messages are the wire's own constants (wire/limits.h says why each is what
// it is), so a message that passes the wire's checks always fits the node.

// Volume sizes and offsets are multiples of this: the block size of every client we serve
// (loop devices, O_DIRECT, qemu) and of the dirty-bitmap regions.
inline constexpr uint64_t kVolumeAlignBytes = wire::kVolumeAlignBytes;

// The largest volume: 256 TiB. Its 64 KiB-region dirty bitmap is 512 MiB, the most a node should
// hold for one volume; off_t goes far beyond.
inline constexpr uint64_t kMaxVolumeBytes = wire::kMaxVolumeBytes;

// Volume names are [A-Za-z0-9._-]{1,64}.
inline constexpr size_t kMaxVolumeNameBytes = wire::kMaxVolumeNameBytes;

// One site's volumes. Bounds the display reply (wire::kMaxBodyElements) and the store's scan.
inline constexpr size_t kMaxVolumes = 4096;

// A metadata file is a few hundred bytes; anything larger is not ours.
inline constexpr size_t kMaxMetadataBytes = 64 * 1024;

// How often the control thread checks for shutdown while idle.
inline constexpr int kControlPollMs = 100;

// Dirty-bitmap region sizes allowed for new pairs (config region_size).
inline constexpr uint64_t kMinRegionBytes = wire::kMinRegionBytes;
inline constexpr uint64_t kMaxRegionBytes = wire::kMaxRegionBytes;

// clusterd's own control endpoint (pairctl cluster status/unfence): ipc://DATA_DIR/ followed by
// this name, so pairctl finds it from the same config without a key of its own.
inline constexpr const char* kClusterdSocketName = "clusterd.sock";

// peer_timeout_ms bounds: below 100 ms a busy disk looks like a dead link; above 10 min a VM's
// own I/O timeouts have long fired.
inline constexpr int64_t kMinPeerTimeoutMs = 100;
inline constexpr int64_t kMaxPeerTimeoutMs = 600000;

// ---- replication (node/replicator.h) ----

// Answers to the peer's requests kept for retransmits: far more than can be in flight within one
// peer_timeout_ms (the window bounds that), so a retransmit always finds its answer. Bounded in
// bytes too: most answers are acks of a few dozen bytes, but a bitmap chunk is 256 KiB, and a peer
// asking for many must not make this cache grow to gigabytes (the oldest answers go first).
inline constexpr size_t kAnsweredRequestsKept = 65536;
inline constexpr size_t kAnsweredBytesKept = 32ull << 20;

// Requests from the peer waiting for a worker; beyond either bound they are dropped (and the peer
// retransmits). In bytes: twice the default window (ReplicatorOptions::window_bytes, 64 MiB), which
// bounds the write data a well-behaved peer has in flight, so only a misbehaving peer meets it; in
// count: many small requests cost their frames' overhead too.
inline constexpr size_t kPeerWorkQueued = 16384;
inline constexpr size_t kPeerWorkQueuedBytes = 128ull << 20;

// A replicated write longer than this goes to the peer as parts of this size, sent at once
// (node/write_path.cc SendReplicaParts): the peer writes one part while the next is on its way.
// Every part costs both sites a message, a wake-up of each thread it passes and an answer: at
// 128 KiB (8 parts per 1 MiB write) that was 10 to 20 % of each site's CPU per replicated GB,
// plain or CURVE (speed, issue 11: scripts/bench_cpu.sh, ~40 % fewer context switches at the
// secondary with 512 KiB); two parts per 1 MiB write keep the overlap.
inline constexpr size_t kReplicaPartBytes = 512 * 1024;

// Replica writes whose message is at most this long are served on the peer link's thread, not
// handed to a worker (node/frame_routes.h RouteOf): their disk time is a page-cache copy, and the
// link thread writing one part while ZeroMQ's I/O thread receives (decrypts) the next is the
// overlap the parts are for.
inline constexpr size_t kInlineReplicaWriteBytes = kReplicaPartBytes + 4096;
// The longest replica write a secondary writes with O_DIRECT when the application fsyncs after
// each write (Pair::flushes_follow_writes): a database's log page or a VM's small sync write.
// Its flush then finds nothing to write back (a 4 KiB write + fsync at qd1: +15 % IOPS); a longer
// write's page-cache copy overlaps the disk instead.
inline constexpr size_t kDirectReplicaWriteBytes = 64 * 1024;
static_assert(kReplicaPartBytes <= wire::kMaxDataBytes, "a part is one replica write");

// The copy engine reads and sends up to 1 MiB of contiguous marked regions per message (one
// message carries at most wire::kMaxDataBytes) and keeps 8 of them in flight.
inline constexpr uint64_t kCopyChunkBytes = 1 << 20;
inline constexpr size_t kCopyChunksInFlight = 8;

// A replicated write marks the activity log in extents of this many bytes (whole regions; the
// region itself when regions are larger), not region by region: random writes over a working set
// keep touching the same few hundred extents, which stay marked between trims, so steady writes
// pay no metadata flush (DRBD's activity log uses 4 MiB extents for the same reason). A crash in
// PAIR then copies whole hot extents; writes while suspended still mark single regions, so a
// resync copies what changed, region by region.
inline constexpr uint64_t kActivityExtentBytes = 4 << 20;

// Sync pair speed (issue 14): a replicated write at least this long that reaches an unmarked
// activity extent marks extents ahead with it (node/activity_log.cc MarkAheadBytes): as many bytes
// as the stream already has marked right behind it, at least kMarkAheadBytes and at most
// kMarkAheadMaxBytes, so a sequential stream of 1 MiB writes pays one metadata flush (and the
// device flush it waits for, behind the stream's own writeback) per 16, 32, 64, ... 256 MiB,
// not one per 4 MiB extent: ~8 per GiB instead of 64. Random small writes (below the bound) mark
// as before, and a long write with nothing marked behind it marks kMarkAheadBytes; a crash in
// PAIR copies at most these extra extents, and the trim clears them once both copies flushed.
inline constexpr uint64_t kMarkAheadMinWriteBytes = 256 << 10;
inline constexpr uint64_t kMarkAheadBytes = 4 * kActivityExtentBytes;
inline constexpr uint64_t kMarkAheadMaxBytes = 64 * kActivityExtentBytes;

// A vote or mirror of a reservation waits this long for the peer (and the witness): a failover
// asks while the other site may be dead, and must not wait a whole peer_timeout_ms for it.
inline constexpr int kReserveVoteTimeoutMs = 500;

// clusterd's failover asks the peer's node (a preempting reserve forwarded to the primary, the
// takeover's status probe) this long: on a live link the answer takes milliseconds, and when the
// whole other site is gone every wait adds to the failover time.
inline constexpr int kFailoverProbeMs = 250;

// verify hashes at most this many regions per request (8 bytes each in the answer).
inline constexpr uint64_t kVerifyRegionsPerCall = wire::kMaxVerifyRegionsPerCall;

// A metadata file holds a volume's names, group, holder and numbers: all of them at their limits
// stay far under what a node reads back (a longer group once made a volume vanish on restart).
static_assert(wire::kMaxGroupNameBytes + wire::kMaxHolderBytes + 2 * wire::kMaxVolumeNameBytes +
                  4 * wire::kMaxSiteNameBytes + 1024 <
              kMaxMetadataBytes);

// ---- async journals (node/journal.h, format in node/FORMAT.md "Journal file") ----

// The most data one journal entry carries: one write from the kernel, which wire::kMaxDataBytes
// already bounds (a larger write never reaches the journal whole).
inline constexpr size_t kMaxJournalEntryDataBytes = wire::kMaxDataBytes;

// The smallest journal file Journal accepts: its two header pages and a few small entries. Unit
// tests and the simulation run rings this small so that they wrap often; `[journal] size` has a
// larger minimum (below).
inline constexpr uint64_t kMinJournalBytes = 64 * 1024;

// The smallest `[journal] size` a config may ask for: 16 of the largest entries, so that a burst
// of 1 MiB writes is not suspended at once, and an empty journal always takes the largest entry
// wherever its tail is (journal_format.h asserts it).
inline constexpr uint64_t kMinConfiguredJournalBytes = 16ull << 20;

// The largest journal file: the in-memory index costs 32 bytes per entry, and a 64 GiB ring of
// 4 KiB entries (16 M entries) already needs 512 MiB of it; a lag beyond 64 GiB is better served
// by suspending and resyncing from the dirty bitmap.
inline constexpr uint64_t kMaxJournalBytes = 64ull << 30;

// Recovery reads the ring in chunks of this size (not entry by entry): a 1 GiB journal of 4 KiB
// entries is 256 reads, not half a million.
inline constexpr size_t kJournalScanChunkBytes = 4 << 20;

// A new journal file is filled with zeros in writes of this size, so that later appends overwrite
// allocated blocks and fdatasync never waits for block allocation.
inline constexpr size_t kJournalFillChunkBytes = 1 << 20;

// Only the first this-many bytes of a new journal are filled with zeros; the rest is reserved
// with fallocate (space taken at once: a full disk fails the create, not a later append) and
// its first append per block pays the file system's extent conversion once. Filling a 1 GiB
// journal whole took 6-7 s per site on a busy disk, inside the create command, past the ask's
// deadline (the pair was never created); 64 MiB is well under a second and covers the first
// seconds of writes.
inline constexpr uint64_t kJournalPrefillBytes = 64ull << 20;

// Issue 13 speed: the rest of the first lap is filled in the background.
// A master group's fill thread (AsyncGroup) writes zeros ahead of the journal's tail in chunks
// of kJournalFillAheadChunkBytes, each under the journal's lock (an append waits at most one
// chunk's write), kJournalFillAheadStepBytes per step and then a pause of
// kJournalFillAheadPauseMs: at most ~100 MB/s, so the fill never takes the disk from the writes
// it is there to speed up; a 1 GiB journal is filled in about 10 s of idle writers.
inline constexpr size_t kJournalFillAheadChunkBytes = 128 << 10;
inline constexpr uint64_t kJournalFillAheadStepBytes = 1 << 20;
inline constexpr int kJournalFillAheadPauseMs = 10;
// While the writers append (the tail moved since the fill's previous step), the fill writes only
// to stay this far ahead of the tail (Journal::FillAhead's lead_while_appending); the rest of the
// first lap waits for them to idle. A 4 KiB write+fsync at a new async pair ran ~10 % slower
// while the whole lap was filled at once (zeros and an fdatasync per MiB beside its own syncs).
inline constexpr uint64_t kJournalFillLeadBytes = 32ull << 20;
static_assert(kJournalFillLeadBytes < kJournalPrefillBytes,
              "the fill starts stepping before busy writers pass the prefilled part");

// A restore journal writes the entries of a received batch that follow each other in its ring
// in writes of up to this many bytes (Journal::AppendReceivedRun): a batch of 4 KiB writes is
// one pwrite, not one each. Not more than one entry's largest write, so that the writing thread's
// buffer (node/journal.cc WriteRun) grows no larger than it does for one entry.
inline constexpr size_t kJournalReceiveRunBytes = 1 << 20;

// Group commit starts a new journal sync for entries no running sync covers while up to this
// many run (node/journal.cc WaitDurable): the kernel and the disk merge overlapping flushes, so
// a writer need not wait for the running sync to end before its own starts (which would double
// its fsync latency); the bound keeps 64 FUSE threads from each flushing at once. Measured with
// build/tools/journal_bench: 4 and 16 threads of 4 KiB write+fsync were 0.8-1.0x unpaired with
// overlapping syncs, 0.65-0.8x with one sync at a time (a noisy shared VM).
inline constexpr int kJournalSyncsInFlight = 8;

// ---- commands carried to the peer's node (pairctl --site; node/control_carry.cc) ----
// Carries run on their own threads, so that a far site that does not answer (for up to
// wire::kCarryTimeoutMs) never holds up the control endpoint that this site's clusterd fences and
// takes over through. Two at once serve an operator and a script; more wait in a short queue,
// and beyond it a carry is refused (Busy) rather than queued without bound.
inline constexpr int kCarrierThreads = 2;
inline constexpr size_t kCarriesQueued = 8;
// While a carry is in flight the control thread polls this often, so that a finished carry's
// answer leaves within this much of being ready (kControlPollMs when idle).
inline constexpr int kCarryAnswerPollMs = 10;

static_assert(kMinJournalBytes <= kMinConfiguredJournalBytes);
static_assert(kMinConfiguredJournalBytes <= kMaxJournalBytes);

// ---- async pairs at run time (node/async_group.h; issue 13) ----

// The master fdatasyncs the group's images (a checkpoint) at most this often, or sooner when the
// journal is over half full: the checkpoint is what lets it free journal space, and a restart
// replays at most this much of the journal.
inline constexpr int kAsyncCheckpointIntervalMs = 1000;

// The transfer and restore threads look for new entries at least this often when nothing woke
// them (a missed wake-up costs this much lag, no more), and the transfer probes the peer's
// applied sequence this often while it lags.
inline constexpr int kAsyncIdleWaitMs = 50;

// After a failed send the transfer waits this long before it tries again (the send itself
// already waited peer_timeout_ms with retransmits).
inline constexpr int kAsyncRetryMs = 200;

// An async create waits this long for the peer's answer (not peer_timeout_ms): the peer writes
// its whole restore journal ([journal] size, 1 GiB by default) before it answers. Below pairctl's
// wire::kDefaultControlTimeoutMs, which the primary's own journal and this wait share.
inline constexpr int kAsyncCreateAskMs = 8000;

// ---- asyncspeed (issue 13 targets): the transfer window ----
// The master keeps up to this many journal batches on the way to the peer at once (one sending
// thread each, node/async_transfer.cc): one batch per round trip drains only ~1 MiB per RTT
// (~24 MB/s over a 20 ms WAN round trip), below the 50 MB/s the lag target asks for. Each waits
// on one of the peer's Replicator workers (8 by default) while it is stored: half of them at most.
inline constexpr int kAsyncBatchesInFlight = 4;
// ... and at most this many data bytes in those batches together: bounds the memory the window
// holds (its batches and their encodings) and what a refused gap or lost batch sends again.
inline constexpr size_t kAsyncWindowBytes = 4 << 20;
// The restore side holds a batch that arrives before the one ahead of it (the peer's workers
// serve a window's batches in parallel, not always in order) up to this long for that one to be
// stored, instead of refusing it as a gap at once (which costs a resend of the window).
// Long enough for the batch ahead to be stored and synced on a busy disk, below peer_timeout_ms.
inline constexpr int kAsyncReorderWaitMs = 500;
// Finding F1's protection of a journaled write (node/async_replicator.cc WriteJournaled): a write
// of at least kAsyncMarkMinBytes (one default region) marks its activity extents durably before
// its image write (one bitmap write per 4 MiB of a sequential stream) while the pair's marked
// bytes stay within 1/kAsyncMarkedJournalShare of the journal's ring, so that a restart's
// re-journal of the marked regions (at most half the ring, AsyncResyncFits) always fits; any
// other write waits for its entry to be durable before its image write (a journal sync, which
// the fsync that usually follows then finds done).
inline constexpr uint64_t kAsyncMarkMinBytes = 64 << 10;
inline constexpr uint64_t kAsyncMarkedJournalShare = 4;
// ---- end asyncspeed ----

// The restore thread reads at most this much data per pass before it syncs and marks applied.
inline constexpr size_t kAsyncRestoreReadBytes = 8 << 20;
// Journal::Read reads entries that lie side by side in the ring in one read of at most this many
// bytes (a longer entry in a read of its own) and decodes each read before the next, so that the
// raw bytes held beside a pass's decoded entries are one read's, not the whole pass's.
inline constexpr size_t kJournalReadRunBytes = 1 << 20;
static_assert(kJournalReadRunBytes <= kAsyncRestoreReadBytes, "a pass reads whole runs");

// A trickle of small writes is moved on in steps, not one fdatasync at the secondary per write
// (node/async_transfer.cc PaceSmallBatch, node/async_restore.cc RunRestore): the master sends a
// batch of less than kAsyncSmallPassBytes at most every kAsyncSmallPassMs, and the restore
// thread pauses that long after a pass that applied less. Adds at most twice that to lag_ms.
inline constexpr size_t kAsyncSmallPassBytes = 256 << 10;
inline constexpr int kAsyncSmallPassMs = 10;
// The restore thread writes an entry of at least this many bytes to the volume with O_DIRECT
// (where offset and length are 4 KiB-aligned; node/async_restore.cc ApplyEntries).
inline constexpr uint64_t kAsyncDirectApplyBytes = 128 << 10;
// The nice value of an async group's threads (transfer, restore, fill): below the mount's writers
// (AsyncGroup::YieldToWriters).
inline constexpr int kAsyncThreadNice = 10;

// A journal keeps the entries it wrote last in memory, up to this many bytes, for the reader
// that reads them back soon after (node/recent_entries.h: a master's transfer, a restore
// journal's restore): a version 2 journal's entries bypass the page cache, so each read-back was
// a disk read. Entries with more data than kJournalRecentEntryBytes are read from the disk (one
// large read). Per journal, so per group at each site: part of the node's memory.
inline constexpr size_t kJournalRecentBytes = 4 << 20;
inline constexpr size_t kJournalRecentEntryBytes = 64 << 10;
// Each held entry counts this much besides its data and volume name (the entry and its map node),
// so that a run of discards, which carry no data, is bounded too.
inline constexpr size_t kRecentEntryOverheadBytes = 128;
static_assert(kJournalRecentEntryBytes <= kJournalRecentBytes, "a held entry fits the bound");

// Over the high-water mark (PFUL) each journaled write is delayed by this much: the writers slow
// to the rate the transfer drains, never fail (doc/design.md "Async pairs").
inline constexpr int kAsyncPaceMs = 2;

// ---- asyncswap (issue 13 part 5): the four-role swap of async pairs ----
// How long the old primary of a planned swap waits for the secondary to hold every entry of its
// master journal (it was demoted first: no new entry comes). Long enough for a backlog of a
// 16 MiB journal over a slow link; a swap that takes longer fails and is retried (every step is
// idempotent), never half-done.
inline constexpr int kAsyncSwapDrainMs = 20000;
// The new primary waits for the demote-and-drain answer this many peer_timeout_ms at a time, and
// asks again (a repeated demote is idempotent) as long as the old primary's entries keep
// arriving meanwhile: a long drain goes on, a dead old primary fails the takeover in seconds.
inline constexpr int kAsyncSwapAskTimeouts = 2;
// How long a takeover waits for the restore thread to apply what the journal received.
inline constexpr int kAsyncSwapRestoreMs = 20000;
// How often those waits look (a control command, not a data path).
inline constexpr int kAsyncSwapPollMs = 10;
// The sequence both journals start from after a swap: the new master and the new restore
// journal are reset together to it (their old entries are applied, or marked dirty).
inline constexpr uint64_t kAsyncSwapFirstSequence = 1;
// ---- end asyncswap ----

// ---- async resync (issue 13 part 4; node/async_resync.cc) ----

// A resync's regions go through the journal as one batch (the secondary stays consistent) when
// they take at most 1/kAsyncResyncJournalShare of the master journal's ring: the restore journal
// (the same `[journal] size` at both sites) must hold the whole batch before it applies any of
// it, and half leaves room for the writes that go on meanwhile. Larger resyncs use the copy
// engine, the secondary marked inconsistent until it is done.
inline constexpr uint64_t kAsyncResyncJournalShare = 2;

// The batch is read into memory whole before it is appended (under the pairs' closed gates):
// at most this much, whatever the journal's size.
inline constexpr uint64_t kMaxAsyncResyncBatchBytes = 64ull << 20;

// Before its regions are copied the resync waits this long for the secondary to apply what the
// journal already holds (the copy must land after those entries, not under them): below
// pairctl's wire::kDefaultControlTimeoutMs, so a drain that cannot finish is refused with a
// reason rather than timed out.
inline constexpr int kAsyncResyncDrainMs = 6000;

// After a restart the master remembers which byte ranges its replay wrote (a marked region they
// cover whole needs no re-journaling, finding F1), merged, at most this many ranges (~48 bytes
// each): a 1 GiB journal of scattered 4 KiB writes would need 256 K; beyond, the rest of the
// marked regions are journaled again (more shipping, never less safety).
inline constexpr size_t kMaxReplayCoverRanges = 1 << 20;

// ---- asyncrest (issue 13: the unplanned takeover's time) ----
// An operator's takeover of an async group asks the old primary's status this long (at most
// peer_timeout_ms) before it takes over without it (SSWS); kFailoverProbeMs when nothing was
// heard from it for peer_timeout_ms already. A live peer answers in milliseconds and sends
// every pair's status each status_interval_ms (500 ms by default): when the ask times out but
// a frame arrived meanwhile, the peer lives and is asked again for the whole peer_timeout_ms, so
// a slow live peer still gets the planned, lossless swap; the probe is never shorter than two
// status intervals for that reason. Target: writable <= 2 s after the command (issue 13).
inline constexpr int kTakeoverProbeMs = 1000;

// ---- metrics (issue 15 part 2: the /metrics HTTP endpoint, node/metrics_server.h) ----
// Threads serving scrapes: Prometheus scrapes every 15 s or so, one connection at a time; two
// let a second scraper (or curl) in while one is slow. No more: a scrape is never on the write
// path and must not compete with it for the CPU.
inline constexpr size_t kMetricsThreads = 2;
// Accepted connections waiting for a thread; beyond it the accept loop waits, and further
// clients wait in the kernel's listen backlog (the server holds no more sockets than this).
inline constexpr size_t kMetricsQueuedConnections = 8;
// A client that sends nothing (or too slowly) for this long loses its connection, so an idle or
// slowloris client holds a thread at most this long per read; a scrape sends its request at once.
inline constexpr int kMetricsReadTimeoutSeconds = 5;
// A client that does not read its answer for this long loses its connection.
inline constexpr int kMetricsWriteTimeoutSeconds = 5;
// Requests per kept-alive connection, and how long an idle kept-alive connection is held: a
// scraper reconnects cheaply, a thread is not held by one that does not come back.
inline constexpr size_t kMetricsKeepAliveRequests = 4;
inline constexpr int kMetricsKeepAliveSeconds = 2;
// A scrape is a GET without a body; anything larger is refused unread.
inline constexpr size_t kMetricsMaxRequestBodyBytes = 4096;
// How long a scrape waits for clusterd's view (ipc://DATA_DIR/clusterd.sock): clusterd answers in
// milliseconds; a hung one costs the scrape this much and shows as pairfs_clusterd_up 0.
inline constexpr int kMetricsClusterdTimeoutMs = 500;

// ---- ops (issue 15 part 1: the event log of `pairctl events`, node/event_log.h) ----
// A node's (and clusterd's) event log keeps at most this many events and bytes: a follower that
// falls further behind is told of the gap and shown the current state again. 4096 events are
// minutes of the busiest pair changes (each change is a handful of events), and 1 MiB bounds the
// memory whatever the text in them.
inline constexpr size_t kEventLogMaxEvents = 4096;
inline constexpr size_t kEventLogMaxBytes = 1 << 20;
// A copy's progress is recorded at most this often per pair (issue 15: "at most every second").
inline constexpr int64_t kEventProgressIntervalMs = 1000;

}  // namespace pairfs::node
