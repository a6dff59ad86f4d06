#include "node/site.h"

#include <spdlog/spdlog.h>

#include "node/limits.h"
#include "node/security.h"

namespace pairfs::node {
namespace {

ReplicatorOptions ReplicationOf(const Config& config, bool paired) {
  ReplicatorOptions replication;
  replication.site = config.site.name;
  replication.peer_site = paired ? config.peer.name : "";
  replication.peer_timeout_ms = static_cast<int>(config.site.peer_timeout_ms);
  replication.region_size_bytes = config.site.region_size_bytes;
  replication.journal_dir = config.site.data_dir + "/journals";
  replication.journal_size_bytes = config.journal.size_bytes;
  replication.journal_high_water_percent = static_cast<int>(config.journal.high_water_percent);
  if (config.cluster.present) {
    replication.determining_volume = config.cluster.determining_volume;
    replication.managed_volumes = config.cluster.volumes;
  }
  return replication;
}

// The peer port too is bound once before detaching: "address in use" belongs on the user's
// terminal. ZeroMQ cannot cross a fork, so this context is thrown away.
Status CheckPeerPortFree(const std::string& listen) {
  wire::Context context;
  Result<std::unique_ptr<wire::Server>> listener = wire::Server::Bind(context, listen);
  if (listener.ok()) return Status::Ok();
  const Status& refused = listener.status();
  return Status(refused.code(), "site.listen: " + refused.message(), refused.error_number());
}

}  // namespace

Result<std::unique_ptr<Site>> Site::Open(const Config& config, const SiteOptions& options) {
  Result<std::optional<wire::CurveKeys>> keys = SiteToSiteKeys(config);
  if (!keys.ok()) return keys.status();
  std::string witness_site;
  if (keys.value() && config.peer.present && config.witness.present &&
      !config.witness.endpoint.empty()) {
    Result<std::string> found = WitnessSite(config, *keys.value());
    if (!found.ok()) return found.status();
    witness_site = found.value();
  }
  Status logging = PrepareDataDirAndLog(config.site.data_dir, options);
  if (!logging.ok()) return logging;
  Result<std::unique_ptr<VolumeStore>> store = VolumeStore::Open(config.site.data_dir);
  if (!store.ok()) return store.status();
  Result<std::unique_ptr<DataDirLock>> lock = DataDirLock::Take(config.site.data_dir);
  if (!lock.ok()) return lock.status();
  Status bindable = CheckEndpointFree(config.site.control, "control endpoint");
  if (!bindable.ok()) return bindable;
  if (config.peer.present && !config.site.listen.empty()) {
    Status listenable = CheckPeerPortFree(config.site.listen);
    if (!listenable.ok()) return listenable;
  }
  std::unique_ptr<MetricsServer> metrics;
  if (!config.site.metrics.empty()) {
    Result<MetricsAddress> address = ParseMetricsAddress(config.site.metrics);  // loader-checked
    if (!address.ok()) return address.status();
    Result<std::unique_ptr<MetricsServer>> bound = MetricsServer::Bind(address.value());
    if (!bound.ok()) return bound.status();
    metrics = std::move(bound.value());
  }
  return std::unique_ptr<Site>(new Site(config, std::move(keys.value()), std::move(lock.value()),
                                        std::move(store.value()), witness_site,
                                        std::move(metrics)));
}

Site::Site(Config config, std::optional<wire::CurveKeys> keys, std::unique_ptr<DataDirLock> lock,
           std::unique_ptr<VolumeStore> store, const std::string& witness_site,
           std::unique_ptr<MetricsServer> metrics)
    : config_(std::move(config)),
      keys_(std::move(keys)),
      lock_(std::move(lock)),
      store_(std::move(store)),
      metrics_(std::move(metrics)) {
  if (paired() && config_.witness.present && !config_.witness.endpoint.empty()) {
    witness_ = std::make_unique<WitnessClient>(config_.witness.endpoint, config_.site.name, keys_,
                                               witness_site);
  }
  replicator_ = std::make_unique<Replicator>(*store_, ReplicationOf(config_, paired()),
                                             paired() ? &transport_ : nullptr, witness_.get());
  control_ = std::make_unique<ControlServer>(*store_, config_.site.name, replicator_.get(),
                                             keys_.has_value());
  // The peer's operator's requests (pairctl --site) run through the same dispatch as this site's.
  replicator_->ServeCarriedWith([control = control_.get()](const wire::Frame& request) {
    return control->HandleCarried(request);
  });
  if (metrics_) {
    MetricsSources sources;
    sources.store = store_.get();
    sources.replicator = replicator_.get();
    sources.site = config_.site.name;
    sources.peer_site = paired() ? config_.peer.name : "";
    sources.link_authenticated = paired() && keys_.has_value();
    sources.clusterd_endpoint = "ipc://" + config_.site.data_dir + "/" + kClusterdSocketName;
    collector_ = std::make_unique<MetricsCollector>(std::move(sources));
  }
}

Site::~Site() { Stop(); }

Status Site::Start() {
  context_ = std::make_unique<wire::Context>();
  if (keys_) context_->UseCurve(*keys_);
  if (paired()) {
    Result<std::unique_ptr<wire::PeerLink>> link = wire::PeerLink::Start(
        *context_, config_.site.listen, config_.peer.endpoint, config_.site.name, config_.peer.name,
        [replicator = replicator_.get()](wire::Frame frame) {
          replicator->OnFrame(std::move(frame));
        });
    if (!link.ok()) {
      Stop();
      return link.status();
    }
    link_ = std::move(link.value());
    transport_.Attach(link_.get());
  }
  Status replicating = replicator_->Start();
  if (!replicating.ok()) {
    Stop();
    return replicating;
  }
  Status started = control_->Start(*context_, config_.site.control);
  if (!started.ok()) {
    Stop();
    return started;
  }
  if (metrics_) metrics_->Start([collector = collector_.get()] { return collector->Collect(); });
  if (paired()) {
    spdlog::info(
        "site {}: peer {} at {}, listening on {}, {}", config_.site.name, config_.peer.name,
        config_.peer.endpoint, config_.site.listen,
        keys_ ? "authenticated with CURVE keys" : "NOT authenticated (no [security] keys)");
  }
  return Status::Ok();
}

void Site::Stop() {
  if (metrics_) metrics_->Stop();  // its scrapes read the store and the replicator
  if (control_) control_->Stop();
  replicator_->Stop();
  transport_.Attach(nullptr);
  link_.reset();
  context_.reset();
}

}  // namespace pairfs::node
