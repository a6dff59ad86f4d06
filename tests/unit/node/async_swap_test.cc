// The four-role swap of async pairs (node/async_swap.cc): the state machine's async demotion,
// the journal's role flip in one header write (ResetAs), the RPO estimate and its log line, and
// the checks of the journal batch's appended fields.
#include <catch2/catch.hpp>

#include "node/async_rpo.h"
#include "node/journal.h"
#include "node/pair_state.h"
#include "tests/unit/node/journal_test_support.h"
#include "wire/journal_messages.h"

using namespace pairfs;
using namespace pairfs::node;
using pairfs::testing::AppendOk;
using pairfs::testing::DataWrite;
using pairfs::testing::FormatAndOpen;
using pairfs::testing::Reopen;

namespace {

PairContext Async() {
  PairContext context;
  context.mode = PairMode::kAsync;
  return context;
}

PairState State(PairRole role, PairStatus status) { return {role, status, true, false, false}; }

}  // namespace

TEST_CASE("async demotion for a swap: PFUL swaps too, a repeated demote takes the new generation",
          "[async][swap]") {
  // A PFUL primary (a backlog over the high-water mark) is demoted like one in PAIR: the drain
  // ships the backlog before its journal turns.
  Result<PairTransition> pful =
      Transit(State(PairRole::kPrimary, PairStatus::kPFUL), PairEvent::kDemotedBySwap, Async());
  REQUIRE(pful.ok());
  CHECK(pful->next.role == PairRole::kSecondary);
  CHECK(pful->next.status == PairStatus::kPAIR);
  CHECK(pful->actions == std::vector<PairAction>{PairAction::kAdoptPeerGeneration});
  // A takeover retried after a crash asks the demoted side again: same state, new generation.
  Result<PairTransition> again =
      Transit(State(PairRole::kSecondary, PairStatus::kPAIR), PairEvent::kDemotedBySwap, Async());
  REQUIRE(again.ok());
  CHECK(again->next == State(PairRole::kSecondary, PairStatus::kPAIR));
  CHECK(again->actions == std::vector<PairAction>{PairAction::kAdoptPeerGeneration});
  // Sync pairs keep their rules: only a primary in PAIR is demoted.
  CHECK_FALSE(
      Transit(State(PairRole::kSecondary, PairStatus::kPAIR), PairEvent::kDemotedBySwap, {}).ok());
  CHECK_FALSE(
      Transit(State(PairRole::kPrimary, PairStatus::kPFUS), PairEvent::kDemotedBySwap, Async())
          .ok());
  // The new primary's side: with the peer answering in PAIR a takeover swaps, else SSWS.
  PairContext answering = Async();
  answering.peer_reachable = true;
  Result<PairTransition> swap =
      Transit(State(PairRole::kSecondary, PairStatus::kPAIR), PairEvent::kTakeover, answering);
  REQUIRE(swap.ok());
  CHECK(swap->next.role == PairRole::kPrimary);
  PairContext silent = Async();
  silent.peer_reachable = false;
  Result<PairTransition> ssws =
      Transit(State(PairRole::kSecondary, PairStatus::kPAIR), PairEvent::kTakeover, silent);
  REQUIRE(ssws.ok());
  CHECK(ssws->next.status == PairStatus::kSSWS);
  CHECK(WriteRuleFor(ssws->next, silent) == WriteRule::kLocalTracked);
}

TEST_CASE("a journal's role flips with its reset in one header write, and stays flipped",
          "[async][swap][journal]") {
  auto file = std::make_shared<MemoryBlockFile>(64 * 1024);
  std::unique_ptr<Journal> journal = FormatAndOpen(file, JournalRole::kMaster);
  const std::string data(512, 'x');
  AppendOk(*journal, DataWrite("db", 0, data));
  AppendOk(*journal, DataWrite("db", 4096, data));
  REQUIRE(journal->Sync().ok());
  REQUIRE(journal->ResetAs(1, JournalRole::kRestore).ok());
  CHECK(journal->role() == JournalRole::kRestore);
  CHECK(journal->next_sequence() == 1);
  CHECK(journal->used_bytes() == 0);
  CHECK(journal->applied_sequence() == 0);
  // A master's append is refused now: the restore journal takes the peer's entries only.
  CHECK_FALSE(journal->Append(DataWrite("db", 0, data)).ok());
  journal.reset();
  file->Crash();  // what was synced is what a restart finds
  std::unique_ptr<Journal> reopened = Reopen(file);
  CHECK(reopened->role() == JournalRole::kRestore);
  CHECK(reopened->next_sequence() == 1);
  CHECK(reopened->recovery().entries == 0);
  // And back: the restore journal becomes a master journal whose first entry is 1.
  REQUIRE(reopened->ResetAs(1, JournalRole::kMaster).ok());
  CHECK(AppendOk(*reopened, DataWrite("db", 0, data)) == 1);
}

