// Limits of the wire protocol. Every one is a named constant with the reason for its value.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pairfs::wire {

// Bumped on any incompatible change of the envelope or of a message body (wire/protocol.md).
// 2: body checksum XXH3-64 (was xxHash64: twice the speed on a 1 MiB write, which pays it twice).
// 3: one message type per pair command (128-142) with checked fields; the one-for-all
//    peer-command (40) retired; display pages; the resync bitmap in chunks.
inline constexpr uint16_t kProtocolVersion = 3;

// "PRFS" read as a little-endian u32: the first four bytes of every frame.
inline constexpr uint32_t kFrameMagic = 0x53465250;

// The envelope header is fixed-size so that a receiver can check it before touching the body.
inline constexpr size_t kHeaderBytes = 64;

// Site names travel NUL-padded in the header: 31 characters and the terminator.
inline constexpr size_t kSiteFieldBytes = 32;
inline constexpr size_t kMaxSiteNameBytes = kSiteFieldBytes - 1;

// The kernel hands pairfs writes of up to 1 MiB (max_write with max_pages); one message carries
// one such write whole.
inline constexpr size_t kMaxDataBytes = 1 << 20;

// A write's data plus its fields and the envelope; anything larger is refused unread, and ZeroMQ
// is told the same limit (ZMQ_MAXMSGSIZE) so that it drops such a peer before buffering it.
inline constexpr size_t kMaxFrameBytes = kMaxDataBytes + 64 * 1024;

// msgpack nesting and element counts a body may use; a display reply lists at most
// node::kMaxVolumes volumes, well under these.
inline constexpr size_t kMaxBodyDepth = 8;
inline constexpr size_t kMaxBodyElements = 65536;

// How long pairctl waits for its node by default: a control command does metadata work only.
inline constexpr int kDefaultControlTimeoutMs = 10000;

// The peer link's ZeroMQ pipes (frames go from the sending thread straight into them: speed,
// issue 14, removed the hand-off queue before them). What is in flight is bounded in bytes by the
// replicator's window (node/limits.h); these only keep a stuck link from growing without end.
// ZeroMQ counts its pipes in messages, not bytes: at most this many frames wait in the peer link's
// send pipe and in its receive pipe, so each holds at most 256 x kMaxFrameBytes (about 272 MiB)
// even when a peer sends nothing but the largest frames; a well-behaved peer's window keeps it to
// 64 one-MiB writes. A full receive pipe stops reading the connection (TCP pushes back); a full
// send pipe drops the frame, which the replicator retransmits.
inline constexpr int kPeerQueueMessages = 256;

// Reconnecting to a peer that went away: first after 100 ms, backing off to 1 s, so a healed link
// carries traffic again within about a second.
inline constexpr int kPeerReconnectMs = 100;
inline constexpr int kPeerReconnectMaxMs = 1000;

// ZeroMQ heartbeats on the peer connection: a silent connection is dropped after 3 intervals and
// redialled (iptables DROP leaves TCP thinking the connection is up).
inline constexpr int kPeerHeartbeatMs = 500;

// The allocator, tuned once per process by the first wire::Context (wire/link.cc): every frame of
// the peer link is a buffer of up to kMaxFrameBytes that lives for one message (ZeroMQ's receive
// buffer, the frame's body, CURVE's plaintext and box copies), many per second. glibc serves
// blocks over 128 KiB with a fresh mmap each (later raised, but only up to the largest block freed
// so far) and gives the top of a heap back above twice that: every such buffer then cost a page
// fault per 4 KiB and, freed, an munmap or madvise with a TLB shootdown (speed, issue 11: 100
// faults per MB at the secondary, most of its CPU per replicated byte). Blocks up to this size come
// from the heap, so the buffers of one frame after another reuse the same pages ...
inline constexpr size_t kAllocatorMmapThresholdBytes = 4 << 20;
static_assert(kAllocatorMmapThresholdBytes >= 2 * kMaxFrameBytes,
              "a frame and CURVE's copy of it come from the heap");
// ... and a heap keeps up to this much free at its top before giving it back to the kernel: about
// 16 one-MiB writes in flight reuse their pages; more in flight (the window allows 64 MiB) costs
// page faults again, and a process never holds more than this per heap beyond what it uses.
inline constexpr size_t kAllocatorTrimThresholdBytes = 16 << 20;

// ---- heartbeats (wire/heartbeat.h) ----

// A heartbeat frame is the 64-byte header and a body of under 100 bytes (a site name, a phase
// name and three integers). ZeroMQ is told this limit (ZMQ_MAXMSGSIZE) so that it disconnects a
// sender of anything larger instead of buffering garbage.
inline constexpr size_t kMaxHeartbeatFrameBytes = 4 * 1024;

// Messages a heartbeat socket may hold in its ZeroMQ pipe. A beat is worth something only on
// time; one stuck behind a slow connection says nothing the next one will not, so a few suffice.
inline constexpr int kHeartbeatQueueMessages = 4;

