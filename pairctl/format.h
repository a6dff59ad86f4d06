// What pairctl prints: the human tables and the --json documents. Pure functions, thread-safe.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "wire/messages.h"
#include "wire/status.h"

namespace pairfs::pairctl {

// The exit code pairctl(8) documents for a failed command: 3 reservation conflict, 4 unreachable,
// 5 timed out, 1 anything else; 0 for Ok.
int ExitCodeFor(const Status& status);

// One `display --json` object: the fields of doc/design.md, null where a string field is empty.
nlohmann::ordered_json DisplayJson(const wire::VolumeInfo& info);

// The `display` table: NAME ROLE STATUS MODE PEER SIZE PROGRESS DIRTY RESERVED FENCE GEN COPY
// LINK (curve: the link to the peer is authenticated; plain: it is not; -: no pair).
std::string DisplayTable(const std::vector<wire::VolumeInfo>& volumes);

// The `volume list` table: NAME SIZE ALLOCATED RESERVED OPEN.
std::string VolumeListTable(const std::vector<wire::VolumeInfo>& volumes);

// One `volume list --json` object: name, size_bytes, allocated_bytes, reserved_by, open_count.
nlohmann::ordered_json VolumeListJson(const wire::VolumeInfo& info);

// `cluster status`: clusterd's phase and why, the peer, the determining volume's reservation,
// the witness, whether the heartbeat links are authenticated, and one line per heartbeat link.
std::string ClusterText(const wire::ClusterInfo& info);
// `cluster status --json`: the same as one object (null for empty strings).
nlohmann::ordered_json ClusterJson(const wire::ClusterInfo& info);

// A group command's answer (split/resync/takeover --group G), `what` naming the command:
// one line per pair ("split db: primary PSUS", or "split db: not done: why").
std::string GroupText(const wire::Reply& reply, const std::string& what);
// The same as one object: {"group", "command", "done", "error" (null when done), "pairs": one
// display object per pair with "done" and "note" (what happened, or why not)}.
nlohmann::ordered_json GroupJson(const wire::Reply& reply, const std::string& group,
                                 const std::string& what);

}  // namespace pairfs::pairctl
