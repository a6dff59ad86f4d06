// pairctl --site (pairctl/site_option.h): which site a command is carried to, and its request.
#include "pairctl/site_option.h"

#include <catch2/catch.hpp>

using namespace pairfs;
using namespace pairfs::pairctl;

TEST_CASE("--site names the peer: carried; this site: run here; a bad name: a usage error") {
  CHECK(CarrySiteFor("b", "a", "cluster", true).value() == "b");
  CHECK(CarrySiteFor("a", "a", "cluster", true).value().empty());
  // Any other well-formed site is carried too: the node, which knows its peer, says NotFound.
  CHECK(CarrySiteFor("c", "a", "cluster", true).value() == "c");
  CHECK(CarrySiteFor("b/x", "a", "cluster", true).status().code() == Code::kInvalidArgument);
  CHECK(CarrySiteFor("", "a", "cluster", true).status().code() == Code::kInvalidArgument);
}

TEST_CASE("--site with another site refuses a command that asks this site's clusterd") {
  const Result<std::string> refused = CarrySiteFor("b", "a", "cluster", false);
  CHECK(refused.status().code() == Code::kInvalidArgument);
  CHECK_THAT(refused.status().message(), Catch::Contains("clusterd"));
  CHECK(CarrySiteFor("a", "a", "cluster", false).value().empty());
}

TEST_CASE("the carry request holds the request's own type and body") {
  const wire::CarryRequest carry = CarryRequestFor("b", wire::DisplayRequest{"vm1"});
  CHECK(carry.site == "b");
  CHECK(carry.type == static_cast<uint16_t>(wire::MessageType::kDisplay));
  wire::DisplayRequest inner;
  REQUIRE(wire::DecodeBody(std::string_view(carry.body.data(), carry.body.size()), &inner).ok());
  CHECK(inner.name == "vm1");
}
