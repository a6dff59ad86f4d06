#include "node/witness_server.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/unit/frames.h"
#include "tests/unit/temp_dir.h"

using namespace pairfs;
using namespace pairfs::node;

namespace {

wire::Frame VoteFrom(const std::string& sender, const wire::ReserveVoteRequest& request) {
  return testing::FrameOf(request, sender);
}

wire::ReserveVoteRequest VoteFor(std::string volume, std::string holder, std::string outdated = "",
                                 bool force = false) {
  return wire::ReserveVoteRequest{std::move(volume), std::move(holder), std::move(outdated), force,
                                  false};
}

wire::ReserveVoteRequest ReleaseOf(std::string volume, std::string holder) {
  return wire::ReserveVoteRequest{std::move(volume), std::move(holder), "", false, true};
}

Code CodeOf(const wire::Reply& reply) { return static_cast<Code>(reply.code); }

struct WitnessUnderTest {  // named apart from node::Witness (site_test.cc shares its unity unit)
  testing::TempDir dir;
  std::unique_ptr<WitnessStore> store = std::move(WitnessStore::Open(dir.path()).value());
  WitnessServer server{*store, "w", {"a", "b"}};
};

}  // namespace

TEST_CASE("the witness grants the first asker and refuses the second") {
  WitnessUnderTest witness;
  wire::Reply first = witness.server.Handle(VoteFrom("a", VoteFor("quorum", "a")));
  CHECK(CodeOf(first) == Code::kOk);
  CHECK(first.reservation.holder == "a");
  CHECK(first.reservation.epoch == 1);
  wire::Reply second = witness.server.Handle(VoteFrom("b", VoteFor("quorum", "b")));
  CHECK(CodeOf(second) == Code::kConflict);
  CHECK(second.message == "reserved by a");
  CHECK(second.reservation.holder == "a");
  CHECK(CodeOf(witness.server.Handle(VoteFrom("a", VoteFor("quorum", "a")))) == Code::kOk);
  CHECK(CodeOf(witness.server.Handle(VoteFrom("b", ReleaseOf("quorum", "b")))) == Code::kConflict);
  wire::Reply released = witness.server.Handle(VoteFrom("a", ReleaseOf("quorum", "a")));
  CHECK(CodeOf(released) == Code::kOk);
  CHECK(released.reservation.epoch == 2);
  CHECK(released.reservation.holder.empty());
}

TEST_CASE("the witness refuses and counts a release that arrives after the holder's newer reserve",
          "[witness][late]") {
  WitnessUnderTest witness;
  auto numbered = [](wire::ReserveVoteRequest request, uint64_t hold) {
    request.hold = hold;
    return request;
  };
  REQUIRE(CodeOf(witness.server.Handle(VoteFrom("a", numbered(VoteFor("quorum", "a"), 100)))) ==
          Code::kOk);
  // a released (numbered 200) and reserved again (300); the release was delayed and the
  // reserve found a still holding: granted, epoch unchanged, its number recorded.
  wire::Reply again = witness.server.Handle(VoteFrom("a", numbered(VoteFor("quorum", "a"), 300)));
  REQUIRE(CodeOf(again) == Code::kOk);
  CHECK(again.reservation.epoch == 1);
  CHECK(again.reservation.hold == 300);
  wire::Reply late = witness.server.Handle(VoteFrom("a", numbered(ReleaseOf("quorum", "a"), 200)));
  CHECK(CodeOf(late) == Code::kConflict);
  CHECK_THAT(late.message, Catch::StartsWith("a late release"));
  CHECK(late.reservation.holder == "a");
  CHECK(witness.server.late_votes() == 1);
  // b still cannot win: a holds the witness's copy, on disk too.
  CHECK(CodeOf(witness.server.Handle(VoteFrom("b", VoteFor("quorum", "b")))) == Code::kConflict);
  auto reopened = std::move(WitnessStore::Open(witness.dir.path()).value());
  CHECK(reopened->Load("quorum")->hold == 300);
  // a's own release, numbered after its reserve, ends the hold.
  CHECK(CodeOf(witness.server.Handle(VoteFrom("a", numbered(ReleaseOf("quorum", "a"), 400)))) ==
        Code::kOk);
  CHECK(witness.server.late_votes() == 1);
}

TEST_CASE("a grant is on disk before it is answered") {
  WitnessUnderTest witness;
  REQUIRE(CodeOf(witness.server.Handle(VoteFrom("b", VoteFor("quorum", "b", "a")))) == Code::kOk);
  auto reopened = std::move(WitnessStore::Open(witness.dir.path()).value());
  Result<wire::ReservationRecord> record = reopened->Load("quorum");
  REQUIRE(record.ok());
  CHECK(record->holder == "b");
  CHECK(record->outdated == "a");
  CHECK(record->epoch == 1);
  WitnessServer restarted(*reopened, "w", {"a", "b"});
  wire::Reply refused = restarted.Handle(VoteFrom("a", VoteFor("quorum", "a")));
  CHECK(CodeOf(refused) == Code::kConflict);
}

