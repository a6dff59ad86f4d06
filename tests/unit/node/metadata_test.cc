#include "node/metadata.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <random>

#include "node/atomic_file.h"
#include "tests/unit/temp_dir.h"

using namespace pairfs;
using namespace pairfs::node;

namespace {
VolumeMetadata Sample(const std::string& reserved_by) {
  VolumeMetadata metadata;
  metadata.name = "vm1";
  metadata.size_bytes = 1 << 30;
  metadata.inode = 7;
  metadata.reserved_by = reserved_by;
  metadata.generation = 3;
  return metadata;
}
}  // namespace

TEST_CASE("metadata round-trips through its file") {
  testing::TempDir dir;
  const std::string path = dir.path() + "/vm1.meta";
  REQUIRE(SaveMetadata(path, Sample("b")).ok());
  Result<VolumeMetadata> loaded = LoadMetadata(path);
  REQUIRE(loaded.ok());
  CHECK(loaded->name == "vm1");
  CHECK(loaded->reserved_by == "b");
  CHECK(loaded->generation == 3);
  CHECK(loaded->status == "SMPL");
}

TEST_CASE("damaged metadata is refused with a reason, never half-read") {
  const std::string good = EncodeMetadata(Sample(""));
  CHECK_THAT(DecodeMetadata(good.substr(0, 10)).status().message(), Catch::Contains("shorter"));
  CHECK_THAT(DecodeMetadata(good.substr(0, good.size() - 1)).status().message(),
             Catch::Contains("length"));
  std::string flipped = good;
  flipped.back() ^= 1;
  CHECK_THAT(DecodeMetadata(flipped).status().message(), Catch::Contains("checksum"));
  std::string magic = good;
  magic[0] = 'X';
  CHECK_THAT(DecodeMetadata(magic).status().message(), Catch::Contains("magic"));
  std::string version = good;
  version[4] = 2;
  CHECK_THAT(DecodeMetadata(version).status().message(), Catch::Contains("version 2"));
}

TEST_CASE("a crash before the rename leaves the old metadata") {
  testing::TempDir dir;
  const std::string path = dir.path() + "/vm1.meta";
  REQUIRE(SaveMetadata(path, Sample("a")).ok());
  // What a crash half-way through writing the temporary file leaves behind.
  std::ofstream(path + ".tmp") << EncodeMetadata(Sample("b")).substr(0, 20);
  CHECK(LoadMetadata(path)->reserved_by == "a");
  // The next save replaces the leftover temporary file.
  REQUIRE(SaveMetadata(path, Sample("c")).ok());
  CHECK(LoadMetadata(path)->reserved_by == "c");
}

TEST_CASE(
    "kill -9 at random instants of repeated saves always leaves the old or the new metadata") {
  testing::TempDir dir;
  const std::string path = dir.path() + "/vm1.meta";
  REQUIRE(SaveMetadata(path, Sample("old")).ok());
  std::mt19937 random(11);
  for (int round = 0; round < 40; ++round) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      for (int i = 0;; ++i) (void)SaveMetadata(path, Sample(i % 2 ? "old" : "new"));
    }
    ::usleep(200 + random() % 3000);
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    Result<VolumeMetadata> loaded = LoadMetadata(path);
    INFO("round " << round << ": " << loaded.status().message());
    REQUIRE(loaded.ok());
    CHECK((loaded->reserved_by == "old" || loaded->reserved_by == "new"));
  }
}

TEST_CASE("reading a file over its limit is refused") {
  testing::TempDir dir;
  std::ofstream(dir.path() + "/big") << std::string(5000, 'x');
  CHECK(ReadWholeFile(dir.path() + "/big", 4096).status().code() == Code::kCorruption);
  CHECK(ReadWholeFile(dir.path() + "/none", 4096).status().code() == Code::kNotFound);
}

TEST_CASE("metadata a restart could not load is never saved, and a 1-byte region is never loaded") {
  testing::TempDir dir;
  const std::string path = dir.path() + "/vm1.meta";
  VolumeMetadata metadata = Sample("");
  metadata.group = std::string(70 * 1024, 'g');  // over the 64 KiB a node reads back
  CHECK(SaveMetadata(path, metadata).code() == Code::kInvalidArgument);
  metadata.group = "g";
  metadata.region_size_bytes = 1;  // a node allocated per byte until it died, at every restart
  CHECK(SaveMetadata(path, metadata).code() == Code::kInvalidArgument);
  CHECK(DecodeMetadata(EncodeMetadata(metadata)).status().code() == Code::kCorruption);
  metadata.region_size_bytes = 65536;
  REQUIRE(SaveMetadata(path, metadata).ok());
  CHECK(LoadMetadata(path).ok());
}
