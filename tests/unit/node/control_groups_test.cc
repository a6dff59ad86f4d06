// The control endpoint's --group requests (node/control_groups.cc): what it refuses before any
// pair is touched. Running a group command on real pairs is tests/integration/pair_groups.sh.
#include <catch2/catch.hpp>

#include "node/control_server.h"
#include "tests/unit/frames.h"
#include "tests/unit/temp_dir.h"

namespace pairfs::node {
namespace {

using testing::FrameOf;

TEST_CASE("a group request names a group or a volume, never both", "[control_groups]") {
  testing::TempDir dir;
  auto store = std::move(VolumeStore::Open(dir.path()).value());
  ControlServer control(*store, "a", nullptr);
  REQUIRE(control.Handle(FrameOf(wire::VolumeCreateRequest{"vm1", 1 << 20})).ToStatus().ok());
  const wire::Reply replies[] = {
      control.Handle(FrameOf(wire::SplitRequest{"vm1", false, "app"})),
      control.Handle(FrameOf(wire::ResyncRequest{"vm1", true, "app"})),
      control.Handle(FrameOf(wire::TakeoverRequest{"vm1", false, false, false, "app"})),
      control.Handle(FrameOf(wire::DisplayRequest{"vm1", "", "app"})),
  };
  for (const wire::Reply& reply : replies) {
    CHECK(reply.ToStatus().code() == Code::kInvalidArgument);
    CHECK(reply.message == "give a volume NAME or --group app, not both");
    CHECK(reply.outcomes.empty());
  }
}

TEST_CASE("a group with no pair here is not found; a group name is checked as text",
          "[control_groups]") {
  testing::TempDir dir;
  auto store = std::move(VolumeStore::Open(dir.path()).value());
  ControlServer control(*store, "a", nullptr);
  REQUIRE(control.Handle(FrameOf(wire::VolumeCreateRequest{"app", 1 << 20})).ToStatus().ok());
  // A simplex volume named like the group is no pair of it.
  wire::Reply shown = control.Handle(FrameOf(wire::DisplayRequest{"", "", "app"}));
  CHECK(shown.ToStatus().code() == Code::kNotFound);
  CHECK(shown.message == "no pair in group app at site a");
  wire::Reply bad = control.Handle(FrameOf(wire::SplitRequest{"", false, std::string("a\nb")}));
  CHECK(bad.ToStatus().code() == Code::kInvalidArgument);
  // Without a [peer] there are no pairs to run a group command on.
  wire::Reply split = control.Handle(FrameOf(wire::SplitRequest{"", false, "app"}));
  CHECK(split.ToStatus().code() == Code::kInvalidArgument);
  CHECK(split.message.find("no [peer]") != std::string::npos);
}

}  // namespace
}  // namespace pairfs::node
