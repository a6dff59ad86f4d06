// Fuzzing every pair command's decoder (wire/peer_messages.h) and the answer's: mutants of valid
// encodings; what decodes must pass its type's Check(), and nothing may crash, throw or abort.
#include "tests/unit/fuzz/harness.h"
#include "wire/peer_messages.h"

using namespace pairfs;
using namespace pairfs::wire;

namespace {

// Fuzzes T from `samples`: whatever DecodePeerMessage accepts passes T::Check() again (a decoder
// that returned Ok for an unchecked value would be caught here).
template <class T>
void FuzzCommand(const std::string& name, const std::vector<T>& samples) {
  std::vector<std::string> seeds;
  for (const T& sample : samples) seeds.push_back(EncodeBody(sample));
  fuzz::Fuzz(name, seeds, [](const std::string& input) -> std::string {
    T command;
    if (!DecodePeerMessage(input, &command).ok()) return "";
    Status again = command.Check();
    return again.ok() ? "" : "accepted what its check refuses: " + again.message();
  });
}

}  // namespace

TEST_CASE("fuzz: every pair command's decoder", "[fuzz]") {
  const Generation g{12, "a"};
  FuzzCommand<PeerCreateCommand>("peer-create",
                                 {{"vm1", g, "vm2", 1 << 30, "sync", "never", "group-1", 65536},
                                  {"v", {1, "b"}, "w", 4096, "sync", "data", "", 4096}});
  FuzzCommand<PeerForwardSplitCommand>("peer-forward-split", {{"vm1", true}});
  FuzzCommand<PeerForwardResyncCommand>("peer-forward-resync", {{"vm1"}});
  FuzzCommand<PeerReserveAskCommand>("peer-reserve-ask", {{"vm1", "a", false, true, false, ""},
                                                          {"q", "b", true, false, true, "a"}});
  FuzzCommand<PeerReserveMirrorCommand>("peer-reserve-mirror", {{"vm1", {5, "a", "b"}}});
  FuzzCommand<PeerVoteCommand>("peer-vote", {{"quorum", "a", "b", true, false}});
  FuzzCommand<PeerStatusAskCommand>("peer-status-ask", {{"vm1"}});
  FuzzCommand<PeerVerifyCommand>("peer-verify", {{"vm1", 0, 4096}, {"vm1", 100, 1}});
  FuzzCommand<PeerSplitCommand>("peer-split", {{"vm1", g, true}});
  FuzzCommand<PeerResyncCommand>("peer-resync", {{"vm1", g, false}, {"vm1", g, true}});
  FuzzCommand<PeerDemoteCommand>("peer-demote", {{"vm1", g}});
  FuzzCommand<PeerCopyDoneCommand>("peer-copy-done", {{"vm1", g}});
  FuzzCommand<PeerTrimCommand>("peer-trim", {{"vm1", g}});
  FuzzCommand<PeerDissolveCommand>("peer-dissolve", {{"vm1"}});
  FuzzCommand<PeerBitmapCommand>("peer-bitmap", {{"vm1", g, 0, 2097152}, {"vm1", g, 4096, 8}});
  // pairctl --site: a carried display and a carried takeover (whose body is decoded by Check()).
  const std::string display = EncodeBody(DisplayRequest{"vm1"});
  const std::string takeover = EncodeBody(TakeoverRequest{"vm1", true});
  FuzzCommand<PeerCarryCommand>(
      "peer-carry",
      {{static_cast<uint16_t>(MessageType::kDisplay), {display.begin(), display.end()}},
       {static_cast<uint16_t>(MessageType::kTakeover), {takeover.begin(), takeover.end()}}});
}

TEST_CASE("fuzz: the pair commands' answer", "[fuzz]") {
  PeerAnswerMessage full;
  full.message = "why";
  full.generation = {4, "b"};
  full.role = "secondary";
  full.status = "COPY";
  full.reserved_by = "a";
  full.size_bytes = 1 << 30;
  full.bits = {1, 2, 3, 4};
  full.hashes = {1, 2};
  full.reservation = {3, "a", "b"};
  PeerAnswerMessage refused;
  refused.code = 3;
  FuzzCommand<PeerAnswerMessage>("peer-answer", {full, refused});
}
