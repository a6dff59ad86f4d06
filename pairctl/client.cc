// pairctl's client side: failures, JSON printing and the carry site (pairctl/client.h).
#include "pairctl/client.h"

#include <algorithm>
#include <iostream>
#include <limits>

#include "node/limits.h"

namespace pairfs::pairctl {

using node::kClusterdSocketName;

namespace {
std::string carry_to_site;
}  // namespace

void SetCarrySite(const std::string& site) { carry_to_site = site; }
const std::string& CarrySite() { return carry_to_site; }

int Fail(const Status& status) {
  std::cerr << "pairctl: " << status.message() << "\n";
  return ExitCodeFor(status);
}

std::string ClusterdEndpoint(const Config& config) {
  return "ipc://" + config.site.data_dir + "/" + kClusterdSocketName;
}

int ClusterTakeoverTimeoutMs(const Config& config) {
  const int64_t steps = 4 + 2 * static_cast<int64_t>(config.cluster.volumes.size());
  const int64_t per_step = config.site.peer_timeout_ms + wire::kDefaultControlTimeoutMs;
  const int64_t total =
      wire::kDefaultControlTimeoutMs + config.cluster.hook_timeout_ms + steps * per_step;
  return static_cast<int>(std::min<int64_t>(total, std::numeric_limits<int>::max()));
}

void PrintJson(const nlohmann::ordered_json& document) {
  std::cout << document.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
            << "\n";
}

void PrintPairOutcome(const wire::Reply& reply, bool json, const std::string& what) {
  if (json) {
    nlohmann::ordered_json document =
        reply.volumes.empty() ? nlohmann::ordered_json::object() : DisplayJson(reply.volumes[0]);
    if (!reply.message.empty()) document["note"] = reply.message;
    return PrintJson(document);
  }
  if (!reply.message.empty()) std::cout << reply.message << "\n";
  if (!reply.volumes.empty()) {
    const wire::VolumeInfo& v = reply.volumes[0];
    std::cout << what << " " << v.name << ": " << v.role << " " << v.status << "\n";
  }
}

}  // namespace pairfs::pairctl
