#include "node/log.h"

#include <sys/stat.h>

#include <spdlog/spdlog.h>
#include <catch2/catch.hpp>

#include "tests/unit/temp_dir.h"

using namespace pairfs;

TEST_CASE(
    "a daemon's log file is mode 0600 whatever the umask, also one that existed open to others") {
  testing::TempDir dir;
  const std::shared_ptr<spdlog::logger> before =
      spdlog::default_logger();  // the test run's, restored below
  const std::string file = dir.path() + "/pairfs.log";
  const mode_t umask_before = ::umask(0);
  REQUIRE(node::SetUpLogging("test", file, false).ok());
  ::umask(umask_before);
  struct stat info {};
  REQUIRE(::stat(file.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  REQUIRE(::chmod(file.c_str(), 0644) == 0);
  REQUIRE(node::SetUpLogging("test", file, false).ok());
  REQUIRE(::stat(file.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  spdlog::set_default_logger(before);
}
