#include "node/metrics_collect.h"

#include <chrono>
#include <limits>

#include "node/control_server.h"
#include "node/limits.h"
#include "node/pair_state.h"
#include "wire/link.h"
#include "wire/log_limit.h"

namespace pairfs::node {
namespace {

using MetricType = MetricsText::Type;

// clusterd's phases (clusterd/cluster_state.h PhaseName; node/ does not include clusterd/): one
// sample each, so that an alert can match the one that is 1.
constexpr const char* kClusterPhases[] = {"STARTING", "STANDBY", "RESERVING", "ACTIVE", "FENCED"};
constexpr PairRole kMetricRoles[] = {PairRole::kPrimary, PairRole::kSecondary, PairRole::kSimplex};

double MetricSeconds(int64_t milliseconds) { return static_cast<double>(milliseconds) / 1000.0; }
uint64_t MetricFlag(bool value) { return value ? 1 : 0; }

// A gauge or counter family with one sample per volume, `value` read from each.
template <class Value>
void PerVolume(const std::vector<VolumeMetrics>& volumes, MetricsText* text, const char* name,
               MetricType type, const char* help, Value value) {
  text->Family(name, type, help);
  for (const VolumeMetrics& volume : volumes)
    text->Sample({{"volume", volume.info.name}}, value(volume));
}

// The histograms' bucket bounds in seconds (LatencyHistogram's, the last one +Inf).
std::vector<double> LatencyBoundsSeconds() {
  std::vector<double> bounds;
  for (size_t b = 0; b + 1 < LatencyHistogram::kBuckets; ++b)
    bounds.push_back(static_cast<double>(LatencyHistogram::BucketUpperNs(b)) / 1e9);
  bounds.push_back(std::numeric_limits<double>::infinity());
  return bounds;
}

void LatencySample(const MetricLabels& labels, const std::vector<double>& bounds,
                   const LatencyHistogram::Snapshot& snapshot, MetricsText* text) {
  const std::vector<uint64_t> counts(snapshot.counts.begin(), snapshot.counts.end());
  text->Histogram(labels, bounds, counts, static_cast<double>(snapshot.sum_ns) / 1e9);
}

void RenderVolumeLatencies(const std::vector<VolumeMetrics>& volumes, MetricsText* text) {
  const std::vector<double> bounds = LatencyBoundsSeconds();
  text->Family("pairfs_write_latency_seconds", MetricType::kHistogram,
               "Whole write requests through the mount, as the application sees them");
  for (const VolumeMetrics& v : volumes)
    LatencySample({{"volume", v.info.name}}, bounds, v.write_latency, text);
  text->Family("pairfs_fsync_latency_seconds", MetricType::kHistogram,
               "Whole fsync requests through the mount, as the application sees them");
  for (const VolumeMetrics& v : volumes)
    LatencySample({{"volume", v.info.name}}, bounds, v.fsync_latency, text);
}

void RenderPairState(const std::vector<VolumeMetrics>& volumes, MetricsText* text) {
  text->Family("pairfs_volume_info", MetricType::kGauge,
               "A volume and its pair as display shows them; always 1");
  for (const VolumeMetrics& v : volumes) {
    const wire::VolumeInfo& i = v.info;
    text->Sample({{"volume", i.name},
                  {"role", i.role},
                  {"mode", i.mode},
                  {"peer_site", i.peer_site},
                  {"peer_volume", i.peer_volume},
                  {"group", i.group},
                  {"fence", i.fence}},
                 uint64_t{1});
  }
  text->Family("pairfs_pair_status", MetricType::kGauge,
               "1 for the volume's pair status (SMPL when not in a pair), 0 for the others");
  for (const VolumeMetrics& v : volumes) {
    for (PairStatus status : kAllStatuses) {
      text->Sample({{"volume", v.info.name}, {"status", StatusName(status)}},
                   MetricFlag(v.info.status == StatusName(status)));
    }
  }
  text->Family("pairfs_pair_role", MetricType::kGauge,
               "1 for the volume's role here, 0 for the others");
  for (const VolumeMetrics& v : volumes) {
    for (PairRole role : kMetricRoles) {
      text->Sample({{"volume", v.info.name}, {"role", RoleName(role)}},
                   MetricFlag(v.info.role == RoleName(role)));
    }
  }
  text->Family("pairfs_volume_reserved", MetricType::kGauge,
               "1 while the volume is reserved, labelled with the holder (absent when not)");
  for (const VolumeMetrics& v : volumes) {
    if (!v.info.reserved_by.empty())
      text->Sample({{"volume", v.info.name}, {"holder", v.info.reserved_by}}, uint64_t{1});
  }
}

void RenderReplicated(const std::vector<VolumeMetrics>& volumes, MetricsText* text) {
  auto labels = [](const VolumeMetrics& v) -> MetricLabels {
    return {{"volume", v.info.name}, {"peer_site", v.info.peer_site}, {"mode", v.info.mode}};
  };
  text->Family("pairfs_replicated_writes_total", MetricType::kCounter,
               "Writes replicated since the pair was loaded: acknowledged by the peer (sync) or "
               "taken into the journal (async)");
  for (const VolumeMetrics& v : volumes) text->Sample(labels(v), v.replicated.writes);
  text->Family("pairfs_replicated_bytes_total", MetricType::kCounter,
               "Bytes of the writes in pairfs_replicated_writes_total");
  for (const VolumeMetrics& v : volumes) text->Sample(labels(v), v.replicated.bytes);
}

void RenderJournals(const std::vector<VolumeMetrics>& volumes, MetricsText* text) {
  struct JournalFamily {
    const char* name;
    const char* help;
    double (*value)(const wire::VolumeInfo&);
  };
  const JournalFamily families[] = {
      {"pairfs_journal_lag_bytes", "Async: data bytes not yet applied at the secondary",
       [](const wire::VolumeInfo& i) { return static_cast<double>(i.journal_lag_bytes); }},
      {"pairfs_journal_lag_seconds",
       "Async: age of the oldest write not yet durable at the secondary",
       [](const wire::VolumeInfo& i) { return MetricSeconds(static_cast<int64_t>(i.lag_ms)); }},
      {"pairfs_journal_used_bytes", "Async: bytes in use in the group's journal here",
       [](const wire::VolumeInfo& i) { return static_cast<double>(i.journal_used_bytes); }},
      {"pairfs_journal_size_bytes", "Async: the size of the group's journal here",
       [](const wire::VolumeInfo& i) { return static_cast<double>(i.journal_size_bytes); }},
  };
  for (const JournalFamily& family : families) {
    text->Family(family.name, MetricType::kGauge, family.help);
    for (const VolumeMetrics& v : volumes) {
      if (v.info.mode != "async") continue;
      text->Sample({{"volume", v.info.name}, {"group", v.info.group}}, family.value(v.info));
    }
  }
}

}  // namespace

void RenderVolumeMetrics(const std::vector<VolumeMetrics>& volumes, MetricsText* text) {
  RenderPairState(volumes, text);
  RenderReplicated(volumes, text);
  PerVolume(volumes, text, "pairfs_volume_size_bytes", MetricType::kGauge, "The volume's size",
            [](const VolumeMetrics& v) { return v.info.size_bytes; });
  PerVolume(volumes, text, "pairfs_dirty_bytes", MetricType::kGauge,
            "Bytes that differ from the peer's copy (marked in the dirty bitmap)",
            [](const VolumeMetrics& v) { return v.info.dirty_bytes; });
  PerVolume(volumes, text, "pairfs_copy_progress_ratio", MetricType::kGauge,
            "Share of the volume in sync with the peer, 0 to 1 (display's copy %)",
            [](const VolumeMetrics& v) { return v.info.copy_progress / 100.0; });
  PerVolume(volumes, text, "pairfs_generation", MetricType::kGauge, "The pair's generation number",
            [](const VolumeMetrics& v) { return v.info.generation; });
  PerVolume(volumes, text, "pairfs_volume_consistent", MetricType::kGauge,
            "1 when this copy is consistent (0 while the target of a copy or resync)",
            [](const VolumeMetrics& v) { return MetricFlag(v.info.consistent); });
  PerVolume(volumes, text, "pairfs_volume_outdated", MetricType::kGauge,
            "1 when the peer has a newer generation",
            [](const VolumeMetrics& v) { return MetricFlag(v.info.outdated); });
  PerVolume(volumes, text, "pairfs_volume_fenced", MetricType::kGauge,
            "1 while this copy is fenced",
            [](const VolumeMetrics& v) { return MetricFlag(v.info.fenced); });
  PerVolume(volumes, text, "pairfs_volume_open_handles", MetricType::kGauge,
            "Open file handles through the mount",
            [](const VolumeMetrics& v) { return uint64_t{v.info.open_count}; });
  RenderJournals(volumes, text);
  RenderVolumeLatencies(volumes, text);
}

void RenderSiteMetrics(const SiteMetrics& site, MetricsText* text) {
  text->Family("pairfs_site_info", MetricType::kGauge, "This site and its peer; always 1");
  text->Sample({{"site", site.site}, {"peer_site", site.peer_site}}, uint64_t{1});
  text->Family("pairfs_process_start_time_seconds", MetricType::kGauge,
               "When the node process started, Unix time");
  text->Sample({}, site.start_time_seconds);
  text->Family("pairfs_refusals_total", MetricType::kCounter,
               "Refused or garbage input (frames, messages, votes) by kind, as logged");
  for (const auto& [kind, count] : site.refusals) text->Sample({{"kind", kind}}, count);
  if (site.peer_site.empty()) return;
  const MetricLabels peer{{"peer_site", site.peer_site}};
  const bool heard = site.peer_heard_ms_ago >= 0;
  text->Family("pairfs_peer_link_up", MetricType::kGauge,
               "1 when the peer's node was heard on the data link within peer_timeout_ms");
  text->Sample(peer, MetricFlag(heard && site.peer_heard_ms_ago <= site.peer_timeout_ms));
  text->Family("pairfs_peer_link_authenticated", MetricType::kGauge,
               "1 when the data link runs CURVE ([security] keys)");
  text->Sample(peer, MetricFlag(site.link_authenticated));
  text->Family("pairfs_peer_last_heard_seconds", MetricType::kGauge,
               "Seconds since the peer's node was last heard on the data link (absent: never)");
  if (heard) text->Sample(peer, MetricSeconds(site.peer_heard_ms_ago));
  text->Family("pairfs_peer_refused_messages_total", MetricType::kCounter,
               "Messages from the peer that failed their checks and were refused");
  text->Sample(peer, site.peer_refusals);
}

void RenderClusterMetrics(const std::optional<wire::ClusterInfo>& cluster, MetricsText* text) {
  text->Family("pairfs_clusterd_up", MetricType::kGauge,
               "1 when clusterd at this site answered the scrape's question");
  text->Sample({}, MetricFlag(cluster.has_value()));
  if (!cluster) return;
  text->Family("pairfs_cluster_state", MetricType::kGauge,
               "1 for clusterd's state (cluster status), 0 for the others");
  bool known = false;
  for (const char* phase : kClusterPhases) {
    known = known || cluster->state == phase;
    text->Sample({{"state", phase}}, MetricFlag(cluster->state == phase));
  }
  if (!known) text->Sample({{"state", cluster->state}}, uint64_t{1});
  text->Family("pairfs_cluster_peer_alive", MetricType::kGauge,
               "1 when clusterd hears the peer's clusterd on a heartbeat link");
  text->Sample({{"peer_site", cluster->peer_site}}, MetricFlag(cluster->peer_alive));
  text->Family("pairfs_cluster_started", MetricType::kGauge,
               "1 when on_start ran here (the applications run at this site)");
  text->Sample({}, MetricFlag(cluster->started));
  text->Family("pairfs_heartbeat_link_up", MetricType::kGauge,
               "1 while a heartbeat link hears the peer");
  for (const wire::LinkInfo& link : cluster->links)
    text->Sample({{"listen", link.listen}, {"peer", link.peer}}, MetricFlag(link.alive));
  text->Family("pairfs_heartbeat_last_heard_seconds", MetricType::kGauge,
               "Seconds since a heartbeat link last heard the peer (absent: never)");
  for (const wire::LinkInfo& link : cluster->links) {
    if (link.last_heard_ms_ago >= 0)
      text->Sample({{"listen", link.listen}, {"peer", link.peer}},
                   MetricSeconds(link.last_heard_ms_ago));
  }
  text->Family("pairfs_heartbeat_refused_frames_total", MetricType::kCounter,
               "Frames that arrived on a heartbeat link and clusterd refused (garbage, another "
               "site's, replayed), since clusterd started");
  for (const wire::LinkInfo& link : cluster->links)
    text->Sample({{"listen", link.listen}, {"peer", link.peer}}, link.refused);
}

void RenderStageLatencies(const StageTable& table, MetricsText* text) {
  text->Family("pairfs_write_stage_latency_seconds", MetricType::kHistogram,
               "Time spent in each stage of the write and fsync path (pairfs(8) METRICS), "
               "process-wide");
  const std::vector<double> bounds = LatencyBoundsSeconds();
  for (size_t s = 0; s < kStageCount; ++s) {
    const Stage stage = static_cast<Stage>(s);
    LatencySample({{"stage", StageName(stage)}}, bounds, table.Of(stage).Read(), text);
  }
}

MetricsCollector::MetricsCollector(MetricsSources sources)
    : sources_(std::move(sources)),
      start_time_seconds_(
          std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
              .count()) {}

std::string MetricsCollector::Collect() const {
  MetricsText text;
  RenderVolumeMetrics(ReadVolumes(), &text);
  RenderSiteMetrics(ReadSite(), &text);
  RenderClusterMetrics(AskClusterd(), &text);
  RenderStageLatencies(StageLatencies(), &text);
  return text.text();
}

std::vector<VolumeMetrics> MetricsCollector::ReadVolumes() const {
  std::vector<VolumeMetrics> volumes;
  for (const std::shared_ptr<Volume>& volume : sources_.store->List()) {
    VolumeMetrics metrics;
    metrics.info = DescribeVolume(*volume, sources_.replicator);
    metrics.write_latency = volume->latencies().write.Read();
    metrics.fsync_latency = volume->latencies().fsync.Read();
    if (sources_.replicator != nullptr)
      metrics.replicated = sources_.replicator->ReplicatedOf(metrics.info.name);
    volumes.push_back(std::move(metrics));
  }
  return volumes;
}

SiteMetrics MetricsCollector::ReadSite() const {
  SiteMetrics site;
  site.site = sources_.site;
  site.peer_site = sources_.peer_site;
  site.link_authenticated = sources_.link_authenticated;
  if (sources_.replicator != nullptr) {
    site.peer_heard_ms_ago = sources_.replicator->PeerHeardMsAgo();
    site.peer_timeout_ms = sources_.replicator->peer_timeout_ms();
    site.peer_refusals = sources_.replicator->peer_refusals();
  }
  site.refusals = wire::RefusalLog().Counts();
  site.start_time_seconds = start_time_seconds_;
  return site;
}

std::optional<wire::ClusterInfo> MetricsCollector::AskClusterd() const {
  if (sources_.clusterd_endpoint.empty()) return std::nullopt;
  if (!wire::ProbeEndpoint(sources_.clusterd_endpoint).ok()) return std::nullopt;
  wire::Context context;
  Result<std::unique_ptr<wire::Client>> client =
      wire::Client::Connect(context, sources_.clusterd_endpoint, sources_.site);
  if (!client.ok()) return std::nullopt;
  Result<wire::Reply> reply =
      client.value()->Call(wire::ClusterStatusRequest{sources_.site}, kMetricsClusterdTimeoutMs);
  if (!reply.ok() || !reply->ToStatus().ok()) return std::nullopt;
  return reply->cluster;
}

}  // namespace pairfs::node
