// cluster_table: prints the cluster state machine of clusterd/cluster_state.cc as the groff text
// of clusterd(8)'s STATE TRANSITIONS section. `make check` compares the man page with it, so the
// page always tells what the code does.
//
// For every phase and every event it asks Decide() about each combination of what may matter:
// the event's own variants (the peer's phase in a heartbeat, the determining volume's role after
// a won reserve), always named in a row, and the flags of ClusterState that can hold in that
// phase (resuming, peer alive, race scheduled, applications started, determining volume held),
// named only where they decide the outcome. Rows that change nothing (beyond the peer's liveness
// and phase, which every phase records) are left out. A new flag that Decide() reads must be
// added to StateDimensions, or the table cannot show what it does.
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "clusterd/cluster_state.h"

using namespace pairfs::clusterd;

namespace {

// Every value of the enum, in order: the names end in "?" past the last one.
template <class Enum>
std::vector<Enum> AllOf(const char* (*name)(Enum)) {
  std::vector<Enum> all;
  for (int value = 0; value < 256 && std::string(name(static_cast<Enum>(value))) != "?"; ++value) {
    all.push_back(static_cast<Enum>(value));
  }
  return all;
}

const std::vector<Phase> kPhases = AllOf(PhaseName);

// One thing that may matter: how each of its values is said, and how it is set in a state or an
// input.
struct Dimension {
  std::vector<std::string> labels;
  std::function<void(size_t value, ClusterState*, Input*)> apply;
};
using Values = std::vector<size_t>;  // one per dimension

Dimension Flag(bool ClusterState::*field, const char* yes, const char* no) {
  return {{no, yes},
          [field](size_t value, ClusterState* state, Input*) { state->*field = value == 1; }};
}

Dimension PeerPhase(bool of_input) {
  Dimension d;
  for (Phase phase : kPhases) d.labels.push_back(std::string("peer ") + PhaseName(phase));
  d.apply = [of_input](size_t value, ClusterState* state, Input* input) {
    (of_input ? input->peer_phase : state->peer_phase) = kPhases[value];
  };
  return d;
}

// The flags that can hold in each phase (what Decide() and the daemon let happen).
std::vector<Dimension> StateDimensions(Phase phase) {
  const Dimension alive = Flag(&ClusterState::peer_alive, "peer alive", "peer lost");
  const Dimension holds = Flag(&ClusterState::holds_determining, "holding the determining volume",
                               "determining volume not held");
  const Dimension race = Flag(&ClusterState::race_pending, "race scheduled", "no race scheduled");
  const Dimension fenced = Flag(&ClusterState::copies_fenced, "copies fenced", "copies not fenced");
  switch (phase) {
    case Phase::kStarting:  // nothing heard yet, nothing scheduled, nothing started or held
      return {Flag(&ClusterState::resuming, "resuming", "not resuming")};
    case Phase::kStandby:  // holding: a hold of its node's fence reserve, learnt from the record
      return {alive, PeerPhase(false), race, holds};
    case Phase::kReserving:  // copies fenced: a FENCED site racing again
      return {alive,
              Flag(&ClusterState::started, "applications started here",
                   "applications not started here"),
              fenced};
    case Phase::kActive:  // copies fenced: the winner's unfence was refused
      return {alive, PeerPhase(false), holds, fenced};
    case Phase::kFenced: return {alive, PeerPhase(false), race};
  }
  return {};
}

// The event's own variants.
std::vector<Dimension> InputDimensions(Event event) {
  if (event == Event::kPeerSeen) return {PeerPhase(true)};
  if (event == Event::kReserveWon) {
    return {{{"determining volume secondary here", "determining volume primary here"},
             [](size_t value, ClusterState*, Input* input) {
               input->determining_primary_here = value == 1;
             }}};
  }
  return {};
}

// The state and input of one combination: `dims` set to `values` over the phase's usual state.
std::pair<ClusterState, Input> Situation(Phase phase, Event event,
                                         const std::vector<Dimension>& dims, const Values& values) {
  ClusterState state;
  state.phase = phase;
  state.started =
      phase == Phase::kActive;  // an active site won: it started (or kept) the applications
  Input input{event};
  for (size_t i = 0; i < dims.size(); ++i) dims[i].apply(values[i], &state, &input);
  return {state, input};
}

// Nothing happens: same state apart from the peer's liveness and phase, no actions.
bool ChangesNothing(const ClusterState& from, const Transition& t) {
  ClusterState next = t.next;
  next.peer_alive = from.peer_alive;
  next.peer_phase = from.peer_phase;
  return t.actions.empty() && next == from;
}

// What a row says happens: the next phase, a change worth naming, and the actions in order.
std::string Outcome(const ClusterState& from, const Transition& t) {
  std::string text = PhaseName(t.next.phase);
  if (from.holds_determining && !t.next.holds_determining && t.next.phase != Phase::kFenced) {
    text += ", determining volume no longer held";
  }
  for (size_t i = 0; i < t.actions.size(); ++i)
    text += (i ? ", " : " (") + std::string(ActionName(t.actions[i]));
  return t.actions.empty() ? text : text + ")";
}

// The outcome with its reason, or "" when nothing happens: what rows are compared by.
std::string OutcomeKey(const std::pair<ClusterState, Input>& situation) {
  const Transition t = Decide(situation.first, situation.second);
  return ChangesNothing(situation.first, t) ? "" : Outcome(situation.first, t) + "\n" + t.why;
}

// Every combination of values of `dims`.
std::vector<Values> Combinations(const std::vector<Dimension>& dims) {
  std::vector<Values> all = {{}};
  for (const Dimension& d : dims) {
    std::vector<Values> longer;
    for (const Values& prefix : all) {
      for (size_t v = 0; v < d.labels.size(); ++v) {
        longer.push_back(prefix);
        longer.back().push_back(v);
      }
    }
    all = std::move(longer);
  }
  return all;
}

// Which flags the row of `point` must name: leaving flags out one by one, a flag stays when
// some combination that agrees with `point` on the flags kept so far has another outcome. So a
// row holds for every combination it covers, and two rows that overlap say the same.
std::vector<bool> FlagsToName(const Values& point, const std::vector<Values>& all,
                              const std::function<std::string(const Values&)>& outcome_at) {
  const std::string here = outcome_at(point);
  std::vector<bool> named(point.size(), true);
  for (size_t i = 0; i < point.size(); ++i) {
    named[i] = false;
    for (const Values& other : all) {
      bool covered = true;
      for (size_t j = 0; j < point.size(); ++j)
        covered = covered && (!named[j] || other[j] == point[j]);
      if (covered && outcome_at(other) != here) {
        named[i] = true;
        break;
      }
    }
  }
  return named;
}

// groff reads a bare '-' as a hyphen and '`' as a grave accent; write them as groff escapes.
std::string Groff(const std::string& text) {
  std::string out;
  for (char c : text)
    out += c == '-' ? std::string("\\-") : c == '`' ? std::string("\\(ga") : std::string(1, c);
  return out;
}

void PrintRow(Event event, const std::string& condition,
              const std::pair<ClusterState, Input>& situation) {
  const Transition t = Decide(situation.first, situation.second);
  std::printf(".TP\n.B %s%s\n%s\n", Groff(EventName(event)).c_str(),
              condition.empty() ? "" : Groff(" (" + condition + ")").c_str(),
              Groff(Outcome(situation.first, t)).c_str());
  if (!t.why.empty()) std::printf(".br\n\\(lq%s\\(rq\n", Groff(t.why).c_str());
}

void Rows(Phase phase, Event event) {
  const std::vector<Dimension> inputs = InputDimensions(event);
  const std::vector<Dimension> flags = StateDimensions(phase);
  std::vector<Dimension> dims = inputs;
  dims.insert(dims.end(), flags.begin(), flags.end());
  const std::vector<Values> all_flags = Combinations(flags);
  for (const Values& input_values : Combinations(inputs)) {
    auto values_of = [&](const Values& flag_values) {
      Values values = input_values;
      values.insert(values.end(), flag_values.begin(), flag_values.end());
      return values;
    };
    auto outcome_at = [&](const Values& flag_values) {
      return OutcomeKey(Situation(phase, event, dims, values_of(flag_values)));
    };
    std::vector<std::string> printed;
    for (const Values& point : all_flags) {
      if (outcome_at(point).empty()) continue;
      const std::vector<bool> named = FlagsToName(point, all_flags, outcome_at);
      std::string condition;
      for (size_t i = 0; i < inputs.size(); ++i) {
        condition += (condition.empty() ? "" : ", ") + inputs[i].labels[input_values[i]];
      }
      for (size_t i = 0; i < flags.size(); ++i) {
        if (named[i]) condition += (condition.empty() ? "" : ", ") + flags[i].labels[point[i]];
      }
      bool seen = false;
      for (const std::string& row : printed) seen = seen || row == condition;
      if (seen) continue;
      printed.push_back(condition);
      PrintRow(event, condition, Situation(phase, event, dims, values_of(point)));
    }
  }
}

}  // namespace

int main() {
  for (Phase phase : kPhases) {
    std::printf(".SS %s\n", PhaseName(phase));
    for (Event event : AllOf(EventName)) Rows(phase, event);
  }
  return 0;
}
