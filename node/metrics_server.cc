#include "node/metrics_server.h"

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <vector>

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "node/limits.h"

namespace pairfs::node {
namespace {

// cpp-httplib's own ThreadPool queues every accepted connection without bound; this one holds
// at most `max_queued` and makes the accept loop wait for room (see the header: bounded).
class BoundedTaskQueue : public httplib::TaskQueue {
 public:
  BoundedTaskQueue(size_t threads, size_t max_queued) : max_queued_(max_queued) {
    for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
  }
  ~BoundedTaskQueue() override = default;  // shutdown() joined the threads

  void enqueue(std::function<void()> fn) override {
    std::unique_lock<std::mutex> lock(mutex_);
    room_.wait(lock, [&] { return jobs_.size() < max_queued_; });
    jobs_.push_back(std::move(fn));
    work_.notify_one();
  }

  // Runs what is queued (each job closes its connection at once once the server stopped) and
  // joins the threads.
  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      shutdown_ = true;
    }
    work_.notify_all();
    for (std::thread& thread : threads_) thread.join();
  }

 private:
  void Work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        work_.wait(lock, [&] { return shutdown_ || !jobs_.empty(); });
        if (jobs_.empty()) return;  // shutting down, nothing left
        job = std::move(jobs_.front());
        jobs_.pop_front();
        room_.notify_one();
      }
      job();
    }
  }

  const size_t max_queued_;
  std::mutex mutex_;
  std::condition_variable work_;  // a job or the shutdown
  std::condition_variable room_;  // a job left the queue
  std::deque<std::function<void()>> jobs_;
  bool shutdown_ = false;
  std::vector<std::thread> threads_;
};

// Start() waits this long, in steps, for the serving thread to accept: it binds nothing and
// blocks on nothing, so this only guards against a wait that never ends.
constexpr auto kMetricsStartWait = std::chrono::seconds(10);
constexpr auto kMetricsStartStep = std::chrono::milliseconds(1);

}  // namespace

Result<std::unique_ptr<MetricsServer>> MetricsServer::Bind(const MetricsAddress& address) {
  auto server = std::make_unique<httplib::Server>();
  server->new_task_queue = [] {
    return new BoundedTaskQueue(kMetricsThreads, kMetricsQueuedConnections);
  };
  // SO_REUSEADDR only: a restart binds again at once (past TIME_WAIT), but a second process on
  // the same address is refused. httplib's default adds SO_REUSEPORT, with which a second pairfs
  // would share the port silently and the kernel would spread scrapes over both.
  server->set_socket_options([](socket_t sock) {
    int yes = 1;
    (void)::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server->set_read_timeout(kMetricsReadTimeoutSeconds, 0);
  server->set_write_timeout(kMetricsWriteTimeoutSeconds, 0);
  server->set_keep_alive_max_count(kMetricsKeepAliveRequests);
  server->set_keep_alive_timeout(kMetricsKeepAliveSeconds);
  server->set_payload_max_length(kMetricsMaxRequestBodyBytes);
  errno = 0;
  if (!server->bind_to_port(address.host, address.port)) {
    const int error = errno;
    return Status::Busy("site.metrics: cannot listen on " + address.host + ":" +
                        std::to_string(address.port) + ": " +
                        (error != 0 ? std::strerror(error) : "no such address here"));
  }
  return std::unique_ptr<MetricsServer>(new MetricsServer(address, std::move(server)));
}

MetricsServer::MetricsServer(MetricsAddress address, std::unique_ptr<httplib::Server> server)
    : address_(std::move(address)), server_(std::move(server)) {}

MetricsServer::~MetricsServer() { Stop(); }

void MetricsServer::Start(Collect collect) {
  server_->Get("/metrics", [collect = std::move(collect)](const httplib::Request&,
                                                          httplib::Response& response) {
    response.set_content(collect(), kMetricsContentType);
  });
  thread_ = std::thread([server = server_.get()] {
    if (!server->listen_after_bind())
      spdlog::error("metrics: the /metrics endpoint stopped accepting connections");
  });
  // httplib's stop() does nothing before the thread marks the server running: wait for that, so
  // that a Stop() right after Start() is never lost.
  const auto deadline = std::chrono::steady_clock::now() + kMetricsStartWait;
  while (!server_->is_running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(kMetricsStartStep);
  spdlog::info("metrics: serving /metrics on {}:{}", address_.host, address_.port);
}

void MetricsServer::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

}  // namespace pairfs::node
