// The Prometheus text of /metrics (node/metrics_text.h, node/metrics_collect.h), the
// [site] metrics key, and the endpoint (node/metrics_server.h). A folder of its own, not
// tests/unit/node/: a new file there moves the others between unity units (scripts/unity.sh),
// and the moves met file-local names of two existing tests (Site, Witness) with the node's own.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <sstream>

#include "node/config.h"
#include "node/metrics_collect.h"
#include "node/metrics_server.h"
#include "node/metrics_text.h"

using namespace pairfs;
using namespace pairfs::node;

namespace {

// The lines of `text` that start with `prefix`.
std::vector<std::string> MetricLinesStartingWith(const std::string& text,
                                                 const std::string& prefix) {
  std::vector<std::string> found;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(prefix, 0) == 0) found.push_back(line);
  }
  return found;
}

wire::VolumeInfo MetricsVolume(const std::string& name, const std::string& status,
                               const std::string& mode) {
  wire::VolumeInfo info;
  info.name = name;
  info.status = status;
  info.role = status == "SMPL" ? "simplex" : "primary";
  info.mode = mode;
  info.peer_site = mode.empty() ? "" : "b";
  return info;
}

// The port of this file's server: fixed, in a range no other unit test uses. (A site serving its
// metrics is tested by tests/integration/metrics.sh.)
constexpr int kMetricsTestPort = 17951;

}  // namespace

