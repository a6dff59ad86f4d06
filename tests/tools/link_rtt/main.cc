// link_rtt: the round trip of a frame between two threads of one process on 127.0.0.1, over
// ZeroMQ as pairfs's peer link uses it and over one plain TCP connection, with the same sizes. A
// sync write at queue depth 1 on loopback waits mostly for its round trip to the peer; the
// difference of the two lines is what ZeroMQ itself (its I/O threads and their hand-offs to the
// application's threads) adds to TCP's own round trip.
//
//   link_rtt [--bytes N] [--count N] [--only zmq|tcp|wakeup]
//
//   zmq  two wire::Contexts (one per site, one I/O thread each, as a pairfs process has), each
//        site a ROUTER bound on 127.0.0.1 and a DEALER connected to the other's ROUTER with
//        wire/peer_link.cc's options (no CURVE): two connections, one per direction, as between
//        two sites. Thread A sends N bytes (--bytes, default 4096) on its DEALER (no copy,
//        dontwait); thread B receives them on its ROUTER the way PeerLink's thread does (::poll on
//        ZMQ_FD, receiving with dontwait until the socket is empty) and answers 64 bytes on its
//        DEALER, which thread A receives on its ROUTER the same way (zmq.cc).
//   tcp  one TCP connection (TCP_NODELAY, as ZeroMQ sets it), blocking send and recv (tcp.cc).
//   wakeup  no transport: thread A wakes thread B through an eventfd and sleeps until B wakes it
//        back through another (wakeup.cc; its line says 8 B, an eventfd's counter). The cost of
//        the hand-offs that ZeroMQ adds: (zmq - tcp) / wakeup is about how many more round trips
//        of two wake-ups a frame and its answer cost over ZeroMQ (measured on a 2-vCPU VM: zmq
//        103-127 us, tcp 31 us, wakeup 23 us, that is three).
// Each runs 1000 round trips to warm up, then --count measured ones (default 20000), and prints
//   link_rtt zmq 4096 B: p50 74 us p90 84 us p99 101 us mean 75 us min 48 us (20000 round trips)
// (percentiles by nearest rank; the latency of one round trip, sender to sender). No envelope,
// checksum or replicator: the transports alone. A measuring tool, not a test: it judges nothing
// (`make bench` reports its lines: scripts/bench/extras.sh bench_link_rtt). Exit 0; 1 if a
// transport fails (a lost frame is waited for 5 s), 2 on bad options.
// Where the threads run matters as much as the transport: every hand-off between threads on two
// CPUs is a wake-up of the other CPU, which a virtual machine pays dearly (on the 2-vCPU VM this
// was written on, TCP took 13 us with both threads on one CPU and about 50 us on two; the
// scheduler picks either from run to run). `taskset -c 0 build/tools/link_rtt` runs every thread,
// ZeroMQ's I/O threads included, on one CPU: the transports' CPU cost alone.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "tests/tools/link_rtt/link_rtt.h"
#include "wire/limits.h"

namespace pairfs::link_rtt {
namespace {

// Prints the line of one transport (the format above).
void PrintLine(const char* transport, size_t bytes, std::vector<int64_t> nanoseconds) {
  std::sort(nanoseconds.begin(), nanoseconds.end());
  const size_t n = nanoseconds.size();
  auto percentile_us = [&](double fraction) {  // nearest rank
    const size_t rank = static_cast<size_t>(std::ceil(fraction * n));
    return nanoseconds[std::max<size_t>(rank, 1) - 1] / 1000.0;
  };
  const double mean_us = std::accumulate(nanoseconds.begin(), nanoseconds.end(), 0.0) / n / 1000;
  std::printf(
      "link_rtt %s %zu B: p50 %.0f us p90 %.0f us p99 %.0f us mean %.0f us min %.0f us (%zu round "
      "trips)\n",
      transport, bytes, percentile_us(0.50), percentile_us(0.90), percentile_us(0.99), mean_us,
      nanoseconds[0] / 1000.0, n);
  std::fflush(stdout);
}

}  // namespace
}  // namespace pairfs::link_rtt

using pairfs::Result;
using pairfs::link_rtt::kMaxRoundTrips;
using pairfs::link_rtt::MeasureTcp;
using pairfs::link_rtt::MeasureWakeup;
using pairfs::link_rtt::MeasureZmq;
using pairfs::link_rtt::PrintLine;

int main(int argc, char** argv) {
  CLI::App app{"link_rtt: round trip of a frame over ZeroMQ (as pairfs's peer link) and over TCP"};
  size_t bytes = 4096;
  int count = 20000;
  std::string only;
  app.add_option("--bytes", bytes, "size of the frame sent each round trip (the answer: 64 B)")
      ->check(CLI::Range(size_t{1}, pairfs::wire::kMaxFrameBytes))
      ->capture_default_str();
  app.add_option("--count", count, "round trips measured, after a warm-up of 1000")
      ->check(CLI::Range(1, kMaxRoundTrips))
      ->capture_default_str();
  app.add_option("--only", only, "measure one: zmq, tcp or wakeup (no transport)")
      ->check(CLI::IsMember({"zmq", "tcp", "wakeup"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is not an error
  }
  struct Transport {
    const char* name;
    Result<std::vector<int64_t>> (*measure)(size_t, int);
    size_t carries;  // the bytes its line names: 0 for --bytes
  };
  for (const Transport& transport :
       {Transport{"zmq", MeasureZmq, 0}, Transport{"tcp", MeasureTcp, 0},
        Transport{"wakeup", MeasureWakeup, sizeof(uint64_t)}}) {
    if (!only.empty() && only != transport.name) continue;
    Result<std::vector<int64_t>> measured = transport.measure(bytes, count);
    if (!measured.ok()) {
      std::fprintf(stderr, "link_rtt: %s: %s\n", transport.name,
                   measured.status().ToString().c_str());
      return 1;
    }
    PrintLine(transport.name, transport.carries != 0 ? transport.carries : bytes,
              std::move(measured.value()));
  }
  return 0;
}