TEST_CASE("the witness refuses votes naming sites it does not serve, and changes nothing") {
  WitnessUnderTest witness;
  wire::Reply foreign_sender = witness.server.Handle(VoteFrom("c", VoteFor("quorum", "a")));
  CHECK(CodeOf(foreign_sender) == Code::kInvalidArgument);
  CHECK(foreign_sender.message ==
        "votes from site c are not accepted (this witness serves sites a and b)");
  CHECK(CodeOf(witness.server.Handle(VoteFrom("a", VoteFor("quorum", "c")))) ==
        Code::kInvalidArgument);
  CHECK(CodeOf(witness.server.Handle(VoteFrom("a", VoteFor("quorum", "a", "c")))) ==
        Code::kInvalidArgument);
  CHECK(CodeOf(witness.server.Handle(VoteFrom("a", VoteFor("quorum", "w")))) ==
        Code::kInvalidArgument);
  CHECK(CodeOf(witness.server.Handle(VoteFrom("", VoteFor("quorum", "a")))) ==
        Code::kInvalidArgument);
  CHECK(CodeOf(witness.server.Handle(VoteFrom("a", VoteFor("../x", "a")))) ==
        Code::kInvalidArgument);
  CHECK(witness.store->Load("quorum")->epoch == 0);
  CHECK_FALSE(std::filesystem::exists(witness.store->PathOf("quorum")));
}

TEST_CASE("the witness answers other messages and malformed bodies with a reason") {
  WitnessUnderTest witness;
  const wire::Frame display = testing::RawFrame(wire::MessageType::kDisplay, "", "a");
  wire::Reply unsupported = witness.server.Handle(display);
  CHECK(CodeOf(unsupported) == Code::kUnsupported);
  CHECK_THAT(unsupported.message, Catch::Contains("reserve votes only"));
  wire::Frame garbage = VoteFrom("a", VoteFor("quorum", "a"));
  garbage.body = "\xc1 not msgpack";
  wire::Reply malformed = witness.server.Handle(garbage);
  CHECK(CodeOf(malformed) == Code::kInvalidArgument);
  CHECK_THAT(malformed.message, Catch::StartsWith("reserve-vote request: "));
}

TEST_CASE("a corrupt record refuses its volume's votes; other volumes still vote") {
  WitnessUnderTest witness;
  REQUIRE(CodeOf(witness.server.Handle(VoteFrom("a", VoteFor("quorum", "a")))) == Code::kOk);
  std::ofstream(witness.store->PathOf("broken"), std::ios::binary) << std::string(64, 'x');
  for (const std::string site : {"a", "b"}) {
    wire::Reply refused = witness.server.Handle(VoteFrom(site, VoteFor("broken", site, "", true)));
    CHECK(CodeOf(refused) == Code::kCorruption);
    CHECK_THAT(refused.message,
               Catch::Contains("record of broken is unusable") && Catch::Contains("bad magic"));
  }
  CHECK(CodeOf(witness.server.Handle(VoteFrom("b", ReleaseOf("broken", "b")))) ==
        Code::kCorruption);
  CHECK(CodeOf(witness.server.Handle(VoteFrom("b", VoteFor("other", "b")))) == Code::kOk);
  CHECK(CodeOf(witness.server.Handle(VoteFrom("a", VoteFor("quorum", "a")))) == Code::kOk);
}

TEST_CASE("a grant the witness cannot write is refused and the record stays as it was") {
  WitnessUnderTest witness;
  REQUIRE(CodeOf(witness.server.Handle(VoteFrom("a", VoteFor("quorum", "a")))) == Code::kOk);
  std::filesystem::create_directory(witness.store->PathOf("quorum") + ".tmp");
  wire::Reply failed = witness.server.Handle(VoteFrom("b", VoteFor("quorum", "b", "", true)));
  CHECK(CodeOf(failed) == Code::kIoError);
  CHECK_THAT(failed.message, Catch::StartsWith("the witness cannot record the grant: "));
  CHECK(failed.reservation.holder == "a");
  CHECK(witness.store->Load("quorum")->holder == "a");
  // A re-grant to the holder changes nothing and needs no write.
  CHECK(CodeOf(witness.server.Handle(VoteFrom("a", VoteFor("quorum", "a")))) == Code::kOk);
}

TEST_CASE("the witness serves over a real socket until its stop flag is set") {
  WitnessUnderTest witness;
  wire::Context context;
  const std::string endpoint = "ipc://" + witness.dir.path() + "/witness.sock";
  std::atomic<bool> stop{false};
  Status served;
  std::thread serving([&] { served = witness.server.Serve(context, endpoint, stop); });
  auto client = std::move(wire::Client::Connect(context, endpoint, "b").value());
  REQUIRE(client->SendBytes("definitely not a frame").ok());
  REQUIRE(client->ReceiveBytes(2000).ok());
  Result<wire::Reply> reply = client->Call(VoteFor("quorum", "b"), 2000);
  REQUIRE(reply.ok());
  CHECK(reply->ToStatus().ok());
  CHECK(reply->reservation.holder == "b");
  stop.store(true);
  serving.join();
  CHECK(served.ok());
}

TEST_CASE("the witness reports an endpoint it cannot bind") {
  WitnessUnderTest witness;
  wire::Context context;
  std::atomic<bool> stop{false};
  Status served = witness.server.Serve(context, "ipc:///nonexistent-dir/witness.sock", stop);
  CHECK(served.code() == Code::kIoError);
}

TEST_CASE("pairfs --witness needs [witness] with the two data sites") {
  Config config;
  config.path = "w.toml";
  config.site.name = "w";
  CHECK(CheckWitnessConfig(config).message() ==
        "w.toml: [witness]: missing (pairfs --witness needs its endpoint and sites)");
  config.witness.present = true;
  config.witness.endpoint = "tcp://127.0.0.1:7300";
  CHECK(CheckWitnessConfig(config).message() ==
        "w.toml: witness.sites: missing (pairfs --witness needs the two site names it serves)");
  config.witness.sites = {"a", "w"};
  CHECK_THAT(CheckWitnessConfig(config).message(),
             Catch::Contains("names this witness's own site w"));
  config.witness.sites = {"a", "b"};
  CHECK(CheckWitnessConfig(config).ok());
}
