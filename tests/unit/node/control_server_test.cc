#include "node/control_server.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>

#include "tests/unit/frames.h"
#include "tests/unit/temp_dir.h"
#include "wire/link.h"

using namespace pairfs;
using namespace pairfs::node;

using testing::FrameOf;

TEST_CASE("the control dispatch creates, displays, reserves and deletes volumes") {
  testing::TempDir dir;
  auto store = std::move(VolumeStore::Open(dir.path()).value());
  ControlServer control(*store, "a", nullptr);
  wire::Reply created = control.Handle(FrameOf(wire::VolumeCreateRequest{"vm1", 1 << 20}));
  REQUIRE(created.ToStatus().ok());
  REQUIRE(created.volumes.size() == 1);
  CHECK(created.volumes[0].status == "SMPL");
  CHECK(created.volumes[0].role == "simplex");

  wire::Reply shown = control.Handle(FrameOf(wire::DisplayRequest{"vm1"}));
  REQUIRE(shown.volumes.size() == 1);
  CHECK(shown.volumes[0].size_bytes == 1 << 20);
  CHECK(control.Handle(FrameOf(wire::DisplayRequest{"nope"})).ToStatus().code() == Code::kNotFound);

  CHECK(control.Handle(FrameOf(wire::ReserveRequest{"vm1", "b"})).volumes.at(0).reserved_by == "b");
  CHECK(control.Handle(FrameOf(wire::ReserveRequest{"vm1", ""})).ToStatus().code() ==
        Code::kConflict);
  CHECK(control.Handle(FrameOf(wire::ReleaseRequest{"vm1", "b"})).ToStatus().ok());
  CHECK(control.Handle(FrameOf(wire::ReserveRequest{"vm1", ""})).volumes.at(0).reserved_by == "a");
  CHECK(control.Handle(FrameOf(wire::ReserveRequest{"vm1", "bad/site"})).ToStatus().code() ==
        Code::kInvalidArgument);
  CHECK(control.Handle(FrameOf(wire::VolumeDeleteRequest{"vm1"})).ToStatus().ok());
  CHECK(control.Handle(FrameOf(wire::VolumeListRequest{})).volumes.empty());
}

TEST_CASE("the control dispatch answers malformed and foreign requests with a reason") {
  testing::TempDir dir;
  auto store = std::move(VolumeStore::Open(dir.path()).value());
  ControlServer control(*store, "a", nullptr);
  const wire::Frame garbage =
      testing::RawFrame(wire::MessageType::kVolumeCreate, "\xc1 not msgpack");
  wire::Reply reply = control.Handle(garbage);
  CHECK(reply.ToStatus().code() == Code::kInvalidArgument);
  CHECK_THAT(reply.message, Catch::Contains("volume-create request"));
  const wire::Frame peer_message = testing::RawFrame(wire::MessageType::kReplicaWrite, "");
  CHECK(control.Handle(peer_message).ToStatus().code() == Code::kUnsupported);
}

TEST_CASE("the control endpoint answers over a real ZeroMQ socket and survives garbage") {
  testing::TempDir dir;
  auto store = std::move(VolumeStore::Open(dir.path()).value());
  ControlServer control(*store, "a", nullptr);
  wire::Context context;
  const std::string endpoint = "ipc://" + dir.path() + "/control.sock";
  REQUIRE(control.Start(context, endpoint).ok());
  auto client = std::move(wire::Client::Connect(context, endpoint, "test").value());
  REQUIRE(client->SendBytes("definitely not a frame").ok());
  Result<std::string> refusal = client->ReceiveBytes(2000);
  REQUIRE(refusal.ok());
  wire::Reply refused;
  REQUIRE(wire::DecodeBody(wire::DecodeFrame(refusal.value())->body, &refused).ok());
  CHECK(refused.ToStatus().code() == Code::kCorruption);
  Result<wire::Reply> reply = client->Call(wire::VolumeCreateRequest{"vm1", 4096}, 2000);
  REQUIRE(reply.ok());
  CHECK(reply->ToStatus().ok());
  control.Stop();
}

TEST_CASE("a second bind of the same endpoint fails with the endpoint named") {
  testing::TempDir dir;
  wire::Context context;
  const std::string endpoint = "tcp://127.0.0.1:17913";
  auto first = wire::Server::Bind(context, endpoint);
  REQUIRE(first.ok());
  auto second = wire::Server::Bind(context, endpoint);
  CHECK_THAT(second.status().message(), Catch::Contains("127.0.0.1:17913"));
}

TEST_CASE("probing an ipc endpoint tells a live node from a stale socket file") {
  testing::TempDir dir;
  const std::string endpoint = "ipc://" + dir.path() + "/control.sock";
  CHECK(wire::ProbeEndpoint(endpoint).code() == Code::kUnreachable);  // no file at all
  {
    wire::Context context;
    auto server = wire::Server::Bind(context, endpoint);
    REQUIRE(server.ok());
    CHECK(wire::ProbeEndpoint(endpoint).ok());
  }
  std::ofstream(dir.path() + "/stale.sock") << "";  // a file nobody listens on
  CHECK_THAT(wire::ProbeEndpoint("ipc://" + dir.path() + "/stale.sock").message(),
             Catch::Contains("nothing listens"));
  CHECK(wire::ProbeEndpoint("tcp://127.0.0.1:1").ok());  // other transports are not probed
}

TEST_CASE("a display of every volume comes in pages that each fit a frame") {
  testing::TempDir dir;
  auto store = std::move(VolumeStore::Open(dir.path()).value());
  const size_t count = wire::kDisplayPageVolumes + 8;
  for (size_t i = 0; i < count; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "v%04zu", i);
    REQUIRE(store->Create(name, 4096).ok());
  }
  ControlServer control(*store, "a", nullptr);
  wire::Reply first = control.Handle(FrameOf(wire::DisplayRequest{}));
  REQUIRE(first.ToStatus().ok());
  CHECK(first.volumes.size() == wire::kDisplayPageVolumes);
  CHECK(first.more);
  CHECK(wire::EncodeBody(first).size() + wire::kHeaderBytes <= wire::kMaxFrameBytes);
  wire::Reply second = control.Handle(FrameOf(wire::DisplayRequest{"", first.volumes.back().name}));
  CHECK(second.volumes.size() == 8);
  CHECK_FALSE(second.more);
  CHECK(second.volumes.front().name == "v0512");
  wire::Reply listed = control.Handle(FrameOf(wire::VolumeListRequest{"", "v0500"}));
  CHECK(listed.volumes.size() == count - 501);
}

TEST_CASE("a group or holder that the metadata or JSON could not hold is refused") {
  testing::TempDir dir;
  auto store = std::move(VolumeStore::Open(dir.path()).value());
  REQUIRE(store->Create("vm1", 1 << 20).ok());
  ControlServer control(*store, "a", nullptr);
  wire::PairCreateRequest create{"vm1", "sync", "", "never", std::string(70 * 1024, 'g')};
  wire::Reply refused = control.Handle(FrameOf(create));
  CHECK(refused.ToStatus().code() == Code::kInvalidArgument);
  CHECK_THAT(refused.message, Catch::Contains("--group"));
  create.group = "\xff";
  CHECK_THAT(control.Handle(FrameOf(create)).message, Catch::Contains("UTF-8"));
  wire::Reply holder =
      control.Handle(FrameOf(wire::ReserveRequest{"vm1", std::string(70 * 1024, 'h')}));
  CHECK(holder.ToStatus().code() == Code::kInvalidArgument);
  CHECK(store->Find("vm1")->metadata().reserved_by.empty());
}
