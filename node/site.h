// A site node assembled from its loaded config (pairfs(8)): the volume store, the replicator
// with its peer link and witness votes (node/site_transports.h), and the control endpoint. The
// program that runs it (fuse/main.cc) mounts the store and detaches; a Site knows nothing of FUSE.
//
// Life cycle, in pairfs(8)'s start-up order:
//   Open()  before the process detaches: every check whose refusal belongs on the user's
//           terminal (keys, data directory, lock, endpoints that can be bound), the store opened,
//           the replicator built. No ZeroMQ context survives it (ZeroMQ cannot cross a fork).
//   Start() after the process detached: the peer link, the replicator, the control endpoint.
//   Stop()  the control endpoint, the replicator, the peer link, in that order.
//
// Not thread-safe itself: one thread opens, starts and stops a site. store() and replicator() are
// thread-safe (see their headers) and live as long as the Site.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "node/config.h"
#include "node/control_server.h"
#include "node/metrics_collect.h"
#include "node/metrics_server.h"
#include "node/replicator.h"
#include "node/site_startup.h"
#include "node/site_transports.h"
#include "node/store.h"
#include "wire/curve.h"
#include "wire/link.h"
#include "wire/peer_link.h"

namespace pairfs::node {

class Site {
 public:
  // Prepares the site of `config` (already loaded and checked by LoadConfig). Fails with the
  // message pairfs logs before exiting 1: SiteToSiteKeys' and WitnessSite's refusals, the data
  // directory's (PrepareDataDirAndLog), VolumeStore::Open's, DataDirLock::Take's (Busy "another
  // pairfs is serving DATA_DIR"), CheckEndpointFree's for site.control, "site.listen: ..."
  // when the peer port cannot be bound, and MetricsServer::Bind's ("site.metrics: ...") when
  // [site] metrics is set and its address cannot be listened on (bound here, served from Start).
  static Result<std::unique_ptr<Site>> Open(const Config& config, const SiteOptions& options);
  ~Site();  // Stop()
  Site(const Site&) = delete;
  Site& operator=(const Site&) = delete;

  // Starts the peer link (when [peer] and site.listen are given), the replicator, the control
  // endpoint and the metrics endpoint (when [site] metrics is set), and logs how the peer is
  // reached. Fails with the link's, the replicator's or the
  // control endpoint's error; what was started is stopped again. Call once.
  Status Start();
  // Stops the metrics endpoint, the control endpoint, the replicator and the peer link.
  // Idempotent.
  void Stop();

  const std::string& name() const { return config_.site.name; }
  VolumeStore& store() { return *store_; }
  Replicator& replicator() { return *replicator_; }

 private:
  Site(Config config, std::optional<wire::CurveKeys> keys, std::unique_ptr<DataDirLock> lock,
       std::unique_ptr<VolumeStore> store, const std::string& witness_site,
       std::unique_ptr<MetricsServer> metrics);
  bool paired() const { return config_.peer.present && !config_.site.listen.empty(); }

  const Config config_;
  const std::optional<wire::CurveKeys> keys_;
  // Destroyed in reverse order: the control endpoint first, the data directory's lock last.
  std::unique_ptr<DataDirLock> lock_;
  std::unique_ptr<VolumeStore> store_;
  LinkTransport transport_;
  std::unique_ptr<WitnessClient> witness_;
  std::unique_ptr<Replicator> replicator_;
  std::unique_ptr<wire::Context> context_;
  std::unique_ptr<wire::PeerLink> link_;
  std::unique_ptr<ControlServer> control_;
  // metrics (issue 15): null when [site] metrics is not set; stopped first, destroyed first.
  std::unique_ptr<MetricsCollector> collector_;
  std::unique_ptr<MetricsServer> metrics_;
};

}  // namespace pairfs::node
