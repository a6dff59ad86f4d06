#include "node/data_dir.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "tests/unit/temp_dir.h"

using namespace pairfs;

namespace {
unsigned ModeOf(const std::string& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_mode & 0777;
}
}  // namespace

TEST_CASE("a data directory is created 0700 whatever the umask, and others lose their access") {
  testing::TempDir dir;
  const mode_t umask_before = ::umask(0);
  const std::string fresh = dir.path() + "/fresh";
  CHECK(node::PrepareDataDir(fresh).ok());
  ::umask(umask_before);
  CHECK(ModeOf(fresh) == 0700);

  const std::string readable = dir.path() + "/readable";
  REQUIRE(::mkdir(readable.c_str(), 0755) == 0);
  REQUIRE(::chmod(readable.c_str(), 0755) == 0);
  CHECK(node::PrepareDataDir(readable).ok());
  CHECK(ModeOf(readable) == 0700);
}

TEST_CASE("a data directory that group or others can write is refused, and left as it is") {
  testing::TempDir dir;
  for (mode_t mode : {0770, 0707, 0777}) {
    const std::string writable = dir.path() + "/writable";
    (void)::mkdir(writable.c_str(), 0700);
    REQUIRE(::chmod(writable.c_str(), mode) == 0);
    Status prepared = node::PrepareDataDir(writable);
    CHECK(prepared.code() == Code::kNotPermitted);
    CHECK_THAT(prepared.message(), Catch::Contains("can be written by group or others") &&
                                       Catch::Contains("chmod 700"));
    CHECK(ModeOf(writable) == mode);
  }
}
