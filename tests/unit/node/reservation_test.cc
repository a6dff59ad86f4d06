#include "node/reservation.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <vector>

using namespace pairfs;
using namespace pairfs::node;

namespace {

wire::ReservationRecord Record(uint64_t epoch, std::string holder, std::string outdated = "") {
  return wire::ReservationRecord{epoch, std::move(holder), std::move(outdated)};
}

wire::ReserveVoteRequest Reserve(std::string holder, std::string outdated = "",
                                 bool force = false) {
  return wire::ReserveVoteRequest{"quorum", std::move(holder), std::move(outdated), force, false};
}

wire::ReserveVoteRequest Release(std::string holder, bool force = false) {
  return wire::ReserveVoteRequest{"quorum", std::move(holder), "", force, true};
}

constexpr bool kGranted = true;
constexpr bool kRefused = false;

// Checks one vote: granted or refused, the record after it (epoch, holder, outdated), and, unless
// `reason` is null, the reason.
void CheckVote(const VoteOutcome& outcome, bool granted, const wire::ReservationRecord& after,
               const char* reason = nullptr) {
  CHECK(outcome.granted == granted);
  CHECK(outcome.record.epoch == after.epoch);
  CHECK(outcome.record.holder == after.holder);
  CHECK(outcome.record.outdated == after.outdated);
  if (reason != nullptr) CHECK(outcome.reason == reason);
}

constexpr const char* kBOutdated =
    "site b is outdated (its copies may miss acknowledged writes); only --force can make it win";

}  // namespace

TEST_CASE("reserve of an empty record is granted with the next epoch") {
  CheckVote(Vote(Record(3, ""), Reserve("a")), kGranted, Record(4, "a"), "reserved by a, epoch 4");
}

TEST_CASE("two askers of an empty record: the first wins, the second is refused") {
  VoteOutcome first = Vote(Record(0, ""), Reserve("a"));
  CheckVote(first, kGranted, Record(1, "a"));
  CheckVote(Vote(first.record, Reserve("b")), kRefused, Record(1, "a"), "reserved by a");
}

TEST_CASE("reserve without a holder is refused and changes nothing") {
  CheckVote(Vote(Record(2, "a", "b"), Reserve("")), kRefused, Record(2, "a", "b"),
            "a reserve needs a holder");
  CheckVote(Vote(Record(2, ""), Reserve("", "", true)), kRefused, Record(2, ""));
}

TEST_CASE("a site cannot mark itself outdated and win") {
  CheckVote(Vote(Record(2, ""), Reserve("a", "a")), kRefused, Record(2, ""),
            "site a cannot mark itself outdated and win");
  CheckVote(Vote(Record(2, "a"), Reserve("a", "a", true)), kRefused, Record(2, "a"));
}

TEST_CASE("the holder asking again is granted with the epoch unchanged") {
  CheckVote(Vote(Record(5, "a", "b"), Reserve("a")), kGranted, Record(5, "a", "b"),
            "already reserved by a");
  // and its outdated mark is recorded, also with force
  CheckVote(Vote(Record(5, "a"), Reserve("a", "b")), kGranted, Record(5, "a", "b"));
  CheckVote(Vote(Record(5, "a"), Reserve("a", "", true)), kGranted, Record(5, "a"));
}

TEST_CASE("reserve of a record another site holds is refused without force") {
  CheckVote(Vote(Record(7, "b", "c"), Reserve("a")), kRefused, Record(7, "b", "c"),
            "reserved by b");
}

TEST_CASE("an outdated site is refused without force, and told so") {
  CheckVote(Vote(Record(4, "", "b"), Reserve("b")), kRefused, Record(4, "", "b"), kBOutdated);
  // also when another site holds the record: both reasons, in one line
  const std::string both = std::string("reserved by a; ") + kBOutdated;
  CheckVote(Vote(Record(7, "a", "b"), Reserve("b")), kRefused, Record(7, "a", "b"), both.c_str());
}