TEST_CASE("the RPO estimate: what the primary appended beyond what was received", "[async][rpo]") {
  RpoHeard heard;
  heard.heard = true;
  heard.through = 7;
  heard.appended_sequence = 10;
  heard.unsent_bytes = 3 * 4096;
  heard.unsent_span_ms = 40;
  heard.heard_unix_ms = 1000;

  RpoEstimate lost = EstimateRpo(heard, 7, false, 1500);
  CHECK(lost.known);
  CHECK(lost.lost_writes == 3);
  CHECK(lost.lost_bytes == 3 * 4096);
  CHECK(lost.span_ms == 40);
  CHECK(lost.lower_bound);
  CHECK(lost.heard_ago_ms == 500);
  const std::string line = DescribeRpo("app", "a", lost);
  CHECK(line.find("group app: lost at most 3 writes / 12 KiB written in the last 40 ms before the "
                  "link to site a was lost") == 0);
  CHECK(line.find("lower bound") != std::string::npos);

  // Everything heard of was received: nothing known lost, still a lower bound.
  RpoEstimate none = EstimateRpo(heard, 10, false, 1500);
  CHECK(none.lost_writes == 0);
  CHECK(none.lost_bytes == 0);
  CHECK(none.lower_bound);
  // A planned swap pulled everything.
  RpoEstimate planned = EstimateRpo(heard, 7, true, 1500);
  CHECK(planned.known);
  CHECK_FALSE(planned.lower_bound);
  CHECK(planned.lost_writes == 0);
  CHECK(DescribeRpo("app", "a", planned).find("lost 0 writes") != std::string::npos);
  // Nothing heard since this site started: unknown, said so.
  RpoEstimate unknown = EstimateRpo(RpoHeard{}, 0, false, 1500);
  CHECK_FALSE(unknown.known);
  CHECK(DescribeRpo("app", "a", unknown).find("RPO unknown") != std::string::npos);
  // A clock that went back never makes a negative age.
  CHECK(EstimateRpo(heard, 7, false, 10).heard_ago_ms == 0);
}

TEST_CASE("the RPO estimate counts the bytes of a heard batch that never became durable",
          "[async][rpo]") {
  // Entries 8..10 arrived in a batch ahead of 6..7 (a window of batches in flight), which never
  // came: 8..10 are not durable, their bytes are lost as well as the 2 unsent after them.
  RpoHeard heard;
  heard.heard = true;
  heard.first_sequence = 8;
  heard.entry_bytes = {4096, 8192, 4096};
  heard.through = 10;
  heard.appended_sequence = 12;
  heard.unsent_bytes = 2 * 4096;
  heard.heard_unix_ms = 1000;
  RpoEstimate gap = EstimateRpo(heard, 5, false, 1500);
  CHECK(gap.lost_writes == 7);        // 6..12
  CHECK(gap.lost_bytes == 6 * 4096);  // 8..12 known; 6..7 sizes unknown here
  RpoEstimate durable_to_8 = EstimateRpo(heard, 8, false, 1500);
  CHECK(durable_to_8.lost_writes == 4);        // 9..12
  CHECK(durable_to_8.lost_bytes == 5 * 4096);  // 8192 + 4096 + the 2 unsent
  RpoEstimate all = EstimateRpo(heard, 12, false, 1500);
  CHECK(all.lost_writes == 0);
  CHECK(all.lost_bytes == 0);
}

TEST_CASE("the RPO fields of an older batch served last do not replace a newer one's",
          "[async][rpo]") {
  RpoHeard older;
  older.heard = true;
  older.through = 4;
  older.appended_sequence = 10;
  RpoHeard newer = older;
  newer.through = 8;
  newer.appended_sequence = 12;
  CHECK(RpoHeardIsNewer(older, RpoHeard{}));
  CHECK(RpoHeardIsNewer(newer, older));
  CHECK_FALSE(RpoHeardIsNewer(older, newer));
  RpoHeard same_append = older;  // two batches sent after the same append: the later one wins
  same_append.through = 6;
  CHECK(RpoHeardIsNewer(same_append, older));
  CHECK_FALSE(RpoHeardIsNewer(older, same_append));
}

TEST_CASE("journal batch: the appended generation and RPO fields are checked", "[async][wire]") {
  wire::JournalBatchMessage batch;
  batch.group = "app";
  batch.first_sequence = 5;
  wire::JournalEntryMessage entry;
  entry.volume = "db";
  entry.kind = static_cast<uint8_t>(wire::WriteKind::kData);
  entry.length = 4;
  entry.data = {'a', 'b', 'c', 'd'};
  for (uint64_t s = 5; s <= 6; ++s) {
    entry.sequence = s;
    batch.entries.push_back(entry);
  }
  CHECK(batch.Check().ok());  // a sender that predates the fields sends zeros
  batch.generation = {3, "a"};
  batch.appended_sequence = 9;
  batch.unsent_bytes = 12;
  CHECK(batch.Check().ok());
  batch.appended_sequence = 5;  // before the batch's own last entry
  CHECK_FALSE(batch.Check().ok());
  batch.appended_sequence = 9;
  batch.generation.site = "no/site";
  CHECK_FALSE(batch.Check().ok());
  batch.generation.site = "a";
  batch.unsent_span_ms = uint64_t{1} << 63;
  CHECK_FALSE(batch.Check().ok());
}
