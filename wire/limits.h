// Limits of the wire protocol. Every one is a named constant with the reason for its value.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pairfs::wire {

// Bumped on any incompatible change of the envelope or of a message body (wire/protocol.md).
// 2: body checksum XXH3-64 (was xxHash64: twice the speed on a 1 MiB write, which pays it twice).
inline constexpr uint16_t kProtocolVersion = 2;

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

// The peer link's hand-off queue and ZeroMQ pipes. What is in flight is bounded in bytes by the
// replicator's window (node/limits.h); these only keep a stuck link from growing without end.
inline constexpr size_t kPeerQueueBytes = 512ull << 20;
inline constexpr int kPeerQueueMessages = 100000;

// Reconnecting to a peer that went away: first after 100 ms, backing off to 1 s, so a healed link
// carries traffic again within about a second.
inline constexpr int kPeerReconnectMs = 100;
inline constexpr int kPeerReconnectMaxMs = 1000;

// ZeroMQ heartbeats on the peer connection: a silent connection is dropped after 3 intervals and
// redialled (iptables DROP leaves TCP thinking the connection is up).
inline constexpr int kPeerHeartbeatMs = 500;

// ---- heartbeats (wire/heartbeat.h) ----

// A heartbeat frame is the 64-byte header and a body of under 100 bytes (a site name, a phase
// name and three integers). ZeroMQ is told this limit (ZMQ_MAXMSGSIZE) so that it disconnects a sender of
// anything larger instead of buffering garbage.
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

// Refused connections and frames whose claimed site is not their key's are logged once, then
// once per this many, with the running count: a flood must not flood the log.
inline constexpr uint64_t kRefusalLogEvery = 1000;

}  // namespace pairfs::wire
