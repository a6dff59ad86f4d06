// The HTTP endpoint of `[site] metrics` (pairfs(8) METRICS): `GET /metrics` answers the
// exposition a callback (given to Start) writes (node/metrics_collect.h) as `text/plain;
// version=0.0.4`; every other path is 404. Served by cpp-httplib (Debian's libcpp-httplib-dev).
//
// Bounded (node/limits.h, kMetrics*): kMetricsThreads threads serve connections; at most
// kMetricsQueuedConnections accepted connections wait for one, beyond which the accept loop waits
// and further clients wait in the kernel's backlog; a client silent (or too slow) for
// kMetricsReadTimeoutSeconds is dropped, so an idle or slowloris client holds a thread no longer
// than that per read; kept-alive connections serve kMetricsKeepAliveRequests requests at most.
// The server's threads never touch the write path: the callback reads counters.
//
// Life cycle, as a Site's (node/site.h): Bind() before the process detaches (the socket is a plain
// descriptor that survives the fork; no thread exists yet), Start() after, Stop() first at the
// end. Not thread-safe itself: one thread binds, starts and stops; the callback is called from
// the serving threads, concurrently.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "node/metrics_text.h"
#include "wire/status.h"

namespace httplib {
class Server;
}

namespace pairfs::node {

class MetricsServer {
 public:
  using Collect = std::function<std::string()>;

  // Listens on `address`. Fails with Busy "site.metrics: cannot listen on HOST:PORT: why"
  // (address in use, not an address of this host, ...).
  static Result<std::unique_ptr<MetricsServer>> Bind(const MetricsAddress& address);
  ~MetricsServer();  // Stop()
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Starts serving `collect()`'s text on its own thread, and returns once it accepts
  // connections. Call once.
  void Start(Collect collect);
  // Stops accepting, ends kept-alive connections and joins the threads: immediate unless a
  // client is in the middle of a request, at most the read or write timeout then. Idempotent.
  void Stop();

  const MetricsAddress& address() const { return address_; }

 private:
  MetricsServer(MetricsAddress address, std::unique_ptr<httplib::Server> server);
  const MetricsAddress address_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace pairfs::node
