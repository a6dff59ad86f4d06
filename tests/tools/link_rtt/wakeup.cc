// build/tools/link_rtt's wake-up round trip (link_rtt.h, main.cc): two threads of this process
// hand a token back and forth through two eventfds, no network and no data. A round trip is two
// wake-ups of a sleeping thread, the unit that ZeroMQ's hand-offs between I/O threads and the
// application's threads are made of: (zmq - tcp) / wakeup is about how many more such round trips
// a frame and its answer cost over ZeroMQ than over TCP on this machine.
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <string>
#include <thread>

#include "tests/tools/link_rtt/link_rtt.h"

namespace pairfs::link_rtt {
namespace {

// An eventfd, closed when it goes.
struct EventFd {
  int fd = ::eventfd(0, EFD_CLOEXEC);
  ~EventFd() {
    if (fd >= 0) ::close(fd);
  }
};

Status Signal(int fd) {
  const uint64_t one = 1;
  if (::write(fd, &one, sizeof one) != sizeof one) return Status::IoError("eventfd write", errno);
  return Status::Ok();
}

// Sleeps until `fd` is signalled (Timeout after kWaitTimeoutMs), then takes the signal.
Status Await(int fd) {
  pollfd item{fd, POLLIN, 0};
  const int ready = ::poll(&item, 1, kWaitTimeoutMs);
  if (ready < 0) return Status::IoError("poll", errno);
  if (ready == 0) return Status::Timeout("no wake-up in " + std::to_string(kWaitTimeoutMs) + " ms");
  uint64_t value = 0;
  if (::read(fd, &value, sizeof value) != sizeof value)
    return Status::IoError("eventfd read", errno);
  return Status::Ok();
}

}  // namespace

Result<std::vector<int64_t>> MeasureWakeup(size_t /*bytes*/, int count) {
  EventFd ping, pong;
  if (ping.fd < 0 || pong.fd < 0) return Status::IoError("eventfd", errno);
  std::atomic<bool> failed{false};
  std::thread other([&] {
    for (int i = 0; i < kWarmupRoundTrips + count; ++i) {
      if (!Await(ping.fd).ok() || !Signal(pong.fd).ok()) {
        failed = true;
        return;
      }
    }
  });
  Result<std::vector<int64_t>> measured = Measure(count, [&]() -> Status {
    Status sent = Signal(ping.fd);
    return sent.ok() ? Await(pong.fd) : sent;
  });
  if (!measured.ok()) (void)Signal(ping.fd);  // let the other thread see its end sooner
  other.join();
  if (measured.ok() && failed) return Status::IoError("the other thread failed", EIO);
  return measured;
}

}  // namespace pairfs::link_rtt