// Reconnecting a heartbeat link: first after 100 ms, backing off to 1 s, so a healed network
// carries beats again within about a second without redialling a dead one in a tight loop.
inline constexpr int kHeartbeatReconnectMs = 100;
inline constexpr int kHeartbeatReconnectMaxMs = 1000;

// ZeroMQ's own heartbeat on each heartbeat connection: one silent for 3 checks is closed and
// redialled (iptables DROP or a cut cable leaves TCP thinking it is up), and the beats written
// into it during the outage are discarded rather than delivered late as if the peer just spoke.
inline constexpr int kHeartbeatConnectionCheckMs = 250;

// Frames read from one link per wake-up before the thread looks at the clock again: a sender
// flooding one network can neither delay our beats nor starve the other links.
inline constexpr int kHeartbeatReceiveBatch = 64;

// Heartbeat networks one clusterd watches. Each is two sockets polled by the one heartbeat
// thread; two or three independent networks are the practice, eight is generous.
inline constexpr size_t kMaxHeartbeatLinks = 8;

// ---- CURVE (wire/curve.h) ----

// A key file is one line of 40 Z85 characters; anything much larger is not a key file.
inline constexpr size_t kMaxKeyFileBytes = 1024;

// How long a site-to-site server socket gives a new connection to finish the ZeroMQ handshake
// (ZMQ_HANDSHAKE_IVL; libzmq's default is 30 s). A client that connects and never authenticates
// is dropped after this, so idle strangers cannot hold connections open; a real peer on a
// loaded machine finishes the few round trips of CURVE well within it.
inline constexpr int kHandshakeTimeoutMs = 5000;

// The ZAP handler's poll period: how soon it notices that its context is shutting down.
inline constexpr int kZapPollMs = 100;

// ---- fields of messages (wire/peer_messages.h checks every one before anything uses it) ----

// Volume names are [A-Za-z0-9._-]{1,64} (node/names.h; node/limits.h uses this value).
inline constexpr size_t kMaxVolumeNameBytes = 64;

// A consistency group's name: shown by display and kept in the volume's metadata file (which a
// node reads up to node::kMaxMetadataBytes), so it is short text: UTF-8, no control characters.
inline constexpr size_t kMaxGroupNameBytes = 64;

// A reservation holder: a site name or an operator's ID (`pairctl reserve --holder ID`); kept in
// the metadata and shown like a group name, with the same rules.
inline constexpr size_t kMaxHolderBytes = 64;

// Names of modes, fence levels, roles and statuses ("secondary" is the longest).
inline constexpr size_t kMaxKeywordBytes = 16;

// A refusal's reason in an answer: one line for the user.
inline constexpr size_t kMaxReasonBytes = 4096;

// Volume sizes and offsets (node/limits.h uses these values): 4 KiB multiples, ≤ 256 TiB.
inline constexpr uint64_t kVolumeAlignBytes = 4096;
inline constexpr uint64_t kMaxVolumeBytes = 256ull << 40;

// Dirty-bitmap region sizes: a power of two in this range (node/limits.h uses these).
inline constexpr uint64_t kMinRegionBytes = 4096;
inline constexpr uint64_t kMaxRegionBytes = 64ull << 20;

// Generation counters and reservation epochs count changes, one at a time: a value at or above
// 2^63 is not one a node made (it would be a step away from wrapping and then win forever).
inline constexpr uint64_t kMaxCounterValue = (1ull << 63) - 1;

// A mirrored reservation record may be ahead of this copy (changes it missed while apart), but
// never by more than this many changes: one change per failover or operator command.
inline constexpr uint64_t kMaxEpochJump = 1ull << 32;

// verify hashes at most this many regions per request (8 bytes each in the answer; node/limits.h
// kVerifyRegionsPerCall is this value).
inline constexpr uint64_t kMaxVerifyRegionsPerCall = 4096;

// A resync's dirty bitmap travels in chunks of at most this many bytes (one bit per region): a
// 256 TiB volume at 4 KiB regions has an 8 GiB bitmap, far over one frame; 256 KiB is 2 Mi
// regions (128 GiB at 64 KiB regions) per answer, well under kMaxFrameBytes.
inline constexpr size_t kBitmapChunkBytes = 256 * 1024;
inline constexpr uint64_t kBitmapChunkRegions = uint64_t{kBitmapChunkBytes} * 8;

// The encoded size of one VolumeInfo (a display or volume-list row) at its worst: every string at
// its limit and every integer 9 bytes; tests/unit/wire/peer_messages_test.cc encodes such a row
// and checks it stays under this bound.
inline constexpr size_t kMaxVolumeInfoBytes = 1024;

// msgpack elements of one VolumeInfo: a map of 33 keys and values, and the map itself.
inline constexpr size_t kVolumeInfoElements = 2 * 33 + 1;

// A display or volume-list reply carries at most this many volumes; pairctl and clusterd ask for
// the next page (DisplayRequest::after) while the reply says `more`. Sized so that a full page
// fits a frame with room for the rest of the reply, and stays under the element limit.
inline constexpr size_t kDisplayPageVolumes = 512;
inline constexpr size_t kReplyOverheadBytes = 8 * 1024;
static_assert(kDisplayPageVolumes * kMaxVolumeInfoBytes + kReplyOverheadBytes + kHeaderBytes <=
                  kMaxFrameBytes,
              "a page of display rows must fit one frame");
