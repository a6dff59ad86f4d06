#include "pairctl/format.h"

#include <algorithm>
#include <sstream>

#include "node/names.h"

namespace pairfs::pairctl {

using node::FormatSize;

namespace {

nlohmann::ordered_json OrNull(const std::string& value) {
  return value.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(value);
}

std::string OrDash(const std::string& value) { return value.empty() ? "-" : value; }

// asyncrest: the RPO column: "-" none recorded, "unknown", or e.g. "63w/252KiB" (at most, as
// last heard from the old primary); one word, so that scripts can split the columns.
std::string RpoCell(const wire::VolumeInfo& v) {
  if (v.rpo_takeover_unix_ms == 0) return "-";
  if (v.rpo_lost_writes < 0) return "unknown";
  std::string size = FormatSize(v.rpo_lost_bytes);
  size.erase(std::remove(size.begin(), size.end(), ' '), size.end());
  return std::to_string(v.rpo_lost_writes) + "w/" + size;
}

// Lays out rows in columns two spaces apart, the first row being the header.
std::string Columns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case Code::kOk: return 0;
    case Code::kConflict: return 3;
    case Code::kUnreachable: return 4;
    case Code::kTimeout: return 5;
    default: return 1;
  }
}

nlohmann::ordered_json DisplayJson(const wire::VolumeInfo& info) {
  nlohmann::ordered_json row = {
      {"name", info.name},
      {"role", info.role},
      {"status", info.status},
      {"mode", OrNull(info.mode)},
      {"peer_site", OrNull(info.peer_site)},
      {"peer_volume", OrNull(info.peer_volume)},
      {"size_bytes", info.size_bytes},
      {"copy_progress", info.copy_progress},
      {"dirty_bytes", info.dirty_bytes},
      {"journal_lag_bytes", info.journal_lag_bytes},
      {"reserved_by", OrNull(info.reserved_by)},
      {"fence", OrNull(info.fence)},
      {"group", OrNull(info.group)},
      {"generation", info.generation},
      {"generation_site", OrNull(info.generation_site)},
      {"consistent", info.consistent},
      {"outdated", info.outdated},
      {"fenced", info.fenced},
      {"reserve_epoch", info.reserve_epoch},
      {"reserve_outdated", OrNull(info.reserve_outdated)},
      {"link_authenticated", info.link_authenticated},
      {"peer_heard_ms_ago", info.peer_heard_ms_ago < 0 || info.peer_site.empty()
                                ? nlohmann::ordered_json()
                                : nlohmann::ordered_json(info.peer_heard_ms_ago)},
  };
  if (info.mode == "async") {  // doc/design.md "Async pairs": lag and the group's journal
    row["journal_used_bytes"] = info.journal_used_bytes;
    row["journal_size_bytes"] = info.journal_size_bytes;
    row["sent_sequence"] = info.sent_sequence;
    row["applied_sequence"] = info.applied_sequence;
    row["lag_ms"] = info.lag_ms;
    // asyncrest: the RPO of the group's last takeover without its old primary (null: none
    // recorded; the writes and bytes null with a time: unknown).
    const bool recorded = info.rpo_takeover_unix_ms != 0;
    const bool known = recorded && info.rpo_lost_writes >= 0;
    row["rpo_takeover_unix_ms"] =
        recorded ? nlohmann::ordered_json(info.rpo_takeover_unix_ms) : nlohmann::ordered_json();
    row["rpo_lost_writes"] =
        known ? nlohmann::ordered_json(info.rpo_lost_writes) : nlohmann::ordered_json();
    row["rpo_lost_bytes"] =
        known ? nlohmann::ordered_json(info.rpo_lost_bytes) : nlohmann::ordered_json();
  }
  return row;
}

