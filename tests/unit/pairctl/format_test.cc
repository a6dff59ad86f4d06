#include "pairctl/format.h"

#include <catch2/catch.hpp>

using namespace pairfs;
using namespace pairfs::pairctl;

TEST_CASE("pairctl exit codes follow pairctl(8)") {
  CHECK(ExitCodeFor(Status::Ok()) == 0);
  CHECK(ExitCodeFor(Status::NotFound("x")) == 1);
  CHECK(ExitCodeFor(Status::Conflict("x")) == 3);
  CHECK(ExitCodeFor(Status::Unreachable("x")) == 4);
  CHECK(ExitCodeFor(Status::Timeout("x")) == 5);
}

TEST_CASE("display --json has every field of doc/design.md, null where empty") {
  wire::VolumeInfo info;
  info.name = "vm1";
  info.role = "simplex";
  info.status = "SMPL";
  info.size_bytes = 4096;
  const auto json = DisplayJson(info);
  for (const char* field :
       {"name", "role", "status", "mode", "peer_site", "peer_volume", "size_bytes", "copy_progress",
        "dirty_bytes", "journal_lag_bytes", "reserved_by", "fence", "group", "generation",
        "consistent", "outdated"}) {
    INFO(field);
    CHECK(json.contains(field));
  }
  CHECK(json["reserved_by"].is_null());
  CHECK(json["consistent"] == true);
  CHECK(json["peer_heard_ms_ago"].is_null());  // no peer
  info.peer_site = "b";
  info.peer_heard_ms_ago = 120;
  CHECK(DisplayJson(info)["peer_heard_ms_ago"] == 120);
  info.peer_heard_ms_ago = -1;  // not heard since this site started
  CHECK(DisplayJson(info)["peer_heard_ms_ago"].is_null());
  info.peer_site.clear();
  CHECK_THAT(DisplayTable({info}), Catch::Contains("vm1   simplex  SMPL"));
}

TEST_CASE("display's COPY column says inconsistent also for an outdated copy being copied") {
  wire::VolumeInfo info;
  info.name = "db";
  info.role = "secondary";
  info.status = "COPY";
  info.outdated = true;
  info.consistent = false;
  CHECK_THAT(DisplayTable({info}), Catch::Contains("outdated,inconsistent"));
  info.consistent = true;  // an async resync through the journal keeps the copy consistent
  CHECK_THAT(DisplayTable({info}), !Catch::Contains("inconsistent"));
}

// asyncrest (issue 13): the RPO of an unplanned takeover, recorded or not.
TEST_CASE("display shows the RPO of an async group's takeover: none, unknown or the writes") {
  wire::VolumeInfo info;
  info.name = "db";
  info.role = "primary";
  info.status = "SSWS";
  info.mode = "async";
  auto json = DisplayJson(info);
  CHECK(json["rpo_takeover_unix_ms"].is_null());
  CHECK(json["rpo_lost_writes"].is_null());
  CHECK_THAT(DisplayTable({info}), !Catch::Contains("RPO"));
  info.rpo_takeover_unix_ms = 1700000000000;  // nothing heard from the old primary: unknown
  json = DisplayJson(info);
  CHECK(json["rpo_takeover_unix_ms"] == 1700000000000);
  CHECK(json["rpo_lost_writes"].is_null());
  CHECK_THAT(DisplayTable({info}), Catch::Contains("RPO") && Catch::Contains("unknown"));
  info.rpo_lost_writes = 63;
  info.rpo_lost_bytes = 252 * 1024;
  json = DisplayJson(info);
  CHECK(json["rpo_lost_writes"] == 63);
  CHECK(json["rpo_lost_bytes"] == 252 * 1024);
  CHECK_THAT(DisplayTable({info}), Catch::Contains(" 63w/252KiB "));
  info.link_authenticated = true;
  info.peer_site = "a";  // the LINK column stays the last (scripts match "curve$")
  CHECK_THAT(DisplayTable({info}), Catch::EndsWith("curve\n"));
}
