#include "node/pairctl_format.h"

#include <algorithm>

#include "node/names.h"

namespace pairfs::node {
namespace {

nlohmann::ordered_json OrNull(const std::string& value) { return value.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(value); }

std::string OrDash(const std::string& value) { return value.empty() ? "-" : value; }

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
  return {
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
  };
}

std::string DisplayTable(const std::vector<wire::VolumeInfo>& volumes) {
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "ROLE", "STATUS", "MODE", "PEER", "SIZE", "PROGRESS", "DIRTY", "RESERVED", "FENCE", "GEN",
       "COPY"}};
  for (const auto& v : volumes) {
    const std::string peer = v.peer_site.empty() ? "-" : v.peer_site + ":" + OrDash(v.peer_volume);
    const std::string progress = v.status == "SMPL" ? "-" : std::to_string(v.copy_progress) + "%";
    std::string copy = "-";
    if (v.status != "SMPL") copy = v.outdated ? "outdated" : v.consistent ? "consistent" : "inconsistent";
    const std::string generation = v.status == "SMPL" ? "-" : std::to_string(v.generation) + "/" + v.generation_site;
    rows.push_back({v.name, v.role, v.status, OrDash(v.mode), peer, FormatSize(v.size_bytes), progress,
                    FormatSize(v.dirty_bytes), OrDash(v.reserved_by), OrDash(v.fence), generation, copy});
  }
  return Columns(rows);
}

std::string VolumeListTable(const std::vector<wire::VolumeInfo>& volumes) {
  std::vector<std::vector<std::string>> rows = {{"NAME", "SIZE", "ALLOCATED", "RESERVED", "OPEN"}};
  for (const auto& v : volumes) {
    rows.push_back({v.name, FormatSize(v.size_bytes), FormatSize(v.allocated_bytes), OrDash(v.reserved_by),
                    std::to_string(v.open_count)});
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

}  // namespace pairfs::node
