#include "node/security.h"

#include <arpa/inet.h>

#include <vector>

namespace pairfs::node {
namespace {

// The host part of "tcp://HOST:PORT" ("[::1]" keeps its brackets); "" if not tcp://.
std::string TcpHost(const std::string& endpoint) {
  const std::string scheme = "tcp://";
  if (endpoint.rfind(scheme, 0) != 0) return "";
  const std::string rest = endpoint.substr(scheme.size());
  const size_t colon = rest.rfind(':');
  return colon == std::string::npos ? rest : rest.substr(0, colon);
}

struct NamedEndpoint {
  std::string key;
  std::string endpoint;
};

// Every endpoint of `config` that carries site-to-site traffic, with the key it came from.
std::vector<NamedEndpoint> SiteToSiteEndpoints(const Config& config) {
  std::vector<NamedEndpoint> endpoints;
  if (!config.site.listen.empty()) endpoints.push_back({"site.listen", config.site.listen});
  if (config.peer.present) endpoints.push_back({"peer.endpoint", config.peer.endpoint});
  for (const std::string& endpoint : config.cluster.heartbeat_listen)
    endpoints.push_back({"cluster.heartbeat_listen", endpoint});
  for (const std::string& endpoint : config.cluster.heartbeat_peer)
    endpoints.push_back({"cluster.heartbeat_peer", endpoint});
  if (config.witness.present && !config.witness.endpoint.empty()) {
    endpoints.push_back({"witness.endpoint", config.witness.endpoint});
  }
  return endpoints;
}

}  // namespace

bool IsLoopbackEndpoint(const std::string& endpoint) {
  if (endpoint.rfind("ipc://", 0) == 0) return true;
  const std::string host = TcpHost(endpoint);
  if (host == "localhost" || host == "[::1]") return true;
  in_addr address{};
  if (::inet_pton(AF_INET, host.c_str(), &address) != 1) return false;
  return (ntohl(address.s_addr) >> 24) == 127;
}

Result<std::optional<wire::CurveKeys>> SiteToSiteKeys(const Config& config) {
  const SecurityConfig& security = config.security;
  // The control endpoint never runs CURVE: whoever reaches it controls the site.
  if (!IsLoopbackEndpoint(config.site.control) && !security.insecure) {
    return Status::InvalidArgument(
        config.path + ": site.control = " + config.site.control +
        " is not a loopback address: the control endpoint has no keys, so it must stay "
        "on this machine (leave it out for ipc://DATA_DIR/control.sock), or set "
        "[security] insecure = true on purpose");
  }
  if (security.secret_key.empty()) {
    if (security.insecure) return std::optional<wire::CurveKeys>();
    for (const NamedEndpoint& named : SiteToSiteEndpoints(config)) {
      if (IsLoopbackEndpoint(named.endpoint)) continue;
      return Status::InvalidArgument(
          config.path + ": " + named.key + " = " + named.endpoint +
          " is not a loopback address, and there is no " +
          "[security]: add [security] secret_key = \"" + config.site.name +
          ".key\" (pairctl keygen " + config.site.name +
          ") and peer_public_keys = [\"SITE.pub\", ...] for the other sites, or " +
          "insecure = true to run without keys on purpose (see pairfs.toml(5))");
    }
    return std::optional<wire::CurveKeys>();
  }
  Result<wire::CurveKeys> keys =
      wire::LoadCurveKeys(security.secret_key, security.peer_public_keys);
  if (!keys.ok())
    return Status(keys.status().code(), config.path + ": security: " + keys.status().message());
  std::vector<std::string> needed;
  if (config.peer.present) needed.push_back(config.peer.name);
  for (const std::string& site : config.witness.sites) needed.push_back(site);
  for (const std::string& site : needed) {
    if (keys->peer_public_keys.count(site) == 0) {
      return Status::InvalidArgument(
          config.path + ": security.peer_public_keys: has no key of site " + site + " (add " +
          site + ".pub, made by pairctl keygen " + site + " there)");
    }
  }
  return std::optional<wire::CurveKeys>(std::move(keys.value()));
}

Result<std::string> WitnessSite(const Config& config, const wire::CurveKeys& keys) {
  std::vector<std::string> others;
  for (const auto& [site, key] : keys.peer_public_keys) {
    if (!config.peer.present || site != config.peer.name) others.push_back(site);
  }
  if (others.size() != 1) {
    return Status::InvalidArgument(
        config.path +
        ": security.peer_public_keys: must hold exactly one key besides the "
        "peer's, the witness's (it names " +
        std::to_string(others.size()) + ")");
  }
  return others[0];
}

}  // namespace pairfs::node