std::string DisplayTable(const std::vector<wire::VolumeInfo>& volumes) {
  std::vector<std::vector<std::string>> rows = {{"NAME", "ROLE", "STATUS", "MODE", "PEER", "SIZE",
                                                 "PROGRESS", "DIRTY", "RESERVED", "FENCE", "GEN",
                                                 "COPY", "LINK"}};
  // asyncrest: an RPO column before LINK when a listed pair records a takeover's RPO.
  const bool rpo = std::any_of(volumes.begin(), volumes.end(),
                               [](const auto& v) { return v.rpo_takeover_unix_ms != 0; });
  if (rpo) rows[0].insert(rows[0].end() - 1, "RPO");
  for (const auto& v : volumes) {
    const std::string peer = v.peer_site.empty() ? "-" : v.peer_site + ":" + OrDash(v.peer_volume);
    const std::string progress = v.status == "SMPL" ? "-" : std::to_string(v.copy_progress) + "%";
    std::string copy = "-";
    if (v.status != "SMPL")
      copy = v.outdated     ? (v.consistent ? "outdated" : "outdated,inconsistent")
             : v.consistent ? "consistent"
                            : "inconsistent";
    const std::string generation =
        v.status == "SMPL" ? "-" : std::to_string(v.generation) + "/" + v.generation_site;
    const std::string link = v.peer_site.empty() ? "-" : v.link_authenticated ? "curve" : "plain";
    rows.push_back({v.name, v.role, v.status, OrDash(v.mode), peer, FormatSize(v.size_bytes),
                    progress, FormatSize(v.dirty_bytes), OrDash(v.reserved_by), OrDash(v.fence),
                    generation, copy, link});
    if (rpo) rows.back().insert(rows.back().end() - 1, RpoCell(v));
  }
  return Columns(rows);
}

std::string VolumeListTable(const std::vector<wire::VolumeInfo>& volumes) {
  std::vector<std::vector<std::string>> rows = {{"NAME", "SIZE", "ALLOCATED", "RESERVED", "OPEN"}};
  for (const auto& v : volumes) {
    rows.push_back({v.name, FormatSize(v.size_bytes), FormatSize(v.allocated_bytes),
                    OrDash(v.reserved_by), std::to_string(v.open_count)});
  }
  return Columns(rows);
}

nlohmann::ordered_json VolumeListJson(const wire::VolumeInfo& info) {
  return {{"name", info.name},
          {"size_bytes", info.size_bytes},
          {"allocated_bytes", info.allocated_bytes},
          {"reserved_by", OrNull(info.reserved_by)},
          {"open_count", info.open_count}};
}

namespace {

std::string HeardAgo(int64_t ms) { return ms < 0 ? "never" : std::to_string(ms) + " ms ago"; }

}  // namespace

std::string ClusterText(const wire::ClusterInfo& info) {
  std::ostringstream out;
  out << "site " << info.site << ": " << info.state
      << (info.started ? " (applications running here)" : "") << "\n";
  out << "  " << info.reason << "\n";
  out << "peer " << info.peer_site << ": "
      << (info.peer_alive ? "alive, " + info.peer_state
                          : std::string("lost (no heartbeat on any link)"))
      << "\n";
  const wire::ReservationRecord& r = info.reservation;
  out << "determining volume " << info.determining_volume << ": "
      << (r.holder.empty() ? std::string("not reserved") : "reserved by site " + r.holder)
      << ", epoch " << r.epoch
      << (r.outdated.empty() ? std::string() : ", site " + r.outdated + " outdated") << "\n";
  out << "witness: " << (info.witness.empty() ? std::string("none") : info.witness) << "\n";
  out << "volumes: ";
  for (size_t i = 0; i < info.volumes.size(); ++i) out << (i ? " " : "") << info.volumes[i];
  out << "\n";
  size_t listen_width = 6, peer_width = 4;
  for (const auto& link : info.links) {
    listen_width = std::max(listen_width, link.listen.size());
    peer_width = std::max(peer_width, link.peer.size());
  }
  auto row = [&](const std::string& a, const std::string& b, const std::string& c,
                 const std::string& d) {
    out << "  " << a << std::string(listen_width - a.size() + 2, ' ') << b
        << std::string(peer_width - b.size() + 2, ' ') << c
        << std::string(c.size() < 7 ? 7 - c.size() : 1, ' ') << d << "\n";
  };
  const bool authenticated =
      !info.links.empty() && std::all_of(info.links.begin(), info.links.end(),
                                         [](const auto& link) { return link.authenticated; });
  out << "authentication: "
      << (authenticated ? "CURVE keys (heartbeat links authenticated)"
                        : "none (heartbeat links not authenticated)")
      << "\n";
  out << "heartbeat links:\n";
  row("LISTEN", "PEER", "STATE", "LAST HEARD");
  for (const auto& link : info.links)
    row(link.listen, link.peer, link.alive ? "alive" : "silent", HeardAgo(link.last_heard_ms_ago));
  return out.str();
}

