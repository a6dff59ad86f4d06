#include "node/names.h"

#include <catch2/catch.hpp>

using namespace pairfs;
using namespace pairfs::node;

TEST_CASE("sizes parse with K, M, G and T suffixes as powers of 1024") {
  CHECK(ParseSize("4096").value() == 4096);
  CHECK(ParseSize("64K").value() == 64 * 1024);
  CHECK(ParseSize("64k").value() == 64 * 1024);
  CHECK(ParseSize("20G").value() == 20ull << 30);
  CHECK(ParseSize("20GiB").value() == 20ull << 30);
  CHECK(ParseSize("3M").value() == 3ull << 20);
  CHECK(ParseSize("1T").value() == 1ull << 40);
  CHECK(ParseSize("512B").value() == 512);
}

TEST_CASE("bad sizes are refused with a reason") {
  CHECK_THAT(ParseSize("").status().message(), Catch::Contains("number"));
  CHECK_THAT(ParseSize("G").status().message(), Catch::Contains("number"));
  CHECK_THAT(ParseSize("12Q").status().message(), Catch::Contains("unit"));
  CHECK_THAT(ParseSize("1.5G").status().message(), Catch::Contains("unit"));
  CHECK_THAT(ParseSize("-4K").status().message(), Catch::Contains("number"));
  CHECK_THAT(ParseSize("0").status().message(), Catch::Contains("zero"));
  CHECK_THAT(ParseSize("99999999999999999999").status().message(), Catch::Contains("too large"));
  CHECK_THAT(ParseSize("20000000000T").status().message(), Catch::Contains("too large"));
}

TEST_CASE("volume sizes must be multiples of 4 KiB and at most 256 TiB") {
  CHECK(ParseVolumeSize("20G").ok());
  CHECK_THAT(ParseVolumeSize("1000").status().message(), Catch::Contains("4 KiB"));
  CHECK_THAT(ParseVolumeSize("257T").status().message(), Catch::Contains("256 TiB"));
  CHECK(ParseVolumeSize("256T").ok());
}

TEST_CASE("volume names are [A-Za-z0-9._-]{1,64}") {
  CHECK(CheckVolumeName("vm1").ok());
  CHECK(CheckVolumeName("a.b_c-D9").ok());
  CHECK(CheckVolumeName(std::string(64, 'x')).ok());
  CHECK_FALSE(CheckVolumeName(std::string(65, 'x')).ok());
  CHECK_FALSE(CheckVolumeName("").ok());
  CHECK_FALSE(CheckVolumeName("a/b").ok());
  CHECK_FALSE(CheckVolumeName("a b").ok());
  CHECK_FALSE(CheckVolumeName("..").ok());
  CHECK_FALSE(CheckVolumeName(".").ok());
}

TEST_CASE("site names fit the envelope's 31 bytes") {
  CHECK(CheckSiteName(std::string(31, 's')).ok());
  CHECK_FALSE(CheckSiteName(std::string(32, 's')).ok());
}

TEST_CASE("sizes format in the largest exact unit") {
  CHECK(FormatSize(20ull << 30) == "20 GiB");
  CHECK(FormatSize(4096) == "4 KiB");
  CHECK(FormatSize(1000) == "1000 B");
  CHECK(FormatSize(1536ull << 20) == "1.5 GiB");
}
