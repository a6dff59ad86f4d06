#include "node/config.h"

#include <cstdlib>
#include <filesystem>
#include <set>
#include <stdexcept>

// toml++ checks some of its parser's assumptions with assert(), which aborts on malformed input
// instead of reporting it (found by the config fuzzer: the table header "[{ite]"). Here a failed
// check is an error of the file like any other.
// (In toml++'s noexcept helpers a failed check still ends the process, as assert() did.)
#define TOML_ASSERT(expr) \
  ((expr) ? static_cast<void>(0) : throw std::invalid_argument("malformed TOML"))
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wterminate"
#include <toml++/toml.h>
#pragma GCC diagnostic pop

#include "node/atomic_file.h"
#include "node/config_text.h"
#include "node/limits.h"
#include "node/metrics_text.h"
#include "node/names.h"
#include "wire/curve.h"

namespace pairfs::node {
namespace {

// The largest config file we read: a few KiB is normal.
constexpr size_t kMaxConfigBytes = 1 << 20;

std::string ResolveRelative(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

std::string ResolveEndpoint(const std::string& base_dir, const std::string& endpoint) {
  const std::string scheme = "ipc://";
  if (endpoint.rfind(scheme, 0) != 0) return endpoint;
  return scheme + ResolveRelative(base_dir, endpoint.substr(scheme.size()));
}

// Endpoints in the file reach other processes: tcp:// or ipc://, as pairfs.toml(5) says.
bool IsEndpoint(const std::string& endpoint) {
  return endpoint.rfind("tcp://", 0) == 0 || endpoint.rfind("ipc://", 0) == 0;
}

// Reads one table, remembering where each value came from so errors can name file, line and key.
class TableReader {
 public:
  TableReader(const toml::table* table, std::string prefix, const std::string& path, Status* error)
      : table_(table), prefix_(std::move(prefix)), path_(path), error_(error) {}

  bool present() const { return table_ != nullptr; }
  bool has(std::string_view key) const { return Node(key) != nullptr; }

  // "PATH:LINE: table.key: reason"; without LINE when the key is not in the file (a rule
  // between two keys failed on a default value).
  Status Fail(std::string_view key, const std::string& reason) const {
    const int line = Line(key);
    const std::string where = line > 0 ? path_ + ":" + std::to_string(line) : path_;
    return Status::InvalidArgument(where + ": " + prefix_ + "." + std::string(key) + ": " + reason);
  }

  void String(std::string_view key, std::string* out, bool required = false) {
    const toml::node* node = Node(key);
    if (node == nullptr) {
      if (required)
        SetError(Status::InvalidArgument(path_ + ": " + prefix_ + "." + std::string(key) +
                                         ": missing (required)"));
      return;
    }
    if (auto value = node->value<std::string>(); value && node->is_string()) {
      *out = *value;
    } else {
      SetError(Fail(key, "must be a string"));
    }
  }

  void Integer(std::string_view key, int64_t* out, int64_t min, int64_t max) {
    const toml::node* node = Node(key);
    if (node == nullptr) return;
    if (!node->is_integer()) return SetError(Fail(key, "must be an integer"));
    const int64_t value = *node->value<int64_t>();
    if (value < min || value > max) {
      return SetError(Fail(key, "must be between " + std::to_string(min) + " and " +
                                    std::to_string(max) + ", not " + std::to_string(value)));
    }
    *out = value;
  }

  void Boolean(std::string_view key, bool* out) {
    const toml::node* node = Node(key);
    if (node == nullptr) return;
    if (!node->is_boolean()) return SetError(Fail(key, "must be true or false"));
    *out = *node->value<bool>();
  }

  // A size as a string with a unit ("64K") or a plain integer of bytes.
  void Size(std::string_view key, uint64_t* out) {
    const toml::node* node = Node(key);
    if (node == nullptr) return;
    Result<uint64_t> size = Status::InvalidArgument("must be a size such as \"64K\" or an integer");
    if (node->is_string()) size = ParseSize(*node->value<std::string>());
    if (node->is_integer() && *node->value<int64_t>() > 0)
      size = static_cast<uint64_t>(*node->value<int64_t>());
    if (!size.ok()) return SetError(Fail(key, size.status().message()));
    *out = size.value();
  }

  void Strings(std::string_view key, std::vector<std::string>* out) {
    const toml::node* node = Node(key);
    if (node == nullptr) return;
    const toml::array* array = node->as_array();
    if (array == nullptr) return SetError(Fail(key, "must be an array of strings"));
    out->clear();
    for (const toml::node& element : *array) {
      if (!element.is_string()) return SetError(Fail(key, "must be an array of strings"));
      out->push_back(*element.value<std::string>());
    }
  }

  // Checks an endpoint read from `key` (tcp:// or ipc://) and makes a relative ipc:// path
  // absolute. An empty value is left alone (the key is absent).
  void Endpoint(std::string_view key, std::string* value, const std::string& base_dir) {
    if (value->empty()) return;
    if (!IsEndpoint(*value))
      SetError(Fail(key, "\"" + *value + "\" must be a tcp:// or ipc:// endpoint"));
    *value = ResolveEndpoint(base_dir, *value);
  }

  // Every key of the table must be one we know.
  void RejectUnknown(const std::set<std::string>& known) {
    if (table_ == nullptr) return;
    for (const auto& [key, node] : *table_) {
      if (known.count(std::string(key.str())) == 0) {
        SetError(Status::InvalidArgument(path_ + ":" + std::to_string(node.source().begin.line) +
                                         ": " + prefix_ + "." + std::string(key.str()) +
                                         ": unknown key"));
      }
    }
  }

  void SetError(Status status) {
    if (error_->ok()) *error_ = std::move(status);
  }

 private:
  const toml::node* Node(std::string_view key) const {
    return table_ == nullptr ? nullptr : table_->get(key);
  }
  int Line(std::string_view key) const {
    const toml::node* node = Node(key);
    return node == nullptr ? 0 : static_cast<int>(node->source().begin.line);
  }

  const toml::table* table_;
  std::string prefix_;
  const std::string& path_;
  Status* error_;
};

void ReadSite(TableReader& site, const std::string& base_dir, Config* config) {
  site.RejectUnknown(
      {"name", "data_dir", "listen", "control", "peer_timeout_ms", "region_size", "metrics"});
  site.String("name", &config->site.name, true);
  site.String("data_dir", &config->site.data_dir, true);
  site.String("listen", &config->site.listen);
  site.String("control", &config->site.control);
  site.Integer("peer_timeout_ms", &config->site.peer_timeout_ms, kMinPeerTimeoutMs,
               kMaxPeerTimeoutMs);
  site.Size("region_size", &config->site.region_size_bytes);
  if (!config->site.name.empty()) {
    Status name = CheckSiteName(config->site.name);
    if (!name.ok()) site.SetError(site.Fail("name", name.message()));
  }
  const uint64_t region = config->site.region_size_bytes;
  if (region < kMinRegionBytes || region > kMaxRegionBytes || (region & (region - 1)) != 0) {
    site.SetError(site.Fail("region_size", "must be a power of two from 4K to 64M"));
  }
  config->site.data_dir = ResolveRelative(base_dir, config->site.data_dir);
  if (config->site.control.empty())
    config->site.control = "ipc://" + config->site.data_dir + "/control.sock";
  site.Endpoint("control", &config->site.control, base_dir);
  site.Endpoint("listen", &config->site.listen, base_dir);
  site.String("metrics", &config->site.metrics);
  if (site.has("metrics")) {
    Result<MetricsAddress> metrics = ParseMetricsAddress(config->site.metrics);
    if (!metrics.ok()) site.SetError(site.Fail("metrics", metrics.status().message()));
  }
}

void ReadCluster(TableReader& cluster, const std::string& base_dir, Config* config) {
  ClusterConfig& c = config->cluster;
  cluster.RejectUnknown({"heartbeat_listen", "heartbeat_peer", "interval_ms", "timeout_ms",
                         "determining_volume", "volumes", "on_start", "on_stop", "hook_timeout_ms",
                         "standby_delay_ms", "auto_resync"});
  cluster.Strings("heartbeat_listen", &c.heartbeat_listen);
  cluster.Strings("heartbeat_peer", &c.heartbeat_peer);
  cluster.Integer("interval_ms", &c.interval_ms, 10, 60000);
  cluster.Integer("timeout_ms", &c.timeout_ms, 20, 600000);
  cluster.String("determining_volume", &c.determining_volume, cluster.present());
  cluster.Strings("volumes", &c.volumes);
  cluster.String("on_start", &c.on_start);
  cluster.String("on_stop", &c.on_stop);
  cluster.Integer("hook_timeout_ms", &c.hook_timeout_ms, 1, 3600000);
  cluster.Integer("standby_delay_ms", &c.standby_delay_ms, 0, 600000);
  cluster.Boolean("auto_resync", &c.auto_resync);
  if (c.heartbeat_listen.size() != c.heartbeat_peer.size()) {
    cluster.SetError(
        cluster.Fail("heartbeat_peer", "must have one entry per heartbeat_listen entry"));
  }
  if (c.timeout_ms < 2 * c.interval_ms) {
    cluster.SetError(cluster.Fail("timeout_ms", "must be at least twice interval_ms"));
  }
  if (c.standby_delay_ms < c.interval_ms) {
    cluster.SetError(cluster.Fail("standby_delay_ms", "must be at least interval_ms"));
  }
  if (c.standby_delay_ms >= c.timeout_ms) {
    cluster.SetError(cluster.Fail("standby_delay_ms", "must be less than timeout_ms"));
  }
  for (std::string& endpoint : c.heartbeat_listen)
    cluster.Endpoint("heartbeat_listen", &endpoint, base_dir);
  for (std::string& endpoint : c.heartbeat_peer)
    cluster.Endpoint("heartbeat_peer", &endpoint, base_dir);
  std::set<std::string> listed;
  for (const std::string& volume : c.volumes) {
    Status name = CheckVolumeName(volume);
    if (!name.ok()) cluster.SetError(cluster.Fail("volumes", name.message()));
    if (!listed.insert(volume).second)
      cluster.SetError(cluster.Fail("volumes", "lists " + volume + " twice"));
  }
  if (!cluster.present()) return;
  if (c.heartbeat_listen.empty()) {
    cluster.SetError(cluster.Fail("heartbeat_listen",
                                  "must name at least one endpoint (one per heartbeat network)"));
  }
  if (!c.determining_volume.empty()) {
    Status name = CheckVolumeName(c.determining_volume);
    if (!name.ok()) cluster.SetError(cluster.Fail("determining_volume", name.message()));
  }
  if (listed.count(c.determining_volume) != 0) {
    cluster.SetError(cluster.Fail("volumes", "must not list the determining volume " +
                                                 c.determining_volume +
                                                 " (clusterd reserves it itself)"));
  }
}

// What [cluster] needs from the other tables: clusterd fails over pairs, so the site replicates.
void CheckClusterNeeds(TableReader& site, const Config& config) {
  if (!config.cluster.present) return;
  if (!config.peer.present) {
    site.SetError(Status::InvalidArgument(
        config.path + ": [peer]: missing (required with [cluster]: clusterd fails over pairs)"));
  }
  if (config.site.listen.empty()) {
    site.SetError(
        site.Fail("listen", "missing (required with [cluster]: clusterd fails over pairs)"));
  }
  if (config.site.peer_timeout_ms < 2 * config.cluster.interval_ms) {
    site.SetError(site.Fail("peer_timeout_ms",
                            "must be at least twice cluster.interval_ms (a write must not give up "
                            "on the peer faster than heartbeats can tell a hiccup from a loss)"));
  }
}

void ReadWitness(TableReader& witness, const std::string& base_dir, Config* config) {
  WitnessConfig& w = config->witness;
  witness.RejectUnknown({"endpoint", "sites"});
  witness.String("endpoint", &w.endpoint, witness.present());
  witness.Endpoint("endpoint", &w.endpoint, base_dir);
  witness.Strings("sites", &w.sites);
  if (!witness.has("sites")) return;
  if (w.sites.size() != 2) {
    return witness.SetError(witness.Fail(
        "sites",
        "must name exactly two sites (the two data sites), not " + std::to_string(w.sites.size())));
  }
  for (const std::string& site : w.sites) {
    Status name = CheckSiteName(site);
    if (!name.ok()) witness.SetError(witness.Fail("sites", name.message()));
  }
  if (w.sites[0] == w.sites[1])
    witness.SetError(witness.Fail("sites", "names site " + w.sites[0] + " twice"));
}

void ReadSecurity(TableReader& security, const std::string& base_dir, Config* config) {
  SecurityConfig& s = config->security;
  s.present = security.present();
  security.RejectUnknown({"secret_key", "peer_public_keys", "insecure"});
  security.Boolean("insecure", &s.insecure);
  // Keys are what [security] is for; only `insecure = true` may stand alone.
  security.String("secret_key", &s.secret_key, security.present() && !s.insecure);
  security.Strings("peer_public_keys", &s.peer_public_keys);
  if (!s.secret_key.empty() && s.peer_public_keys.empty()) {
    security.SetError(security.Fail("peer_public_keys",
                                    "missing (the public keys of the sites this one talks to)"));
  }
  s.secret_key = ResolveRelative(base_dir, s.secret_key);
  std::set<std::string> sites;
  for (std::string& key : s.peer_public_keys) {
    key = ResolveRelative(base_dir, key);
    const std::string site = wire::SiteOfPublicKeyFile(key);
    if (site.empty()) {
      security.SetError(security.Fail(
          "peer_public_keys", "\"" + key + "\" must be named SITE.pub (the site is the name)"));
    } else if (!sites.insert(site).second) {
      security.SetError(security.Fail("peer_public_keys", "names two keys of site " + site));
    } else if (site == config->site.name) {
      security.SetError(security.Fail("peer_public_keys", "names this site's own key " + key));
    }
  }
}

// [peer]: the other site's name and endpoint; its name must differ from this site's.
void ReadPeer(TableReader& peer, Config* config) {
  config->peer.present = peer.present();
  peer.RejectUnknown({"name", "endpoint"});
  peer.String("name", &config->peer.name, peer.present());
  peer.String("endpoint", &config->peer.endpoint, peer.present());
  if (peer.present() && !config->peer.name.empty()) {
    Status name = CheckSiteName(config->peer.name);
    if (!name.ok()) peer.SetError(peer.Fail("name", name.message()));
    if (config->peer.name == config->site.name)
      peer.SetError(peer.Fail("name", "must differ from site.name"));
  }
}

// [journal]: the size of each group's journal file and its high water mark.
void ReadJournal(TableReader& journal, Config* config) {
  journal.RejectUnknown({"size", "high_water_percent"});
  journal.Size("size", &config->journal.size_bytes);
  journal.Integer("high_water_percent", &config->journal.high_water_percent, 1, 99);
  // One journal file per consistency group (node/FORMAT.md "Journal file"): at least 16 of the
  // largest entries, a whole number of 4 KiB pages, at most what its index may cost in memory.
  if (config->journal.size_bytes < kMinConfiguredJournalBytes ||
      config->journal.size_bytes > kMaxJournalBytes || config->journal.size_bytes % 4096 != 0) {
    journal.SetError(journal.Fail("size", "must be a multiple of 4K from 16M to 64G"));
  }
}

// The config text as a TOML table, or InvalidArgument naming the line (or the character that
// is not ASCII) that is wrong.
Result<toml::table> ParseConfigToml(std::string_view text, const std::string& path) {
  Result<std::string> ascii = AsciiConfigText(text);
  if (!ascii.ok()) return Status::InvalidArgument(path + ":" + ascii.status().message());
  try {
    return toml::parse(ascii.value(), path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(path + ":" + std::to_string(e.source().begin.line) + ": " +
                                   std::string(e.description()));
  } catch (const std::invalid_argument&) {
    return Status::InvalidArgument(path +
                                   ": malformed TOML (a table header or key toml++ cannot read)");
  }
}

// Every top-level key must be one of the known tables: the error of `top` names each other one.
void RejectUnknownTables(const toml::table& root, const std::string& path, TableReader& top) {
  for (const auto& [key, node] : root) {
    static const std::set<std::string> kTables = {"site",    "peer",    "cluster",
                                                  "witness", "journal", "security"};
    if (kTables.count(std::string(key.str())) == 0 || !node.is_table()) {
      top.SetError(Status::InvalidArgument(path + ":" + std::to_string(node.source().begin.line) +
                                           ": " + std::string(key.str()) +
                                           ": unknown table (expected one of site, peer, "
                                           "cluster, witness, journal, security)"));
    }
  }
}

}  // namespace

std::string ResolveConfigPath(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* environment = std::getenv("PAIRFS_CONFIG");
  if (environment != nullptr && environment[0] != '\0') return environment;
  return kDefaultConfigPath;
}

Result<Config> LoadConfig(const std::string& path) {
  Result<std::string> text = ReadWholeFile(path, kMaxConfigBytes);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound)
      return Status::NotFound(path + ": no such config file");
    return Status(text.status().code(), path + ": " + text.status().message());
  }
  return ParseConfig(text.value(), path);
}

Result<Config> ParseConfig(std::string_view text, const std::string& path) {
  Result<toml::table> parsed = ParseConfigToml(text, path);
  if (!parsed.ok()) return parsed.status();
  toml::table& root = parsed.value();
  std::error_code ignored;
  const std::string absolute = std::filesystem::absolute(path, ignored).string();
  const std::string base_dir = std::filesystem::path(absolute).parent_path().string();

  Config config;
  config.path = path;
  Status error;
  TableReader top(&root, "", path, &error);
  RejectUnknownTables(root, path, top);
  if (!error.ok()) return error;

  TableReader site(root["site"].as_table(), "site", path, &error);
  if (!site.present()) return Status::InvalidArgument(path + ": [site]: missing (required)");
  ReadSite(site, base_dir, &config);

  TableReader peer(root["peer"].as_table(), "peer", path, &error);
  ReadPeer(peer, &config);

  TableReader cluster(root["cluster"].as_table(), "cluster", path, &error);
  config.cluster.present = cluster.present();
  ReadCluster(cluster, base_dir, &config);
  CheckClusterNeeds(site, config);

  TableReader witness(root["witness"].as_table(), "witness", path, &error);
  config.witness.present = witness.present();
  ReadWitness(witness, base_dir, &config);

  TableReader journal(root["journal"].as_table(), "journal", path, &error);
  ReadJournal(journal, &config);

  TableReader security(root["security"].as_table(), "security", path, &error);
  ReadSecurity(security, base_dir, &config);

  if (!error.ok()) return error;
  return config;
}

}  // namespace pairfs::node
