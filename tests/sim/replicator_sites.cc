#include "tests/sim/replicator_sites.h"

#include <filesystem>
#include <future>
#include <stdexcept>
#include <vector>

#include "node/region_set.h"

namespace pairfs::sim {

void Ensure(bool condition, const char* what) {
  if (!condition) throw std::runtime_error(std::string("check failed: ") + what);
}

void ReplicatorSite::Start(Wire& wire, const node::ReplicatorOptions& options, bool memory_volume) {
  Result<std::unique_ptr<node::VolumeStore>> opened = node::VolumeStore::Open(dir);
  Ensure(opened.ok(), "the store opens");
  store = std::move(opened.value());
  if (memory_volume) AdoptMemoryVolume();
  replicator = std::make_unique<node::Replicator>(*store, options, transport.get());
  Ensure(replicator->Start().ok(), "the replicator starts");
  wire.Attach(name, replicator.get());
}

void ReplicatorSite::AdoptMemoryVolume() {
  node::VolumeMetadata metadata;
  metadata.name = "v";
  metadata.size_bytes = kSiteVolumeBytes;
  metadata.inode = 2;
  auto memory = std::make_unique<node::MemoryBlockFile>(kSiteVolumeBytes);
  image = memory.get();
  Ensure(store->Adopt(node::Volume::Attach(dir + "/volumes", metadata, std::move(memory))).ok(),
         "the store adopts the volume");
}

void ReplicatorSite::Crash(Wire& wire) {
  wire.Detach(name);
  replicator.reset();
  store.reset();
  image = nullptr;
}

node::Volume& ReplicatorSite::volume() {
  std::shared_ptr<node::Volume> found = store->Find("v");
  Ensure(found != nullptr, "the volume exists");
  return *found;
}

std::string ReplicatorSite::Status(bool outdated) {
  const node::VolumeMetadata& metadata = volume().metadata();
  return metadata.role + " " + metadata.status + (outdated && metadata.outdated ? " outdated" : "");
}

std::string ReplicatorSite::Image() {
  std::string bytes(kSiteVolumeBytes, '\0');
  Result<size_t> read = volume().Read(0, kSiteVolumeBytes, bytes.data(), false);
  Ensure(read.ok() && read.value() == kSiteVolumeBytes, "the whole volume reads");
  return bytes;
}

Result<size_t> ReplicatorSite::Write(uint64_t offset, const std::string& data) {
  // As the mount writes (fuse/operations.cc): answered where the write ends, often on another
  // thread (the one that delivers the peer's answer, or the write finisher).
  auto result = std::make_shared<std::promise<Result<size_t>>>();
  std::future<Result<size_t>> done = result->get_future();
  replicator->WriteAsync(volume(), name, offset, data.data(), data.size(), false,
                         [result](Result<size_t> written) { result->set_value(written); });
  Ensure(done.wait_for(std::chrono::seconds(60)) == std::future_status::ready,
         "a write is answered (no hang)");
  return done.get();
}

uint64_t ReplicatorSite::DirtyBytes() {
  wire::VolumeInfo info;
  replicator->Describe(volume(), &info);
  return info.dirty_bytes;
}

uint64_t ReplicatorSite::SavedMarkedBytes() {
  Result<std::unique_ptr<node::RegionSet>> regions =
      node::RegionSet::Open(volume().SidecarPath("regions"), kSiteVolumeBytes, kSiteRegionBytes);
  Ensure(regions.ok(), "the region set's file opens");
  return regions.value()->marked_bytes();
}

SitePair::SitePair(const std::string& dir, uint64_t seed) : wire(seed) {
  for (ReplicatorSite* site : {&a, &b}) {
    site->name = site == &a ? "a" : "b";
    site->dir = dir + "/" + site->name;
    std::filesystem::create_directories(site->dir);
    site->transport = std::make_unique<SimTransport>(wire, site->name);
  }
}

SitePair::~SitePair() {
  // Stopped while both still hear each other, a primary first: its last ask (a copy's end asks
  // the peer to clear its marks) is answered instead of waiting out peer_timeout_ms (2 s of each
  // executor test). Detached once stopped: the wire outlives the replicators.
  std::vector<ReplicatorSite*> order = {&a, &b};
  if (b.replicator && b.store && b.store->Find("v") && b.volume().metadata().role == "primary")
    order = {&b, &a};
  for (ReplicatorSite* site : order) {
    if (site->replicator) site->replicator->Stop();
  }
  wire.Detach("a");
  wire.Detach("b");
}

}  // namespace pairfs::sim
