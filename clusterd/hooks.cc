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

// Starts `command` under /bin/sh in a process group of its own, its output going to a pipe:
// sets `child` and `read_fd` (the pipe's end to read; the caller closes it), or IoError.
Status StartHookProcess(const std::string& label, const std::string& command,
                        const std::vector<std::string>& environment, pid_t* child, int* read_fd) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
    return Status::IoError("cannot run " + label + ": pipe", errno);
  *child = ::fork();
  if (*child < 0) {
    const int saved = errno;
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return Status::IoError("cannot run " + label + ": fork", saved);
  }
  if (*child == 0) {
    ::setpgid(0, 0);
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    for (const std::string& variable : environment) ::putenv(const_cast<char*>(variable.c_str()));
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::setpgid(*child, *child);  // also here: no race with the child's own call
  ::close(pipe_fds[1]);
  *read_fd = pipe_fds[0];
  return Status::Ok();
}

// Logs the hook's output line by line until every writer closes the pipe; past `deadline` it
// kills the hook's process group instead. Returns whether it killed it.
bool LogHookOutput(const std::string& label, int read_fd, pid_t child, Clock::time_point deadline,
                   std::string* pending) {
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
    pollfd item{read_fd, POLLIN, 0};
    const int ready = ::poll(&item, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    char buffer[4096];
    const ssize_t got = ::read(read_fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      open =
          false;  // every writer closed: the script (and what it started in the foreground) ended
      break;
    }
    pending->append(buffer, static_cast<size_t>(got));
    LogLines(label, pending, false);
  }
  return killed;
}

// Reaps the hook, killing its process group if it is still there past `deadline`; `killed`
// says it was killed already (so waits without WNOHANG). Returns whether it was killed.
bool WaitHookExit(pid_t child, Clock::time_point deadline, bool killed, int* status) {
  for (;;) {
    const pid_t done = ::waitpid(child, status, killed ? 0 : WNOHANG);
    if (done == child || (done < 0 && errno != EINTR)) break;
    if (Clock::now() > deadline) {
      ::kill(-child, SIGKILL);
      killed = true;
    } else {
      ::usleep(10000);
    }
  }
  return killed;
}

// Logs how the hook ended and says it as a Status: Ok for exit 0, Timeout if it was killed,
// IoError for another exit code or a signal.
Status HookResult(const std::string& label, int64_t timeout_ms, Clock::time_point started,
                  bool killed, int status) {
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

}  // namespace

Status RunHook(const std::string& label, const std::string& command,
               const std::vector<std::string>& environment, int64_t timeout_ms) {
  if (command.empty()) return Status::Ok();
  pid_t child = 0;
  int read_fd = -1;
  Status started_hook = StartHookProcess(label, command, environment, &child, &read_fd);
  if (!started_hook.ok()) return started_hook;
  spdlog::info("{}: running `{}` (PID {}, timeout {} ms)", label, command, child, timeout_ms);
  const auto started = Clock::now();
  const auto deadline = started + std::chrono::milliseconds(timeout_ms);
  std::string pending;
  bool killed = LogHookOutput(label, read_fd, child, deadline, &pending);
  ::close(read_fd);
  LogLines(label, &pending, true);
  // The script closed its output; it may still be exiting. A background child that kept the
  // pipe open was killed above with the group on timeout.
  int status = 0;
  killed = WaitHookExit(child, deadline, killed, &status);
  return HookResult(label, timeout_ms, started, killed, status);
}

}  // namespace pairfs::clusterd
