#include "clusterd/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <spdlog/spdlog.h>

#include "clusterd/limits.h"

namespace pairfs::clusterd {
namespace {

using Clock = std::chrono::steady_clock;

// Logs the complete lines in `pending`, keeping a partial last line; a line longer than
// kMaxHookLineBytes is logged in pieces.
void LogLines(const std::string& label, std::string* pending, bool flush) {
  size_t start = 0;
  for (;;) {
    const size_t end = pending->find('\n', start);
    if (end == std::string::npos) break;
    spdlog::info("{}: {}", label, pending->substr(start, end - start));
    start = end + 1;
  }
  pending->erase(0, start);
  while (pending->size() > kMaxHookLineBytes || (flush && !pending->empty())) {
    const size_t piece = std::min(pending->size(), kMaxHookLineBytes);
    spdlog::info("{}: {}", label, pending->substr(0, piece));
    pending->erase(0, piece);
  }
}

}  // namespace

Status RunHook(const std::string& label, const std::string& command,
               const std::vector<std::string>& environment, int64_t timeout_ms) {
  if (command.empty()) return Status::Ok();
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
    return Status::IoError("cannot run " + label + ": pipe", errno);
  const pid_t child = ::fork();
  if (child < 0) {
    const int saved = errno;
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return Status::IoError("cannot run " + label + ": fork", saved);
  }
  if (child == 0) {
    ::setpgid(0, 0);
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    for (const std::string& variable : environment) ::putenv(const_cast<char*>(variable.c_str()));
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::setpgid(child, child);  // also here: no race with the child's own call
  ::close(pipe_fds[1]);
  spdlog::info("{}: running `{}` (PID {}, timeout {} ms)", label, command, child, timeout_ms);
  const auto started = Clock::now();
  const auto deadline = started + std::chrono::milliseconds(timeout_ms);
  std::string pending;
  bool killed = false;
  bool open = true;
  while (open) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      ::kill(-child, SIGKILL);
      killed = true;
      break;
    }
    pollfd item{pipe_fds[0], POLLIN, 0};
    const int ready = ::poll(&item, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    char buffer[4096];
    const ssize_t got = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      open =
          false;  // every writer closed: the script (and what it started in the foreground) ended
      break;
    }
    pending.append(buffer, static_cast<size_t>(got));
    LogLines(label, &pending, false);
  }
  ::close(pipe_fds[0]);
  LogLines(label, &pending, true);
  // The script closed its output; it may still be exiting. A background child that kept the
  // pipe open was killed above with the group on timeout.
  int status = 0;
  for (;;) {
    const pid_t done = ::waitpid(child, &status, killed ? 0 : WNOHANG);
    if (done == child || (done < 0 && errno != EINTR)) break;
    if (Clock::now() > deadline) {
      ::kill(-child, SIGKILL);
      killed = true;
    } else {
      ::usleep(10000);
    }
  }
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  if (killed) {
    spdlog::error("{}: killed after {} ms (hook_timeout_ms)", label, took);
    return Status::Timeout(label + " did not finish within " + std::to_string(timeout_ms) +
                           " ms and was killed");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    spdlog::info("{}: done in {} ms", label, took);
    return Status::Ok();
  }
  const std::string how = WIFEXITED(status) ? "exited " + std::to_string(WEXITSTATUS(status))
                                            : "died of signal " + std::to_string(WTERMSIG(status));
  spdlog::error("{}: {} after {} ms", label, how, took);
  return Status(Code::kIoError, label + " " + how);
}

}  // namespace pairfs::clusterd
