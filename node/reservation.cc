#include "node/reservation.h"

#include <algorithm>
#include <utility>

namespace pairfs::node {
namespace {

VoteOutcome Granted(wire::ReservationRecord record, std::string reason) {
  return VoteOutcome{true, std::move(record), std::move(reason)};
}

VoteOutcome Refused(const wire::ReservationRecord& record, std::string reason) {
  return VoteOutcome{false, record, std::move(reason)};
}

VoteOutcome Reserve(const wire::ReservationRecord& record,
                    const wire::ReserveVoteRequest& request) {
  if (request.holder.empty()) return Refused(record, "a reserve needs a holder");
  if (request.outdated == request.holder) {
    return Refused(record, "site " + request.holder + " cannot mark itself outdated and win");
  }
  if (record.holder == request.holder) {
    wire::ReservationRecord kept = record;
    if (!request.outdated.empty()) kept.outdated = request.outdated;
    kept.hold = std::max(record.hold, request.hold);
    return Granted(std::move(kept), "already reserved by " + request.holder);
  }
  if (!request.force) {
    // An asker that is both locked out and outdated hears both: forcing would also lose writes.
    std::string reason;
    if (!record.holder.empty()) reason = "reserved by " + record.holder;
    if (record.outdated == request.holder) {
      reason +=
          (reason.empty() ? "" : "; ") + std::string("site ") + request.holder +
          " is outdated (its copies may miss acknowledged writes); only --force can make it win";
    }
    if (!reason.empty()) return Refused(record, std::move(reason));
  }
  wire::ReservationRecord won;
  won.epoch = record.epoch + 1;
  won.holder = request.holder;
  won.hold = request.hold;
  if (!request.outdated.empty()) {
    won.outdated = request.outdated;
  } else if (record.outdated != request.holder) {
    won.outdated = record.outdated;
  }
  std::string reason = "reserved by " + won.holder + ", epoch " + std::to_string(won.epoch);
  if (!record.holder.empty()) {
    reason += " (forced: taken from " + record.holder + ")";
  } else if (record.outdated == request.holder) {
    reason += " (forced: its outdated mark cleared)";
  }
  return Granted(std::move(won), std::move(reason));
}

// A release by the holder numbered before the reserve that made its hold: a delayed frame.
bool IsLateRelease(const wire::ReservationRecord& record, const wire::ReserveVoteRequest& request) {
  return !record.holder.empty() && record.holder == request.holder && request.hold != 0 &&
         request.hold < record.hold;
}

VoteOutcome Release(const wire::ReservationRecord& record,
                    const wire::ReserveVoteRequest& request) {
  if (IsLateRelease(record, request)) {
    VoteOutcome late =
        Refused(record, "a late release: site " + record.holder +
                            " reserved again after it (hold " + std::to_string(record.hold) +
                            ", the release " + std::to_string(request.hold) + ")");
    late.late = true;
    return late;
  }
  if (!record.holder.empty() && record.holder != request.holder && !request.force) {
    return Refused(record, "reserved by " + record.holder);
  }
  wire::ReservationRecord released;
  released.epoch = record.holder.empty() ? record.epoch : record.epoch + 1;
  return Granted(std::move(released), "released, epoch " + std::to_string(released.epoch));
}

}  // namespace

VoteOutcome Vote(const wire::ReservationRecord& record, const wire::ReserveVoteRequest& request) {
  return request.release ? Release(record, request) : Reserve(record, request);
}

}  // namespace pairfs::node
