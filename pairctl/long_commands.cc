// pairctl's commands that ask the node more than once (wait, verify) and keygen, which asks
// nothing (pairctl/client.h).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>
#include <utility>
#include <vector>

#include "node/limits.h"
#include "node/names.h"
#include "pairctl/client.h"
#include "wire/curve.h"

namespace pairfs::pairctl {

using node::CheckSiteName;
using node::FormatSize;
using node::kVerifyRegionsPerCall;

namespace {

void DrawProgress(const wire::VolumeInfo& v) {
  const int width = 40;
  const int filled = static_cast<int>(v.copy_progress) * width / 100;
  std::fprintf(stderr, "\r%s %-4s [%s%s] %3u%%  dirty %s   ", v.name.c_str(), v.status.c_str(),
               std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
               v.copy_progress, FormatSize(v.dirty_bytes).c_str());
  std::fflush(stderr);
}

// The first row of `rows` not in `status`, or null when every row is.
const wire::VolumeInfo* FirstNotIn(const std::vector<wire::VolumeInfo>& rows,
                                   const std::string& status) {
  for (const wire::VolumeInfo& row : rows) {
    if (row.status != status) return &row;
  }
  return nullptr;
}

}  // namespace

int Wait(const Config& config, const Options& options) {
  const bool bar = options.progress && ::isatty(STDERR_FILENO);
  const auto started = std::chrono::steady_clock::now();
  for (;;) {
    Result<wire::Reply> reply = Ask(config, wire::DisplayRequest{options.name, "", options.group});
    if (!reply.ok()) return Fail(reply.status());
    Status status = reply->ToStatus();
    if (!status.ok()) return Fail(status);
    const std::vector<wire::VolumeInfo>& rows = reply->volumes;
    const wire::VolumeInfo* behind = FirstNotIn(rows, options.status);
    if (bar) DrawProgress(behind ? *behind : rows.at(0));
    if (behind == nullptr) {
      if (bar) std::fprintf(stderr, "\n");
      if (options.json && options.group.empty()) return PrintJson(DisplayJson(rows.at(0))), 0;
      nlohmann::ordered_json all = nlohmann::ordered_json::array();
      for (const wire::VolumeInfo& v : rows) {
        if (options.json)
          all.push_back(DisplayJson(v));
        else
          std::cout << v.name << " is " << v.status << "\n";
      }
      if (options.json) PrintJson(all);
      return 0;
    }
    const wire::VolumeInfo& v = *behind;
    if (options.status == "PAIR" && v.status == "PSUE") {
      if (bar) std::fprintf(stderr, "\n");
      return Fail(Status::InvalidArgument(
          v.name +
          " went to PSUE (the link to the peer was lost); it will not reach "
          "PAIR without a resync"));
    }
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (options.timeout_s > 0 && waited >= options.timeout_s) {
      if (bar) std::fprintf(stderr, "\n");
      return Fail(Status::Timeout(v.name + " is " + v.status + ", not " + options.status +
                                  ", after " + std::to_string(static_cast<int>(options.timeout_s)) +
                                  " s"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// Each verify answer stays small and quick: one slice of regions per request.
int Verify(const Config& config, const Options& options) {
  Result<wire::Reply> shown = Ask(config, wire::DisplayRequest{options.name});
  if (!shown.ok()) return Fail(shown.status());
  if (!shown->ToStatus().ok()) return Fail(shown->ToStatus());
  const wire::VolumeInfo& v = shown->volumes.at(0);
  if (v.status == "SMPL")
    return Fail(Status::InvalidArgument("volume " + v.name + " is not in a pair"));
  const uint64_t slice = v.region_size_bytes * kVerifyRegionsPerCall;
  const bool bar = ::isatty(STDERR_FILENO) && !options.json;
  std::vector<std::pair<uint64_t, uint64_t>> mismatches;
  for (uint64_t offset = 0; offset < v.size_bytes; offset += slice) {
    Result<wire::Reply> reply = Ask(config, wire::VerifyRequest{options.name, offset, slice});
    if (!reply.ok()) return Fail(reply.status());
    if (!reply->ToStatus().ok()) return Fail(reply->ToStatus());
    for (size_t i = 0; i + 1 < reply->mismatches.size(); i += 2) {
      const uint64_t start = reply->mismatches[i];
      const uint64_t length = reply->mismatches[i + 1];
      if (!mismatches.empty() && mismatches.back().first + mismatches.back().second == start) {
        mismatches.back().second += length;
      } else {
        mismatches.emplace_back(start, length);
      }
    }
    if (bar)
      std::fprintf(stderr, "\rverify %s: %3d%%", v.name.c_str(),
                   static_cast<int>((offset + slice) * 100 / v.size_bytes > 100
                                        ? 100
                                        : (offset + slice) * 100 / v.size_bytes));
  }
  if (bar) std::fprintf(stderr, "\n");
  if (options.json) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const auto& [start, length] : mismatches)
      list.push_back({{"offset", start}, {"length", length}});
    PrintJson({{"name", v.name}, {"identical", mismatches.empty()}, {"mismatches", list}});
  } else if (mismatches.empty()) {
    std::cout << "verify " << v.name << ": both copies identical (" << FormatSize(v.size_bytes)
              << ")\n";
  } else {
    uint64_t total = 0;
    for (const auto& [start, length] : mismatches) {
      std::cout << "differs: offset " << start << " length " << length << " (" << FormatSize(length)
                << ")\n";
      total += length;
    }
    std::cout << "verify " << v.name << ": " << FormatSize(total) << " differ in "
              << mismatches.size() << " ranges\n";
  }
  return mismatches.empty() ? 0 : 1;
}

int Keygen(const Options& options) {
  Status name = CheckSiteName(options.name);
  if (!name.ok()) {
    std::cerr << "pairctl: keygen: " << name.message() << "\n";
    return kExitUsage;
  }
  Result<wire::KeyPair> keys = wire::GenerateKeyPair();
  if (!keys.ok()) return Fail(keys.status());
  Status written = wire::WriteKeyFiles(options.key_dir, options.name, keys.value());
  if (!written.ok()) return Fail(written);
  const std::string secret = options.key_dir + "/" + options.name + ".key";
  const std::string public_file = options.key_dir + "/" + options.name + ".pub";
  if (options.json) {
    PrintJson({{"site", options.name},
               {"secret_key_file", secret},
               {"public_key_file", public_file},
               {"public_key", keys->public_key}});
  } else {
    std::cout << "wrote " << secret << " (secret, mode 0600: keep it at site " << options.name
              << ") and " << public_file << " (public: copy it to the sites that talk to "
              << options.name << ")\n";
  }
  return 0;
}

}  // namespace pairfs::pairctl
