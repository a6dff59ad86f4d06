// One direction of a proxied TCP connection in build/tools/wan_proxy: the bytes read from one
// side, each stamped with the time it may leave (read time + delay), kept in order until they are
// written to the other side, optionally paced to a rate. Pure bookkeeping, no I/O: the proxy reads
// into it and writes what it says is due. Not thread-safe (the proxy has one thread).
//
// Besides bytes, the line carries the two ends a TCP stream can have, in order with the bytes and
// delayed like them: an end of stream (the source shut its writing side: the proxy shuts the
// destination's) and a reset (the source failed: the proxy resets the destination).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

namespace pairfs::tools {

using WanClock = std::chrono::steady_clock;  // CLOCK_MONOTONIC, the clock of the proxy's timerfd

// The most bytes written at once to a rate-capped destination: small enough that the pacing is
// smooth at a few MB/s (64 KiB is 6.5 ms at 10 MB/s), large enough to cost few system calls.
inline constexpr size_t kPacedWriteBytes = 64 << 10;
// The credit a rate-capped line keeps for a late wake-up (a busy machine wakes the proxy
// milliseconds late): without it every late wake-up would be lost and the rate would fall well
// under the cap; with it, a burst is at most this much above the cap.
inline constexpr size_t kPacedBurstBytes = 4 * kPacedWriteBytes;

class DelayLine {
 public:
  enum class Kind { kBytes, kEndOfStream, kReset };

  // delay: how long every byte stays in the line; bytes_per_second: 0 = no cap.
  DelayLine(WanClock::duration delay, double bytes_per_second)
      : delay_(delay), bytes_per_second_(bytes_per_second) {}

  // Appends bytes read at `now`; they are due at now + delay.
  void PushBytes(std::string bytes, WanClock::time_point now) {
    queued_bytes_ += bytes.size();
    chunks_.push_back({Kind::kBytes, now + delay_, std::move(bytes), 0});
  }
  // Appends an end (kEndOfStream or kReset) seen at `now`, due at now + delay after every byte
  // before it. Nothing may be pushed after an end.
  void PushEnd(Kind kind, WanClock::time_point now) {
    chunks_.push_back({kind, now + delay_, {}, 0});
    ended_ = true;
  }

  bool ended() const { return ended_; }  // an end was pushed: the source is not read again
  bool empty() const { return chunks_.empty(); }
  size_t queued_bytes() const { return queued_bytes_; }
  size_t chunk_count() const { return chunks_.size(); }  // reads and ends held

  // The time the head may be written (its due time, later if the rate cap says so), or nothing
  // if the line is empty.
  std::optional<WanClock::time_point> HeadReadyAt() const {
    if (chunks_.empty()) return std::nullopt;
    const Chunk& head = chunks_.front();
    if (head.kind == Kind::kBytes && bytes_per_second_ > 0 && next_send_ > head.due)
      return next_send_;
    return head.due;
  }
  bool HeadReady(WanClock::time_point now) const {
    std::optional<WanClock::time_point> at = HeadReadyAt();
    return at && *at <= now;
  }
  Kind HeadKind() const { return chunks_.front().kind; }

  // The bytes of the head to write now (a head of kind kBytes that is ready): all of them
  // uncapped, at most kPacedWriteBytes with a rate cap.
  std::string_view HeadBytes() const {
    const Chunk& head = chunks_.front();
    std::string_view rest(head.bytes.data() + head.sent, head.bytes.size() - head.sent);
    if (bytes_per_second_ > 0 && rest.size() > kPacedWriteBytes)
      rest = rest.substr(0, kPacedWriteBytes);
    return rest;
  }
  // `count` bytes of the head were written at `now`: drops them (and the head once all are
  // written) and, with a rate cap, moves the next send time by count / rate (from no earlier than
  // now - kPacedBurstBytes / rate: the credit of a late wake-up).
  void ConsumeBytes(size_t count, WanClock::time_point now) {
    Chunk& head = chunks_.front();
    head.sent += count;
    queued_bytes_ -= count;
    if (head.sent == head.bytes.size()) chunks_.pop_front();
    if (bytes_per_second_ > 0) {
      WanClock::time_point earliest = now - TimeToSend(kPacedBurstBytes);
      next_send_ = (next_send_ > earliest ? next_send_ : earliest) + TimeToSend(count);
    }
  }
  // Drops an end at the head (the proxy has acted on it).
  void PopEnd() { chunks_.pop_front(); }
  // Drops everything queued (the destination is gone) and takes no more.
  void Discard() {
    chunks_.clear();
    queued_bytes_ = 0;
    ended_ = true;
  }

 private:
  WanClock::duration TimeToSend(size_t count) const {
    return std::chrono::duration_cast<WanClock::duration>(
        std::chrono::duration<double>(static_cast<double>(count) / bytes_per_second_));
  }

  struct Chunk {
    Kind kind;
    WanClock::time_point due;
    std::string bytes;
    size_t sent;
  };
  WanClock::duration delay_;
  double bytes_per_second_;
  std::deque<Chunk> chunks_;
  size_t queued_bytes_ = 0;
  bool ended_ = false;
  WanClock::time_point next_send_{};
};

}  // namespace pairfs::tools
