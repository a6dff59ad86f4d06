// [journal] size (node/config.cc): one journal file per consistency group, at least
// kMinConfiguredJournalBytes, a whole number of 4 KiB pages, at most kMaxJournalBytes.
#include <catch2/catch.hpp>

#include "node/config.h"
#include "node/limits.h"

using namespace pairfs;
using namespace pairfs::node;

namespace {
Result<Config> WithJournal(const std::string& table) {
  return ParseConfig("[site]\nname = \"a\"\ndata_dir = \"/d\"\n[journal]\n" + table, "x.toml");
}
}  // namespace

TEST_CASE("[journal] size is checked against the journal's limits", "[async]") {
  Result<Config> ok = WithJournal("size = \"16M\"\nhigh_water_percent = 70\n");
  REQUIRE(ok.ok());
  CHECK(ok->journal.size_bytes == kMinConfiguredJournalBytes);
  CHECK(ok->journal.high_water_percent == 70);
  CHECK(WithJournal("size = \"64G\"\n").ok());
  CHECK_THAT(WithJournal("size = \"8M\"\n").status().message(),
             Catch::Contains("journal.size: must be a multiple of 4K from 16M to 64G"));
  CHECK_THAT(WithJournal("size = \"65G\"\n").status().message(), Catch::Contains("journal.size"));
  CHECK_THAT(WithJournal("size = 16777217\n").status().message(), Catch::Contains("journal.size"));
  CHECK_THAT(WithJournal("high_water_percent = 100\n").status().message(),
             Catch::Contains("journal.high_water_percent"));
}