TEST_CASE("the other site may win over an outdated mark, which stays unless it sends a new one") {
  CheckVote(Vote(Record(4, "", "b"), Reserve("a")), kGranted, Record(5, "a", "b"));
  CheckVote(Vote(Record(4, "", "c"), Reserve("a", "b")), kGranted, Record(5, "a", "b"));
}

TEST_CASE("force takes a record another site holds") {
  CheckVote(Vote(Record(7, "b"), Reserve("a", "", true)), kGranted, Record(8, "a"),
            "reserved by a, epoch 8 (forced: taken from b)");
  CheckVote(Vote(Record(7, "b"), Reserve("a", "b", true)), kGranted, Record(8, "a", "b"));
}

TEST_CASE("a forced win clears the winner's own outdated mark unless it marks the other site") {
  CheckVote(Vote(Record(4, "", "b"), Reserve("b", "", true)), kGranted, Record(5, "b"),
            "reserved by b, epoch 5 (forced: its outdated mark cleared)");
  CheckVote(Vote(Record(4, "a", "b"), Reserve("b", "", true)), kGranted, Record(5, "b"));
  CheckVote(Vote(Record(4, "a", "b"), Reserve("b", "a", true)), kGranted, Record(5, "b", "a"));
}

TEST_CASE("release by the holder clears holder and outdated and bumps the epoch") {
  CheckVote(Vote(Record(6, "a", "b"), Release("a")), kGranted, Record(7, ""), "released, epoch 7");
}

TEST_CASE("release of an unheld record is granted, clears outdated and keeps the epoch") {
  CheckVote(Vote(Record(6, "", "b"), Release("a")), kGranted, Record(6, ""));
  CheckVote(Vote(Record(6, ""), Release("")), kGranted, Record(6, ""));
}

TEST_CASE("release by another site is refused without force, and granted with it") {
  CheckVote(Vote(Record(6, "a", "b"), Release("b")), kRefused, Record(6, "a", "b"),
            "reserved by a");
  CheckVote(Vote(Record(6, "a"), Release("")), kRefused, Record(6, "a"));
  CheckVote(Vote(Record(6, "a", "b"), Release("b", true)), kGranted, Record(7, ""));
}

TEST_CASE("release ignores the request's outdated mark") {
  const wire::ReserveVoteRequest request{"quorum", "a", "b", false, true};
  CheckVote(Vote(Record(1, "a"), request), kGranted, Record(2, ""));
}

wire::ReserveVoteRequest Numbered(wire::ReserveVoteRequest request, uint64_t hold) {
  request.hold = hold;
  return request;
}

wire::ReservationRecord Held(wire::ReservationRecord record, uint64_t hold) {
  record.hold = hold;
  return record;
}

TEST_CASE("a grant records the reserve's number; the holder asking again keeps the larger",
          "[reservation][late]") {
  CHECK(Vote(Record(6, ""), Numbered(Reserve("a"), 100)).record.hold == 100);
  CHECK(Vote(Held(Record(6, "b"), 40), Numbered(Reserve("a", "", true), 100)).record.hold == 100);
  const VoteOutcome again = Vote(Held(Record(7, "a"), 100), Numbered(Reserve("a"), 300));
  CHECK(again.granted);
  CHECK(again.record.epoch == 7);
  CHECK(again.record.hold == 300);
  // a late reserve of the holder's own (an older number) never lowers it
  CHECK(Vote(Held(Record(7, "a"), 300), Numbered(Reserve("a"), 100)).record.hold == 300);
  // a vote of an older version carries no number: the record's stays
  CHECK(Vote(Held(Record(7, "a"), 300), Reserve("a")).record.hold == 300);
}

