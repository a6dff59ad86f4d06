// PAIRFS_CHECK: a true condition costs nothing; a false one ends the process with SIGABRT and
// says where, in a child process here.
#include "wire/check.h"

#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <csignal>
#include <string>

namespace {

// Runs `body` in a child with stderr captured; returns the child's wait status and its stderr.
template <typename Body>
std::pair<int, std::string> InChild(Body body) {
  int pipe_ends[2];
  REQUIRE(pipe(pipe_ends) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    dup2(pipe_ends[1], STDERR_FILENO);
    close(pipe_ends[0]);
    body();
    _exit(0);
  }
  close(pipe_ends[1]);
  std::string err;
  char buffer[512];
  for (ssize_t n; (n = read(pipe_ends[0], buffer, sizeof buffer)) > 0;)
    err.append(buffer, static_cast<size_t>(n));
  close(pipe_ends[0]);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  return {status, err};
}

}  // namespace

TEST_CASE("PAIRFS_CHECK passes a true condition and aborts on a false one, naming it", "[check]") {
  auto [ok_status, ok_err] = InChild([] { PAIRFS_CHECK(1 + 1 == 2, "arithmetic"); });
  CHECK(WIFEXITED(ok_status));
  CHECK(WEXITSTATUS(ok_status) == 0);

  auto [status, err] = InChild([] {
    const int granted = 2;
    PAIRFS_CHECK(granted == 1, "a range is granted once");
  });
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
  CHECK(err.find("check failed at") != std::string::npos);
  CHECK(err.find("granted == 1") != std::string::npos);
  CHECK(err.find("a range is granted once") != std::string::npos);
}
