#include "node/witness.h"

#include "node/security.h"
#include "node/witness_server.h"
#include "wire/link.h"

namespace pairfs::node {

Result<std::unique_ptr<Witness>> Witness::Open(const Config& config, const SiteOptions& options) {
  Result<std::optional<wire::CurveKeys>> keys = SiteToSiteKeys(config);
  if (!keys.ok()) return keys.status();
  Status logging = PrepareDataDirAndLog(config.site.data_dir, options);
  if (!logging.ok()) return logging;
  Result<std::unique_ptr<WitnessStore>> store = WitnessStore::Open(config.site.data_dir);
  if (!store.ok()) return store.status();
  Result<std::unique_ptr<DataDirLock>> lock = DataDirLock::Take(config.site.data_dir);
  if (!lock.ok()) return lock.status();
  Status bindable = CheckEndpointFree(config.witness.endpoint, "witness endpoint");
  if (!bindable.ok()) return bindable;
  return std::unique_ptr<Witness>(new Witness(config, std::move(keys.value()),
                                              std::move(store.value()), std::move(lock.value())));
}

Witness::Witness(Config config, std::optional<wire::CurveKeys> keys,
                 std::unique_ptr<WitnessStore> store, std::unique_ptr<DataDirLock> lock)
    : config_(std::move(config)),
      keys_(std::move(keys)),
      store_(std::move(store)),
      lock_(std::move(lock)) {}

Status Witness::Serve(const std::atomic<bool>& stopping) {
  wire::Context context;
  if (keys_) context.UseCurve(*keys_);
  WitnessServer server(*store_, config_.site.name, config_.witness.sites);
  Status served = server.Serve(context, config_.witness.endpoint, stopping);
  if (served.ok()) return served;
  return Status(served.code(), "witness.endpoint: " + served.message(), served.error_number());
}

}  // namespace pairfs::node