nlohmann::ordered_json ClusterJson(const wire::ClusterInfo& info) {
  nlohmann::ordered_json links = nlohmann::ordered_json::array();
  for (const auto& link : info.links) {
    links.push_back({{"listen", link.listen},
                     {"peer", link.peer},
                     {"alive", link.alive},
                     {"authenticated", link.authenticated},
                     {"last_heard_ms_ago", link.last_heard_ms_ago < 0
                                               ? nlohmann::ordered_json()
                                               : nlohmann::ordered_json(link.last_heard_ms_ago)}});
  }
  return {{"site", info.site},
          {"state", info.state},
          {"reason", info.reason},
          {"started", info.started},
          {"peer_site", info.peer_site},
          {"peer_alive", info.peer_alive},
          {"peer_state", OrNull(info.peer_state)},
          {"peer_incarnation", info.peer_incarnation},
          {"determining_volume", info.determining_volume},
          {"reservation",
           {{"holder", OrNull(info.reservation.holder)},
            {"epoch", info.reservation.epoch},
            {"outdated", OrNull(info.reservation.outdated)}}},
          {"witness", OrNull(info.witness)},
          {"volumes", info.volumes},
          {"links", links}};
}

namespace {

// The display row of `name` in a group reply, if the node sent one.
const wire::VolumeInfo* RowOf(const wire::Reply& reply, const std::string& name) {
  for (const wire::VolumeInfo& row : reply.volumes) {
    if (row.name == name) return &row;
  }
  return nullptr;
}

}  // namespace

std::string GroupText(const wire::Reply& reply, const std::string& what) {
  std::string out;
  for (const wire::PairOutcome& outcome : reply.outcomes) {
    out += what + " " + outcome.name + ": ";
    if (outcome.code != 0) {
      out += "not done: " + outcome.message + "\n";
      continue;
    }
    const wire::VolumeInfo* row = RowOf(reply, outcome.name);
    out += row ? row->role + " " + row->status : std::string("done");
    out += outcome.message.empty() ? "\n" : " (" + outcome.message + ")\n";
  }
  return out;
}

nlohmann::ordered_json GroupJson(const wire::Reply& reply, const std::string& group,
                                 const std::string& what) {
  nlohmann::ordered_json pairs = nlohmann::ordered_json::array();
  for (const wire::PairOutcome& outcome : reply.outcomes) {
    const wire::VolumeInfo* row = RowOf(reply, outcome.name);
    nlohmann::ordered_json pair =
        row ? DisplayJson(*row) : nlohmann::ordered_json{{"name", outcome.name}};
    pair["done"] = outcome.code == 0;
    pair["note"] = outcome.message;
    pairs.push_back(pair);
  }
  return {{"group", group},
          {"command", what},
          {"done", reply.code == 0},
          {"error", reply.code == 0 ? nlohmann::ordered_json() : OrNull(reply.message)},
          {"pairs", pairs}};
}

}  // namespace pairfs::pairctl
