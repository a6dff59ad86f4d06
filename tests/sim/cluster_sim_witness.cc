// The witness of a cluster simulation (tests/sim/cluster_sim_world.h): the third copy of the
// determining volume's record (node/witness_server.cc), voting by the product's rule.
#include "tests/sim/cluster_sim_world.h"

namespace pairfs::sim::cluster {

using Kind = Message::Kind;

bool SameRecord(const wire::ReservationRecord& x, const wire::ReservationRecord& y) {
  return x.epoch == y.epoch && x.holder == y.holder && x.outdated == y.outdated && x.hold == y.hold;
}

void Witness::Crash() { MarkDown(); }

void Witness::OnMessage(const Message& message) {
  if (message.kind != Kind::kWitnessVote) return;
  const node::VoteOutcome outcome = world_.logic().vote(record, message.vote);
  if (outcome.late) world_.OnLateVote();
  Message reply;
  reply.kind = Kind::kWitnessAnswer;
  reply.id = message.id;
  reply.code = outcome.granted ? Code::kOk : Code::kConflict;
  reply.message = outcome.reason;
  if (outcome.granted) {
    if (!SameRecord(record, outcome.record)) {
      world_.Trace("w: record " + RecordText(record) + " -> " + RecordText(outcome.record));
    }
    record = outcome.record;
  }
  reply.record = record;
  world_.Send("w", message.origin + ".node", reply);
}

}  // namespace pairfs::sim::cluster