TEST_CASE("a metrics address is HOST:PORT, an IPv6 host in brackets") {
  Result<MetricsAddress> v4 = ParseMetricsAddress("127.0.0.1:9750");
  REQUIRE(v4.ok());
  CHECK(v4->host == "127.0.0.1");
  CHECK(v4->port == 9750);
  Result<MetricsAddress> v6 = ParseMetricsAddress("[::1]:9750");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(ParseMetricsAddress("localhost:1").ok());
  CHECK(ParseMetricsAddress("0.0.0.0:65535").ok());
  for (const char* bad : {"", "9750", "127.0.0.1", "127.0.0.1:", ":9750", "127.0.0.1:0",
                          "127.0.0.1:65536", "127.0.0.1:97x0", "127.0.0.1:-1", "::1:9750", "[::1]",
                          "[zz]:1", "tcp://127.0.0.1:9750", "a b:1", "h\n:1"}) {
    CAPTURE(bad);
    Result<MetricsAddress> parsed = ParseMetricsAddress(bad);
    CHECK_FALSE(parsed.ok());
    CHECK(parsed.status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("[site] metrics is read, off when absent, and a malformed one names the key") {
  const std::string site = "[site]\nname = \"a\"\ndata_dir = \"/d\"\n";
  Result<Config> absent = ParseConfig(site, "x.toml");
  REQUIRE(absent.ok());
  CHECK(absent->site.metrics.empty());
  Result<Config> set = ParseConfig(site + "metrics = \"127.0.0.1:9750\"\n", "x.toml");
  REQUIRE(set.ok());
  CHECK(set->site.metrics == "127.0.0.1:9750");
  for (const char* bad : {"metrics = \"127.0.0.1\"\n", "metrics = 9750\n", "metrics = \"\"\n",
                          "metrics = \"127.0.0.1:99999\"\n"}) {
    CAPTURE(bad);
    Result<Config> refused = ParseConfig(site + bad, "x.toml");
    REQUIRE_FALSE(refused.ok());
    CHECK_THAT(refused.status().message(), Catch::StartsWith("x.toml:4: site.metrics: "));
  }
}

TEST_CASE("label values escape quotes, backslashes and newlines") {
  CHECK(EscapeLabelValue("vm1") == "vm1");
  CHECK(EscapeLabelValue("a\"b") == "a\\\"b");
  CHECK(EscapeLabelValue("a\\b") == "a\\\\b");
  CHECK(EscapeLabelValue("a\nb") == "a\\nb");
  CHECK(EscapeLabelValue("\\\"\n") == "\\\\\\\"\\n");
  // A holder's and a group's user text stays on one sample line, quoted.
  std::vector<VolumeMetrics> volumes(1);
  volumes[0].info = MetricsVolume("vm1", "PAIR", "sync");
  volumes[0].info.group = "g\"1\\\nx";
  volumes[0].info.reserved_by = "host \"b\"\n";
  MetricsText text;
  RenderVolumeMetrics(volumes, &text);
  const std::vector<std::string> info = MetricLinesStartingWith(text.text(), "pairfs_volume_info{");
  REQUIRE(info.size() == 1);
  CHECK_THAT(info[0], Catch::Contains("group=\"g\\\"1\\\\\\nx\""));
  const std::vector<std::string> reserved =
      MetricLinesStartingWith(text.text(), "pairfs_volume_reserved{");
  REQUIRE(reserved.size() == 1);
  CHECK(reserved[0] == "pairfs_volume_reserved{volume=\"vm1\",holder=\"host \\\"b\\\"\\n\"} 1");
}

TEST_CASE("metric values: integers exactly, fractions shortest, infinities as the format says") {
  CHECK(FormatMetricValue(0.5) == "0.5");
  CHECK(FormatMetricValue(3) == "3");
  CHECK(FormatMetricValue(1.024e-06) == "1.024e-06");
  CHECK(FormatMetricValue(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(FormatMetricValue(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(FormatMetricValue(std::nan("")) == "NaN");
  MetricsText text;
  text.Family("pairfs_x_total", MetricsText::Type::kCounter, "a \\ b\nc");
  text.Sample({}, uint64_t{18446744073709551615ull});
  CHECK(text.text() ==
        "# HELP pairfs_x_total a \\\\ b\\nc\n# TYPE pairfs_x_total counter\n"
        "pairfs_x_total 18446744073709551615\n");
}

TEST_CASE("a histogram's buckets are cumulative and its count is the +Inf bucket") {
  MetricsText text;
  text.Family("pairfs_h_seconds", MetricsText::Type::kHistogram, "h");
  text.Histogram({{"stage", "write"}}, {0.001, 0.01, std::numeric_limits<double>::infinity()},
                 {2, 0, 3}, 0.25);
  CHECK(text.text() ==
        "# HELP pairfs_h_seconds h\n# TYPE pairfs_h_seconds histogram\n"
        "pairfs_h_seconds_bucket{stage=\"write\",le=\"0.001\"} 2\n"
        "pairfs_h_seconds_bucket{stage=\"write\",le=\"0.01\"} 2\n"
        "pairfs_h_seconds_bucket{stage=\"write\",le=\"+Inf\"} 5\n"
        "pairfs_h_seconds_sum{stage=\"write\"} 0.25\n"
        "pairfs_h_seconds_count{stage=\"write\"} 5\n");
  // The stage table: one histogram per stage, every bucket line of one stage ascending.
  StageTable table;
  table.Record(Stage::kFuseWrite, 1500);
  table.Record(Stage::kFuseWrite, 3'000'000'000ull);  // past the last bound: only in +Inf
  MetricsText stages;
  RenderStageLatencies(table, &stages);
  const std::vector<std::string> write = MetricLinesStartingWith(
      stages.text(), "pairfs_write_stage_latency_seconds_bucket{stage=\"fuse_write\"");
  REQUIRE(write.size() == LatencyHistogram::kBuckets);
  CHECK_THAT(write.front(), Catch::EndsWith(" 0"));
  CHECK_THAT(write[1], Catch::EndsWith(" 1"));
  CHECK_THAT(write[write.size() - 2], Catch::EndsWith(" 1"));
  CHECK(write.back() ==
        "pairfs_write_stage_latency_seconds_bucket{stage=\"fuse_write\",le=\"+Inf\"} 2");
  CHECK(MetricLinesStartingWith(stages.text(),
                                "pairfs_write_stage_latency_seconds_count{stage=\"fuse_write\"} 2")
            .size() == 1);
}

TEST_CASE("each volume has its own write and fsync latency histograms, the stage buckets") {
  // Two volumes recorded as the mount's handlers record them: vm1 three writes and one fsync,
  // vm2 nothing (its histograms are written, all 0).
  VolumeLatencies vm1;
  vm1.write.Record(1500);  // (1.024 us, 2.048 us]
  vm1.write.Record(1500);
  vm1.write.Record(3'000'000'000);  // past the last bound: only in +Inf
  {
    StageTimer timer(Stage::kFuseFsync, &vm1.fsync);  // as fuse/operations.cc Fsync does
  }
  std::vector<VolumeMetrics> volumes(2);
  volumes[0].info = MetricsVolume("vm1", "PAIR", "sync");
  volumes[0].write_latency = vm1.write.Read();
  volumes[0].fsync_latency = vm1.fsync.Read();
  volumes[1].info = MetricsVolume("vm2", "SMPL", "");
  MetricsText text;
  RenderVolumeMetrics(volumes, &text);
  const std::string& t = text.text();
  CHECK_THAT(t, Catch::Contains(
                    "# HELP pairfs_write_latency_seconds Whole write requests "
                    "through the mount, as the application sees them\n"
                    "# TYPE pairfs_write_latency_seconds histogram\n"
                    "pairfs_write_latency_seconds_bucket{volume=\"vm1\",le=\"1.024e-06\"} 0\n"
                    "pairfs_write_latency_seconds_bucket{volume=\"vm1\",le=\"2.048e-06\"} 2\n"));
  const std::vector<std::string> write =
      MetricLinesStartingWith(t, "pairfs_write_latency_seconds_bucket{volume=\"vm1\",");
  REQUIRE(write.size() == LatencyHistogram::kBuckets);  // 21 bounds and +Inf, as the stages
  CHECK(write[write.size() - 2] ==
        "pairfs_write_latency_seconds_bucket{volume=\"vm1\",le=\"1.073741824\"} 2");
  CHECK(write.back() == "pairfs_write_latency_seconds_bucket{volume=\"vm1\",le=\"+Inf\"} 3");
  CHECK_THAT(t, Catch::Contains("pairfs_write_latency_seconds_sum{volume=\"vm1\"} 3.000003\n"
                                "pairfs_write_latency_seconds_count{volume=\"vm1\"} 3\n"));
  CHECK(MetricLinesStartingWith(t, "pairfs_fsync_latency_seconds_count{volume=\"vm1\"} 1").size() ==
        1);
  // The other volume: every bucket, sum and count 0, in the same families' blocks.
  CHECK(MetricLinesStartingWith(t, "pairfs_write_latency_seconds_bucket{volume=\"vm2\",").size() ==
        LatencyHistogram::kBuckets);
  CHECK(MetricLinesStartingWith(t, "pairfs_write_latency_seconds_count{volume=\"vm2\"} 0").size() ==
        1);
  CHECK(MetricLinesStartingWith(t, "pairfs_fsync_latency_seconds_count{volume=\"vm2\"} 0").size() ==
        1);
  CHECK(MetricLinesStartingWith(t, "pairfs_fsync_latency_seconds_sum{volume=\"vm2\"} 0").size() ==
        1);
  CHECK(MetricLinesStartingWith(t, "# TYPE pairfs_fsync_latency_seconds histogram").size() == 1);
  // One block per family: every fsync line comes after every write line.
  CHECK(t.rfind("pairfs_write_latency_seconds_") < t.find("pairfs_fsync_latency_seconds_"));
}

TEST_CASE("the pair status gauge is 1 for the volume's status and 0 for the others") {
  std::vector<VolumeMetrics> volumes(2);
  volumes[0].info = MetricsVolume("vm1", "PAIR", "sync");
  volumes[0].replicated = {7, 28672};
  volumes[1].info = MetricsVolume("vm2", "PSUS", "async");
  volumes[1].info.journal_lag_bytes = 4096;
  volumes[1].info.lag_ms = 1500;
  MetricsText text;
  RenderVolumeMetrics(volumes, &text);
  const std::string& t = text.text();
  CHECK(MetricLinesStartingWith(t, "pairfs_pair_status{volume=\"vm1\"").size() == 9);
  CHECK(MetricLinesStartingWith(t, "pairfs_pair_status{volume=\"vm1\",status=\"PAIR\"} 1").size() ==
        1);
  CHECK(MetricLinesStartingWith(t, "pairfs_pair_status{volume=\"vm1\",status=\"PSUS\"} 0").size() ==
        1);
  CHECK(MetricLinesStartingWith(t, "pairfs_pair_status{volume=\"vm2\",status=\"PSUS\"} 1").size() ==
        1);
  CHECK(MetricLinesStartingWith(t, "pairfs_pair_role{volume=\"vm1\",role=\"primary\"} 1").size() ==
        1);
  CHECK(MetricLinesStartingWith(
            t, "pairfs_replicated_writes_total{volume=\"vm1\",peer_site=\"b\",mode=\"sync\"} 7")
            .size() == 1);
  CHECK(MetricLinesStartingWith(
            t, "pairfs_replicated_bytes_total{volume=\"vm1\",peer_site=\"b\",mode=\"sync\"} 28672")
            .size() == 1);
  // The journal families have samples for async pairs only.
  CHECK(MetricLinesStartingWith(t, "pairfs_journal_lag_bytes{").size() == 1);
  CHECK(MetricLinesStartingWith(t, "pairfs_journal_lag_bytes{volume=\"vm2\",group=\"\"} 4096")
            .size() == 1);
  CHECK(MetricLinesStartingWith(t, "pairfs_journal_lag_seconds{volume=\"vm2\",group=\"\"} 1.5")
            .size() == 1);
}

TEST_CASE("without clusterd only pairfs_clusterd_up 0; with it, one state is 1") {
  MetricsText absent;
  RenderClusterMetrics(std::nullopt, &absent);
  CHECK(MetricLinesStartingWith(absent.text(), "pairfs_clusterd_up 0").size() == 1);
  CHECK(MetricLinesStartingWith(absent.text(), "pairfs_cluster_").empty());
  wire::ClusterInfo cluster;
  cluster.state = "ACTIVE";
  cluster.peer_site = "b";
  wire::LinkInfo link;
  link.listen = "tcp://127.0.0.1:7101";
  link.peer = "tcp://127.0.0.1:7201";
  link.alive = true;
  link.last_heard_ms_ago = 250;
  link.refused = 4;
  cluster.links.push_back(link);
  MetricsText present;
  RenderClusterMetrics(cluster, &present);
  const std::string& t = present.text();
  CHECK(MetricLinesStartingWith(t, "pairfs_clusterd_up 1").size() == 1);
  CHECK(MetricLinesStartingWith(t, "pairfs_cluster_state{state=\"ACTIVE\"} 1").size() == 1);
  CHECK(MetricLinesStartingWith(t, "pairfs_cluster_state{state=\"STANDBY\"} 0").size() == 1);
  CHECK(MetricLinesStartingWith(t, "pairfs_heartbeat_last_heard_seconds{").front() ==
        "pairfs_heartbeat_last_heard_seconds{listen=\"tcp://127.0.0.1:7101\","
        "peer=\"tcp://127.0.0.1:7201\"} 0.25");
  CHECK(MetricLinesStartingWith(t, "pairfs_heartbeat_refused_frames_total{").front() ==
        "pairfs_heartbeat_refused_frames_total{listen=\"tcp://127.0.0.1:7101\","
        "peer=\"tcp://127.0.0.1:7201\"} 4");
  CHECK(MetricLinesStartingWith(absent.text(), "pairfs_heartbeat_").empty());
}

TEST_CASE("the site's link: up while heard within peer_timeout_ms, its age absent when never") {
  SiteMetrics site;
  site.site = "a";
  site.peer_site = "b";
  site.peer_timeout_ms = 2000;
  site.refusals = {{"peer: write", 3}};
  MetricsText never;
  RenderSiteMetrics(site, &never);
  CHECK(MetricLinesStartingWith(never.text(), "pairfs_peer_link_up{peer_site=\"b\"} 0").size() ==
        1);
  CHECK(MetricLinesStartingWith(never.text(), "pairfs_peer_last_heard_seconds{").empty());
  CHECK(MetricLinesStartingWith(never.text(), "pairfs_refusals_total{kind=\"peer: write\"} 3")
            .size() == 1);
  site.peer_heard_ms_ago = 100;
  MetricsText heard;
  RenderSiteMetrics(site, &heard);
  CHECK(MetricLinesStartingWith(heard.text(), "pairfs_peer_link_up{peer_site=\"b\"} 1").size() ==
        1);
  CHECK(MetricLinesStartingWith(heard.text(), "pairfs_peer_last_heard_seconds{peer_site=\"b\"} 0.1")
            .size() == 1);
}

TEST_CASE("the metrics server answers /metrics, 404 elsewhere, and a taken port is refused") {
  Result<std::unique_ptr<MetricsServer>> server =
      MetricsServer::Bind({"127.0.0.1", static_cast<uint16_t>(kMetricsTestPort)});
  REQUIRE(server.ok());
  Result<std::unique_ptr<MetricsServer>> second =
      MetricsServer::Bind({"127.0.0.1", static_cast<uint16_t>(kMetricsTestPort)});
  REQUIRE_FALSE(second.ok());
  CHECK_THAT(second.status().message(),
             Catch::StartsWith("site.metrics: cannot listen on 127.0.0.1:17951"));
  server.value()->Start([] { return std::string("pairfs_up 1\n"); });
  httplib::Client client("127.0.0.1", kMetricsTestPort);
  httplib::Result scraped = client.Get("/metrics");
  REQUIRE(scraped);
  CHECK(scraped->status == 200);
  CHECK(scraped->body == "pairfs_up 1\n");
  CHECK(scraped->get_header_value("Content-Type") == "text/plain; version=0.0.4");
  httplib::Result other = client.Get("/");
  REQUIRE(other);
  CHECK(other->status == 404);
  server.value()->Stop();
  server.value()->Stop();  // idempotent
  httplib::Client after("127.0.0.1", kMetricsTestPort);
  CHECK_FALSE(after.Get("/metrics"));
}
