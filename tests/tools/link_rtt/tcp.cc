// build/tools/link_rtt's TCP round trip (link_rtt.h, main.cc): one connection on 127.0.0.1,
// blocking send and recv, one thread per end.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <thread>

#include "tests/tools/link_rtt/link_rtt.h"

namespace pairfs::link_rtt {
namespace {

// A file descriptor, closed when it goes.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Sends or receives exactly `size` bytes; Timeout after kWaitTimeoutMs without progress.
// MSG_WAITALL: the receiver wakes once for a frame the socket buffer holds whole, not per segment.
Status Transfer(int fd, char* data, size_t size, bool write) {
  for (size_t done = 0; done < size;) {
    const ssize_t n = write ? ::send(fd, data + done, size - done, MSG_NOSIGNAL)
                            : ::recv(fd, data + done, size - done, MSG_WAITALL);
    if (n > 0) {
      done += n;
    } else if (n == 0) {
      return Status::Unreachable("the other end closed the connection");
    } else if (errno == EAGAIN) {
      return Status::Timeout("no progress in " + std::to_string(kWaitTimeoutMs) + " ms");
    } else if (errno != EINTR) {
      return Status::IoError(write ? "send" : "recv", errno);
    }
  }
  return Status::Ok();
}

Status TuneTcpSocket(int fd) {
  const int one = 1;
  const timeval timeout{kWaitTimeoutMs / 1000, (kWaitTimeoutMs % 1000) * 1000};
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout) != 0)
    return Status::IoError("setsockopt", errno);
  return Status::Ok();
}

}  // namespace

Result<std::vector<int64_t>> MeasureTcp(size_t bytes, int count) {
  Fd listener{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (listener.fd < 0 || ::bind(listener.fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::listen(listener.fd, 1) != 0 ||
      ::getsockname(listener.fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    return Status::IoError("cannot listen on 127.0.0.1", errno);
  Fd client{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (client.fd < 0 || ::connect(client.fd, reinterpret_cast<sockaddr*>(&address), length) != 0)
    return Status::IoError("cannot connect to 127.0.0.1", errno);
  Fd server{::accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC)};
  if (server.fd < 0) return Status::IoError("accept", errno);
  for (Status status : {TuneTcpSocket(client.fd), TuneTcpSocket(server.fd)})
    if (!status.ok()) return status;
  std::string ping(bytes, 'p'), answer(kReplyBytes, 'r');
  std::atomic<bool> stop{false};
  Status served;
  std::thread site_b([&] {
    std::string received(bytes, '\0');
    for (int i = 0; i < kWarmupRoundTrips + count && served.ok(); ++i) {
      served = Transfer(server.fd, received.data(), bytes, false);
      if (served.ok()) served = Transfer(server.fd, answer.data(), answer.size(), true);
    }
    if (stop.load()) served = Status::Ok();  // thread A gave up first and says why
  });
  std::string reply(kReplyBytes, '\0');
  Result<std::vector<int64_t>> measured = Measure(count, [&]() -> Status {
    Status sent = Transfer(client.fd, ping.data(), ping.size(), true);
    if (!sent.ok()) return sent;
    return Transfer(client.fd, reply.data(), reply.size(), false);
  });
  if (!measured.ok()) {
    stop.store(true);
    ::shutdown(client.fd, SHUT_RDWR);  // thread B's recv returns at once
  }
  site_b.join();
  if (!served.ok()) return Status(served.code(), "site b: " + served.message());
  return measured;
}

}  // namespace pairfs::link_rtt