// Cluster simulation seed 93 with late frames: a's release (numbered 740) reaches the witness
// after a's newer reserve (2981) was granted there as "already reserved by a"; it must not end
// that hold.
TEST_CASE("a release numbered before the holder's newer reserve is late: refused, unchanged",
          "[reservation][late]") {
  const wire::ReservationRecord held = Held(Record(3, "a", "b"), 2981);
  const VoteOutcome late = Vote(held, Numbered(Release("a"), 740));
  CheckVote(late, kRefused, Record(3, "a", "b"),
            "a late release: site a reserved again after it (hold 2981, the release 740)");
  CHECK(late.late);
  CHECK(late.record.hold == 2981);
  // ... also when forced: a forced release sent before the hold it would end is late as well
  CHECK(Vote(held, Numbered(Release("a", true), 740)).late);
  // The holder's release numbered after its reserve ends the hold, and clears the number.
  const VoteOutcome released = Vote(held, Numbered(Release("a"), 5000));
  CheckVote(released, kGranted, Record(4, ""));
  CHECK_FALSE(released.late);
  CHECK(released.record.hold == 0);
  CHECK(Vote(held, Numbered(Release("a"), 2981)).granted);  // the same number: not before it
}

TEST_CASE("a vote or record without a number (an older version's) is never late",
          "[reservation][late]") {
  CHECK(Vote(Held(Record(3, "a"), 2981), Release("a")).granted);
  CHECK(Vote(Record(3, "a"), Numbered(Release("a"), 740)).granted);
  // another site's release is judged by the holder, not by numbers: refused, not late
  const VoteOutcome other = Vote(Held(Record(3, "a"), 2981), Numbered(Release("b"), 740));
  CHECK_FALSE(other.granted);
  CHECK_FALSE(other.late);
  // ... and with force it takes the record whatever its number
  CHECK(Vote(Held(Record(3, "a"), 2981), Numbered(Release("b", true), 740)).granted);
}

// The majority property of a reserve with a witness: three copies, two sites racing, each asking
// every copy once. Whatever the copies held before and whatever the order the six votes arrive
// in, at most one site collects two grants. (Force is excluded: it exists to break this rule.)
TEST_CASE("with three copies and two racing askers, at most one gets a majority in any order") {
  const std::vector<wire::ReservationRecord> starts = {Record(0, ""),      Record(3, "a"),
                                                       Record(3, "b"),     Record(2, "", "a"),
                                                       Record(2, "", "b"), Record(5, "a", "b")};
  const std::array<wire::ReserveVoteRequest, 2> askers = {Reserve("a", "b"), Reserve("b")};
  // The six votes as (asker, copy); every permutation is one interleaving.
  std::array<int, 6> order = {0, 1, 2, 3, 4, 5};
  size_t runs = 0, decided = 0;
  for (const auto& copy0 : starts) {
    for (const auto& copy1 : starts) {
      for (const auto& copy2 : starts) {
        std::sort(order.begin(), order.end());
        do {
          std::array<wire::ReservationRecord, 3> copies = {copy0, copy1, copy2};
          std::array<int, 2> grants = {0, 0};
          for (int vote : order) {
            const int asker = vote / 3, copy = vote % 3;
            VoteOutcome outcome = Vote(copies[copy], askers[asker]);
            copies[copy] = outcome.record;
            grants[asker] += outcome.granted ? 1 : 0;
          }
          ++runs;
          const bool a_wins = grants[0] >= 2, b_wins = grants[1] >= 2;
          if (a_wins && b_wins) {
            FAIL("both sites won: copies started as ("
                 << copy0.holder << "/" << copy0.outdated << ", " << copy1.holder << "/"
                 << copy1.outdated << ", " << copy2.holder << "/" << copy2.outdated << ")");
          }
          decided += (a_wins || b_wins) ? 1 : 0;
        } while (std::next_permutation(order.begin(), order.end()));
      }
    }
  }
  CHECK(runs == 6 * 6 * 6 * 720);
  CHECK(decided > 0);
}

TEST_CASE("from empty copies, the site whose votes arrive first at two copies wins") {
  std::array<wire::ReservationRecord, 3> copies;
  auto ask = [&copies](int copy, const std::string& site) {
    VoteOutcome outcome = Vote(copies[copy], Reserve(site));
    copies[copy] = outcome.record;
    return outcome.granted;
  };
  CHECK(ask(0, "a"));
  CHECK(ask(1, "b"));
  CHECK(ask(2, "a"));
  CHECK_FALSE(ask(0, "b"));
  CHECK_FALSE(ask(2, "b"));
  CHECK_FALSE(ask(1, "a"));
  CHECK(copies[1].holder == "b");
}
