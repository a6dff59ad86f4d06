// The peer calls of a cluster simulation's node (tests/sim/cluster_sim_calls.h).
#include "tests/sim/cluster_sim_calls.h"

#include "tests/sim/cluster_sim_world.h"

namespace pairfs::sim::cluster {

using Kind = Message::Kind;

void Calls::Reset() {
  calls_.clear();
  confirms_.clear();
  answers_.clear();
  answered_ = std::make_unique<node::AnsweredRequests>();
}

void Calls::Send(const std::string& to, const Message& message) {
  world_.Send(owner_.name(), to, message);
}

void Calls::Settle(std::map<uint64_t, Then>& waiting, uint64_t id, std::optional<Message> answer) {
  auto call = waiting.find(id);
  if (call == waiting.end()) return;
  Then then = std::move(call->second);
  waiting.erase(call);
  then(std::move(answer));
}

uint64_t Calls::Exchange(Message request, const std::string& to, int timeout_ms, bool resend,
                         Then then) {
  request.id = world_.NextId();
  request.origin = origin_;
  const uint64_t id = request.id;
  calls_[id] = std::move(then);
  Send(to, request);
  const int64_t deadline = world_.now() + timeout_ms;
  if (resend) {
    owner_.After(kRetransmitMs, [this, request, to, deadline] { Resend(request, to, deadline); });
  }
  owner_.After(timeout_ms, [this, id] { Settle(calls_, id, std::nullopt); });
  return id;
}

void Calls::Resend(const Message& request, const std::string& to, int64_t deadline_ms) {
  if (!Waiting(request.id) || world_.now() >= deadline_ms) return;
  Send(to, request);
  owner_.After(kRetransmitMs,
               [this, request, to, deadline_ms] { Resend(request, to, deadline_ms); });
}

void Calls::ExpectConfirm(uint64_t id, int timeout_ms, Then then) {
  confirms_[id] = std::move(then);
  owner_.After(timeout_ms, [this, id] { Settle(confirms_, id, std::nullopt); });
}

bool Calls::Deliver(const Message& message) {
  switch (message.kind) {
    case Kind::kWriteConfirm: Settle(confirms_, message.id, message); return true;
    case Kind::kWriteAck:
    case Kind::kWriteGrant:
    case Kind::kAnswer:
    case Kind::kWitnessAnswer: Settle(calls_, message.id, message); return true;
    default: return false;
  }
}

bool Calls::Claim(const Message& request, const std::string& to) {
  std::string sent;
  switch (answered_->Take(request.id, &sent)) {
    case node::AnsweredRequests::Claim::kNew: return true;
    case node::AnsweredRequests::Claim::kInProgress: return false;
    case node::AnsweredRequests::Claim::kDone: Send(to, answers_.at(request.id)); return false;
  }
  return false;
}

void Calls::Answer(const Message& request, Message answer, const std::string& to) {
  answer.id = request.id;
  answers_[request.id] = answer;
  answered_->Store(request.id, "sent");  // answers_ holds it
  Send(to, answer);
}

}  // namespace pairfs::sim::cluster
