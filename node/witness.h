// A witness (`pairfs --witness`, pairfs(8) WITNESS) assembled from its loaded config: the
// witness's record store and server (node/witness_server.h) with the same data-directory lock,
// bind check before detaching and background logging as a site node (node/site_startup.h). No
// volumes and no FUSE. The program (fuse/main.cc) opens it, detaches, sets the stop flag from its
// signal handlers and serves.
//
// Not thread-safe: one thread opens and serves it.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "node/config.h"
#include "node/site_startup.h"
#include "node/witness_store.h"
#include "wire/curve.h"

namespace pairfs::node {

class Witness {
 public:
  // Prepares the witness of `config`, which passed LoadConfig and CheckWitnessConfig (pairfs
  // reports that one as a usage error). Fails with the message pairfs logs before exiting 1:
  // SiteToSiteKeys' refusal, the data directory's (PrepareDataDirAndLog), WitnessStore::Open's,
  // DataDirLock::Take's, or CheckEndpointFree's for witness.endpoint.
  static Result<std::unique_ptr<Witness>> Open(const Config& config, const SiteOptions& options);

  // After the process detached: binds witness.endpoint and answers votes on the calling thread
  // until `stopping` is set. Ok then; WitnessServer::Serve's error prefixed "witness.endpoint: ".
  Status Serve(const std::atomic<bool>& stopping);

 private:
  Witness(Config config, std::optional<wire::CurveKeys> keys, std::unique_ptr<WitnessStore> store,
          std::unique_ptr<DataDirLock> lock);

  const Config config_;
  const std::optional<wire::CurveKeys> keys_;
  std::unique_ptr<WitnessStore> store_;
  std::unique_ptr<DataDirLock> lock_;
};

}  // namespace pairfs::node
