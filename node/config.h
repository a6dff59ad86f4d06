// The site's configuration: pairfs.toml(5), shared by pairfs, pairctl and clusterd.
// LoadConfig is the only code that includes toml++ (slow to compile). Plain value types.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "wire/status.h"

namespace pairfs::node {

inline constexpr const char* kDefaultConfigPath = "/etc/pairfs/pairfs.toml";

struct SiteConfig {
  std::string name;
  std::string data_dir;  // absolute after loading
  std::string listen;    // remote-copy endpoint (peer traffic); "" if none
  std::string control;   // default ipc://DATA_DIR/control.sock
  int64_t peer_timeout_ms = 2000;
  uint64_t region_size_bytes = 64 * 1024;
  // metrics (issue 15): "HOST:PORT" of the Prometheus endpoint (node/metrics_server.h); "" = off.
  // Checked by the loader (node/metrics_text.h ParseMetricsAddress).
  std::string metrics;
};

struct PeerConfig {
  bool present = false;
  std::string name;
  std::string endpoint;
};

struct ClusterConfig {
  bool present = false;
  std::vector<std::string> heartbeat_listen;
  std::vector<std::string> heartbeat_peer;
  int64_t interval_ms = 200;
  int64_t timeout_ms = 1000;
  std::string determining_volume;
  std::vector<std::string> volumes;
  std::string on_start;
  std::string on_stop;
  int64_t hook_timeout_ms = 60000;
  int64_t standby_delay_ms = 200;
  bool auto_resync = false;
};

struct WitnessConfig {
  bool present = false;
  std::string endpoint;
  // The two data sites a witness serves (`pairfs --witness` requires it; the data sites may
  // leave it out). When given: two distinct site names.
  std::vector<std::string> sites;
};

struct JournalConfig {
  uint64_t size_bytes = 1ull << 30;
  int64_t high_water_percent = 80;
};

// [security]: CURVE on the site-to-site sockets (node/security.h checks and loads the keys).
struct SecurityConfig {
  bool present = false;
  std::string secret_key;                     // absolute after loading; "" only with insecure
  std::vector<std::string> peer_public_keys;  // absolute; each named SITE.pub, distinct sites
  bool insecure = false;                      // run without keys on non-loopback endpoints
};

struct Config {
  std::string path;  // the file it came from
  SiteConfig site;
  PeerConfig peer;
  ClusterConfig cluster;
  WitnessConfig witness;
  JournalConfig journal;
  SecurityConfig security;
};

// The config file to use: `flag` if given, else $PAIRFS_CONFIG if set, else kDefaultConfigPath.
std::string ResolveConfigPath(const std::string& flag);

// Reads and checks `path`. On failure the message reads "PATH:LINE: KEY: reason" (or
// "PATH: reason" when the file cannot be read or parsed as TOML). Unknown tables and keys are
// errors (a typo must not silently fall back to a default). Relative paths in the file (data_dir,
// ipc:// endpoints, key files) are taken relative to the file's directory.
Result<Config> LoadConfig(const std::string& path);

// The same from text; `path` is used in messages and to resolve relative paths.
Result<Config> ParseConfig(std::string_view text, const std::string& path);

}  // namespace pairfs::node
