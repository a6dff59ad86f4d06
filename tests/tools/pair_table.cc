// pair_table: prints the pair status transition table of node/pair_state.cc as the groff text
// of pairctl(8)'s STATUS TRANSITIONS section. `make check` compares the man page with it, so the
// page always tells what the code does.
#include <cstdio>
#include <string>

#include "node/pair_state.h"

using namespace pairfs::node;

namespace {

std::string Describe(const PairState& from, PairEvent event, const PairContext& context) {
  pairfs::Result<PairTransition> t = Transit(from, event, context);
  if (!t.ok()) return "";
  std::string text = std::string(RoleName(t->next.role)) + " " + StatusName(t->next.status);
  if (t->next.fenced && !from.fenced) text += ", fenced";
  if (!t->next.consistent && from.consistent) text += ", inconsistent";
  if (t->next.outdated && !from.outdated) text += ", outdated";
  if (t->actions.empty() && t->next == from) return "no change";
  if (!t->actions.empty()) {
    text += " (";
    for (size_t i = 0; i < t->actions.size(); ++i)
      text += (i ? ", " : "") + std::string(ActionName(t->actions[i]));
    text += ")";
  }
  return text;
}

// groff reads a bare '-' as a hyphen; options and minus signs are written '\-'.
std::string Groff(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '-' ? std::string("\\-") : std::string(1, c);
  return out;
}

void Row(const PairState& state, PairEvent event, const PairContext& context,
         const char* condition) {
  const std::string text = Describe(state, event, context);
  if (text.empty() || text == "no change") return;
  std::printf(".TP\n.B %s%s\n%s\n", Groff(EventName(event)).c_str(), condition,
              Groff(text).c_str());
}

}  // namespace

int main() {
  for (PairRole role : kAllRoles) {
    for (PairStatus status : kAllStatuses) {
      const PairState state{role, status, true, false, false};
      if (!IsValidPairState(state)) continue;
      std::printf(".SS %s %s\n", RoleName(role), StatusName(status));
      PairContext sync;
      PairContext async;
      async.mode = PairMode::kAsync;
      std::printf("A write arriving at this side's mount: %s.\n",
                  WriteRuleName(WriteRuleFor(state, sync)));
      for (int e = 0; e < kEventCount; ++e) {
        const auto event = static_cast<PairEvent>(e);
        switch (event) {
          case PairEvent::kLinkLost:
          case PairEvent::kReserveGranted:
          case PairEvent::kReserveLost:
            for (auto [fence, name] : {std::pair{FenceLevel::kNever, " (fence never)"},
                                       std::pair{FenceLevel::kData, " (fence data)"},
                                       std::pair{FenceLevel::kReserve, " (fence reserve)"}}) {
              PairContext context;
              context.fence = fence;
              Row(state, event, context, name);
            }
            break;
          case PairEvent::kTakeover: {
            Row(state, event, sync, " (primary answers)");
            PairContext alone;
            alone.peer_reachable = false;
            Row(state, event, alone, " (primary silent)");
            break;
          }
          case PairEvent::kJournalHighWater:
          case PairEvent::kJournalBelowHighWater:
          case PairEvent::kJournalFull: Row(state, event, async, " (async)"); break;
          default: Row(state, event, sync, "");
        }
      }
    }
  }
  return 0;
}
