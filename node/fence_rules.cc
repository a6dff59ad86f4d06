#include "node/fence_rules.h"

namespace pairfs::node {

bool UnfenceWritesAlone(const PairState& here, WriteRule unfenced_rule) {
  return here.fenced &&
         (unfenced_rule == WriteRule::kLocal || unfenced_rule == WriteRule::kLocalTracked);
}

bool UnfenceWritesAlone(const PairState& here, const PairContext& context,
                        WriteRule (*rule_for)(const PairState&, const PairContext&)) {
  PairState lifted = here;
  lifted.fenced = false;
  return UnfenceWritesAlone(here, rule_for(lifted, context));
}

bool WinnerMayAskPeer(bool holds_determining, const PairState& here, std::string* why) {
  if (!holds_determining) {
    *why = "this site does not hold the determining volume";
    return false;
  }
  if (here.outdated) {
    *why = "this copy is outdated";
    return false;
  }
  return true;
}

bool WinnerMayLift(const PeerCopy& peer, const wire::Generation& generation,
                   bool record_marks_peer_outdated, const std::string& peer_site,
                   std::string* why) {
  if (peer.answered) {
    if (peer.outdated || generation.NewerThan(peer.generation)) {
      *why = "site " + peer_site + "'s copy is " + (peer.outdated ? "outdated" : "older");
      return true;
    }
    *why = "site " + peer_site + "'s copy is as new";
    return false;
  }
  if (record_marks_peer_outdated) {
    *why = "this site holds the determining volume and its record marks site " + peer_site +
           " outdated";
    return true;
  }
  *why = "site " + peer_site + " does not answer and is not marked outdated";
  return false;
}

}  // namespace pairfs::node