static_assert(kDisplayPageVolumes * kVolumeInfoElements + 64 <= kMaxBodyElements,
              "a page of display rows must stay under the msgpack element limit");
static_assert(kBitmapChunkBytes + kReplyOverheadBytes + kHeaderBytes <= kMaxFrameBytes,
              "a bitmap chunk must fit one frame");
static_assert(kMaxVerifyRegionsPerCall * 9 + kReplyOverheadBytes + kHeaderBytes <= kMaxFrameBytes,
              "a verify answer must fit one frame");
static_assert(kMaxVerifyRegionsPerCall < kMaxBodyElements,
              "a verify answer must stay under the element limit");

// A carried control request (pairctl --site, wire/peer_messages.h PeerCarryCommand) is a name and
// a few fields; this bounds its body inside the peer frame that carries it.
inline constexpr size_t kMaxCarriedBodyBytes = 64 * 1024;
static_assert(kMaxCarriedBodyBytes + kReplyOverheadBytes + kHeaderBytes <= kMaxFrameBytes,
              "a carried request must fit one frame");

// The fields around a carried body in a CarryRequest or PeerCarryCommand (a site name of at most
// kMaxSiteNameBytes, the type, the msgpack map keys and headers): a kCarry or kPeerCarry frame
// whose body is longer than kMaxCarryRequestBytes is refused before it is decoded.
inline constexpr size_t kCarryFieldsBytes = 256;
inline constexpr size_t kMaxCarryRequestBytes = kMaxCarriedBodyBytes + kCarryFieldsBytes;
static_assert(kMaxSiteNameBytes + 64 <= kCarryFieldsBytes, "a carry's fields fit their allowance");
static_assert(kMaxCarryRequestBytes + kHeaderBytes <= kMaxFrameBytes,
              "a carried request must fit one frame");

// How long a node waits for its peer's reply to a carried request: less than pairctl waits for
// its own node, so the operator hears that the far site did not answer, not a bare timeout.
inline constexpr int kCarryTimeoutMs = kDefaultControlTimeoutMs - 2000;
static_assert(kCarryTimeoutMs > 0 && kCarryTimeoutMs < kDefaultControlTimeoutMs);

// ---- consistency groups (issue 13 part 7: group commands)
// ---------------------------------------- A group holds at most this many pairs (create --group
// refuses one more): a group command answers with one display row and one outcome per pair in one
// reply, and a group split keeps every pair's writes waiting while it saves each pair's split.
inline constexpr size_t kMaxGroupPairs = 64;
// A group command's outcome of one pair carries at most this much text (cut if longer).
inline constexpr size_t kMaxOutcomeMessageBytes = 512;
static_assert(kMaxGroupPairs * (kMaxVolumeInfoBytes + kMaxVolumeNameBytes +
                                kMaxOutcomeMessageBytes + 32) +
                      kReplyOverheadBytes + kHeaderBytes <=
                  kMaxFrameBytes,
              "a group command's reply must fit one frame");

// ---- async pairs (issue 13: journal transfer, wire/journal_messages.h) ----

// One journal batch carries at most this many entries: each is a map of 9 keys (19 msgpack
// elements), so a full batch stays far under kMaxBodyElements, its headers fit the 64 KiB a frame
// has beyond kMaxDataBytes (static_assert below), and a batch of discards (no data)
// is still bounded.
inline constexpr size_t kMaxJournalBatchEntries = 200;

// The data of one batch at most: one frame (kMaxFrameBytes) holds it with the entries' headers
// (at most ~200 bytes each, kMaxJournalBatchEntries of them) to spare. A single entry of a 1 MiB
// write fills a batch alone.
inline constexpr size_t kMaxJournalBatchDataBytes = kMaxDataBytes;
static_assert(kMaxJournalBatchDataBytes + kMaxJournalBatchEntries * 256 + 1024 <= kMaxFrameBytes,
              "a full journal batch fits one frame");

// ---- ops (issue 15 part 1: pairctl events, wire/event_messages.h) ----

// One event's text fields at most (site, kind, field; volume names are kMaxVolumeNameBytes): the
// values are keywords, numbers, site names and holders, all far shorter; a longer one is refused
// by the decoder's check (CheckEventsReply) and cut by the recorder.
inline constexpr size_t kMaxEventTextBytes = 128;
// An events reply carries at most this many events; the asker asks again at once while the reply
// says `more`. Sized so that a full reply of events at their largest (~8 strings of
// kMaxEventTextBytes and two integers each) fits one frame many times over.
inline constexpr size_t kEventsPerReply = 256;
static_assert(kEventsPerReply * (8 * kMaxEventTextBytes + 64) + kReplyOverheadBytes +
                      kHeaderBytes <=
                  kMaxFrameBytes,
              "a full events reply must fit one frame");
static_assert(kEventsPerReply * 21 + 64 <= kMaxBodyElements,
              "a full events reply stays under the msgpack element limit");

}  // namespace pairfs::wire
