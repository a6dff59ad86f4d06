// What one scrape of `GET /metrics` says (pairfs(8) METRICS lists every metric): read from the
// node's store, replicator and process-wide counters, and from clusterd over its socket, then
// written by the Render* functions in the Prometheus text format (node/metrics_text.h).
//
// The Render* functions are pure (tested with made-up values). MetricsCollector reads the live
// node: every volume's display row (DescribeVolume, the same short locks as `pairctl display`),
// the replicator's atomics, the stage histograms' atomics, the refusal counters (one short lock)
// and clusterd's view (at most kMetricsClusterdTimeoutMs). Nothing it takes is held by the write
// path for longer than a state change, so a scrape never stalls a write. Thread-safe: concurrent
// Collect() calls share nothing but the node's thread-safe objects.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "node/latency_histogram.h"
#include "node/metrics_text.h"
#include "node/replicator.h"
#include "node/store.h"
#include "wire/messages.h"

namespace pairfs::node {

// One volume's display row, replication counters and request latencies.
struct VolumeMetrics {
  wire::VolumeInfo info;
  Replicator::ReplicatedCounts replicated;
  LatencyHistogram::Snapshot write_latency;  // Volume::latencies(): whole FUSE requests
  LatencyHistogram::Snapshot fsync_latency;
};

// The site's own values.
struct SiteMetrics {
  std::string site;
  std::string peer_site;                     // "" when the site has no peer
  bool link_authenticated = false;           // the peer link runs CURVE
  int64_t peer_heard_ms_ago = -1;            // -1: nothing heard since the node started
  int64_t peer_timeout_ms = 0;               // heard within it: the link is up
  uint64_t peer_refusals = 0;                // messages from the peer that failed their checks
  std::map<std::string, uint64_t> refusals;  // wire::RefusalLog() by kind
  double start_time_seconds = 0;             // the process's start, Unix time
};

// The per-volume families (pairfs_volume_*, pairfs_pair_*, pairfs_replicated_*,
// pairfs_journal_*, pairfs_write_latency_seconds, pairfs_fsync_latency_seconds), one sample (or
// histogram) per volume each (the journal ones for async pairs only).
void RenderVolumeMetrics(const std::vector<VolumeMetrics>& volumes, MetricsText* text);
// pairfs_site_info, pairfs_peer_*, pairfs_refusals_total, pairfs_process_start_time_seconds.
void RenderSiteMetrics(const SiteMetrics& site, MetricsText* text);
// pairfs_clusterd_up, and when `cluster` is given, pairfs_cluster_* and pairfs_heartbeat_*.
void RenderClusterMetrics(const std::optional<wire::ClusterInfo>& cluster, MetricsText* text);
// pairfs_write_stage_latency_seconds: one histogram per stage of `table` (label stage).
void RenderStageLatencies(const StageTable& table, MetricsText* text);

struct MetricsSources {
  VolumeStore* store = nullptr;
  Replicator* replicator = nullptr;  // null: no pair columns
  std::string site;
  std::string peer_site;  // "" when the site has no peer
  bool link_authenticated = false;
  std::string clusterd_endpoint;  // ipc://DATA_DIR/clusterd.sock
};

class MetricsCollector {
 public:
  // `sources`' store and replicator must outlive the collector. The process's start time is
  // taken now (the collector is made while the site opens).
  explicit MetricsCollector(MetricsSources sources);
  // The whole exposition.
  std::string Collect() const;

 private:
  std::vector<VolumeMetrics> ReadVolumes() const;
  SiteMetrics ReadSite() const;
  // clusterd's view, or nothing when clusterd does not run or answer in time.
  std::optional<wire::ClusterInfo> AskClusterd() const;

  const MetricsSources sources_;
  const double start_time_seconds_;
};

}  // namespace pairfs::node
