// wan_proxy: a userspace WAN for the integration tests and `make bench` (these machines have no
// kernel netem). A TCP proxy that forwards bytes (it never parses them: ZeroMQ, CURVE or not, goes
// through unchanged) and delays each direction of every connection by the same time; optionally
// caps each direction's rate; stalls, heals and resets its connections on signals.
//
//   wan_proxy --listen HOST:PORT --to HOST:PORT [--listen HOST:PORT --to HOST:PORT ...]
//             [--delay-ms N] [--rate-mbps X] [--usr1 stall|cut] [--queue-mib N] [--name NAME]
//
// One process serves every --listen/--to pair given (a route: the n-th --listen forwards to the
// n-th --to); the signals act on all of its routes at once, so one process is one WAN link.
//   --delay-ms N   bytes read from one side at time t are written to the other at t + N ms or
//                  later (each direction; a round trip through the proxy costs 2N); default 0
//   --rate-mbps X  at most X MB/s (10^6 bytes per second, not megabits) per direction of each
//                  connection; default: no cap
//   --usr1 MODE    what SIGUSR1 does: `stall` (default) or `cut`, below
//   --queue-mib N  at most N MiB held per direction (default 32); at the bound the proxy stops
//                  reading that side, so the sender feels TCP backpressure; nothing is dropped.
//                  With --rate-mbps the bound is lower: delay x rate + 1 MiB, as a link's buffer
//   --name NAME    prefix of the log lines (default wan_proxy)
//   PORT 0 binds a free port; the log line `listening on HOST:PORT` names it.
//
// Signals (each logs one line on stderr, written after the change took effect, so a script that
// waits for the line knows that nothing is forwarded after it):
//   SIGUSR1 stall  forwarding stops, connections stay open, bytes read are kept (up to the bound,
//                  then the senders block), new connections wait in the listen backlog: a link
//                  whose packets vanish (iptables DROP), which nobody notices but by silence.
//                  `stalled` line.
//   SIGUSR1 cut    (--usr1 cut) every connection is reset and new ones are accepted and reset at
//                  once: a far host that answers with RST. `cut` line.
//   SIGUSR2 heal   forwarding resumes: kept bytes go out (they are overdue), waiting connections
//                  are accepted. `healed` line.
//   SIGHUP  reset  every connection is reset now (RST both sides); new ones are served. `reset`.
//   SIGTERM/SIGINT exit 0 after closing everything. `exiting` line.
// Every one of these lines ends with the bytes forwarded so far over all connections, each way
// (`forwarded so far: N bytes to the servers, M to the clients`), so that a script measures what
// the link carried between two signals; SIGUSR2 on a link that is not stalled or cut only logs
// that line (a way to read the totals).
// A side that resets or closes is passed on in order with its bytes and after the same delay
// (a close as shutdown(SHUT_WR), a reset as RST). SIGPIPE is ignored; peers that reset never end
// the proxy. Exit 2 on bad arguments, 1 if a --listen cannot be bound.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "tests/tools/wan_proxy/proxy.h"

using namespace pairfs::tools;

int main(int argc, char** argv) {
  CLI::App app{"wan_proxy: a TCP proxy that delays, caps and cuts a link (tests and make bench)"};
  std::vector<std::string> listens, targets;
  int delay_ms = 0;
  double rate_mbps = 0;
  std::string usr1 = "stall";
  size_t queue_mib = kDefaultQueueMib;
  app.add_option("--listen", listens, "HOST:PORT to accept on (repeatable; PORT 0: any free port)")
      ->required();
  app.add_option("--to", targets, "HOST:PORT to forward the n-th --listen to (repeatable)")
      ->required();
  app.add_option("--delay-ms", delay_ms, "delay of each direction in ms")
      ->check(CLI::Range(0, kMaxDelayMs));
  app.add_option("--rate-mbps", rate_mbps, "cap per direction in MB/s (10^6 bytes/s); 0: none")
      ->check(CLI::Range(0.0, 1e6));
  app.add_option("--usr1", usr1, "what SIGUSR1 does: stall or cut")
      ->check(CLI::IsMember({"stall", "cut"}));
  app.add_option("--queue-mib", queue_mib, "bytes held per direction before reading stops, MiB")
      ->check(CLI::Range(1, 1024));
  app.add_option("--name", g_name, "prefix of the log lines");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is not an error
  }
  if (listens.size() != targets.size()) {
    fprintf(stderr, "wan_proxy: give one --to per --listen (%zu --listen, %zu --to)\n",
            listens.size(), targets.size());
    return 2;
  }
  std::vector<Route> routes(listens.size());
  for (size_t i = 0; i < routes.size(); ++i) {
    routes[i].kind = Watch::kListener;
    routes[i].listen_text = listens[i];
    routes[i].to_text = targets[i];
    if (!ParseHostPort(targets[i], &routes[i].to, &routes[i].to_length)) {
      fprintf(stderr, "wan_proxy: --to %s is not HOST:PORT that resolves\n", targets[i].c_str());
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  const double bytes_per_second = rate_mbps * 1e6;
  size_t bound = queue_mib << 20;
  if (bytes_per_second > 0) {
    size_t link_buffer =
        static_cast<size_t>(bytes_per_second * delay_ms / 1000.0) + kPacedHeadroomBytes;
    bound = std::min(bound, link_buffer);
  }
  auto proxy = std::make_unique<Proxy>(std::chrono::milliseconds(delay_ms), bytes_per_second,
                                       usr1 == "cut", bound);
  if (!proxy->Open(routes)) return 1;
  int code = proxy->Run();
  Log("exited");
  return code;
}
