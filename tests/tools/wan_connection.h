// The connections of build/tools/wan_proxy (tests/tools/wan_proxy/) and the socket helpers it
// uses: a route (one --listen/--to pair), the two sides of a proxied connection with the delay
// line of each direction, and what an epoll event points at. Plain data owned by the proxy's one
// thread; not thread-safe.
#pragma once

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "tests/tools/wan_delay_line.h"

namespace pairfs::tools {

// What epoll's data pointer points at.
struct Watch {
  enum Kind { kListener, kSide, kSignal, kTimer } kind;
};

struct Route : Watch {
  std::string listen_text, to_text;
  sockaddr_storage to{};
  socklen_t to_length = 0;
  int fd = -1;
  bool registered = false;
};

struct Connection;
struct Side : Watch {
  Connection* connection = nullptr;
  const char* name = "";
  int fd = -1;
  uint32_t registered = 0;     // the epoll mask now registered; 0: not registered
  bool write_blocked = false;  // the last write did not take everything: wait for EPOLLOUT
};

struct Connection {
  Connection(WanClock::duration delay, double rate) : up(delay, rate), down(delay, rate) {}
  uint64_t id = 0;
  Route* route = nullptr;
  Side client, server;
  bool server_connected = false;
  DelayLine up;    // client -> server
  DelayLine down;  // server -> client
  uint64_t bytes_up = 0, bytes_down = 0;
  bool closed = false;

  DelayLine& OutOf(Side& side) { return &side == &client ? up : down; }
  DelayLine& Into(Side& side) { return &side == &client ? down : up; }
};

// Resolves HOST:PORT (HOST a name, an IPv4 address or [IPv6]); false if it does not resolve.
inline bool ParseHostPort(const std::string& text, sockaddr_storage* address, socklen_t* length) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string host = text.substr(0, colon), port = text.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr)
    return false;
  memcpy(address, found->ai_addr, found->ai_addrlen);
  *length = found->ai_addrlen;
  freeaddrinfo(found);
  return true;
}

// HOST:PORT of an IPv4 or IPv6 address, for the log.
inline std::string AddressText(const sockaddr_storage& address) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (address.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&address);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
  } else if (address.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

// No Nagle: the proxy must not hold small writes (ZeroMQ's frames, heartbeats) back.
inline void SetNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Closes a socket with RST instead of FIN (SO_LINGER 0).
inline void CloseWithReset(int fd) {
  linger reset{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  close(fd);
}

}  // namespace pairfs::tools
