// Faults of the local disk in a pair (doc/design.md "Faults of the local disk"), in the simulation:
// two real Replicators over the simulated network, each volume over a MemoryBlockFile that fails
// writes (ENOSPC, EIO) or flushes on cue. A write that fails at either copy suspends the pair
// (PSUE) with its region dirty, the writer gets the error, and once the fault is gone a resync
// makes the copies identical. The network is clean here: only the disk fails.
#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <thread>

#include "node/block_file.h"
#include "node/replicator.h"
#include "node/store.h"
#include "tests/sim/replication_wire.h"
#include "tests/unit/temp_dir.h"

namespace pairfs::sim {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kVolumeBytes = 256 * 1024;
constexpr uint64_t kRegionBytes = 4096;

template <class Predicate>
bool WaitFor(Predicate done, std::chrono::milliseconds limit = 10000ms) {  // only to catch hangs
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return done();
}

struct DiskSite {
  std::string name;
  std::unique_ptr<SimTransport> transport;
  std::unique_ptr<node::VolumeStore> store;
  node::MemoryBlockFile* image = nullptr;  // owned by the volume
  std::unique_ptr<node::Replicator> replicator;

  void Start(Wire& wire, const std::string& dir) {
    store = std::move(node::VolumeStore::Open(dir).value());
    node::VolumeMetadata metadata;
    metadata.name = "v";
    metadata.size_bytes = kVolumeBytes;
    metadata.inode = 2;
    auto memory = std::make_unique<node::MemoryBlockFile>(kVolumeBytes);
    image = memory.get();
    REQUIRE(store->Adopt(node::Volume::Attach(dir + "/volumes", metadata, std::move(memory))).ok());
    const node::ReplicatorOptions options = SimReplicatorOptions(name, kRegionBytes, 200, 20);
    replicator = std::make_unique<node::Replicator>(*store, options, transport.get());
    REQUIRE(replicator->Start().ok());
    wire.Attach(name, replicator.get());
  }
  node::Volume& volume() { return *store->Find("v"); }
  std::string Status() { return volume().metadata().role + " " + volume().metadata().status; }
  uint64_t DirtyBytes() {
    wire::VolumeInfo info;
    replicator->Describe(volume(), &info);
    return info.dirty_bytes;
  }
  std::string Image() {
    std::string bytes(kVolumeBytes, '\0');
    REQUIRE(volume().Read(0, kVolumeBytes, bytes.data(), false).value() == kVolumeBytes);
    return bytes;
  }
  Result<size_t> Write(uint64_t offset, const std::string& data) {
    return replicator->Write(volume(), name, offset, data.data(), data.size(), false);
  }
};

class Pair {
 public:
  Pair() : wire_(1) {
    std::filesystem::create_directories(dir_.path() + "/a");
    std::filesystem::create_directories(dir_.path() + "/b");
    a.name = "a";
    b.name = "b";
    a.transport = std::make_unique<SimTransport>(wire_, "a");
    b.transport = std::make_unique<SimTransport>(wire_, "b");
    a.Start(wire_, dir_.path() + "/a");
    b.Start(wire_, dir_.path() + "/b");
    REQUIRE(a.Write(0, std::string(3 * kRegionBytes, 'p')).ok());  // written before the pair
  }
  ~Pair() {
    wire_.Detach("a");
    wire_.Detach("b");
    a.replicator->Stop();
    b.replicator->Stop();
  }
  void Create() {
    std::string note;
    Status created = a.replicator->CreatePair({"v", "sync", "", "never", ""}, &note);
    INFO(created.message());
    REQUIRE(created.ok());
  }
  bool InPair() { return a.Status() == "primary PAIR" && b.Status() == "secondary PAIR"; }
  void Resync() {
    std::string note;
    Status resynced = a.replicator->Resync("v", false, false, &note);
    INFO(resynced.message());
    REQUIRE(resynced.ok());
    REQUIRE(WaitFor([&] { return InPair(); }));
  }
  void RequireIdentical() {
    CHECK(a.Image() == b.Image());
    Result<std::vector<uint64_t>> mismatches = a.replicator->Verify("v", 0, kVolumeBytes);
    REQUIRE(mismatches.ok());
    CHECK(mismatches.value().empty());
  }
  // Both sides suspended, the primary with the region of `offset` dirty.
  void RequireSuspendedWithDirty() {
    // A write at the secondary fails there after the primary granted it: the writer has its
    // error before the primary reads the confirm.
    CHECK(WaitFor([&] { return a.Status() == "primary PSUE"; }));
    CHECK(a.DirtyBytes() > 0);
    CHECK(WaitFor([&] { return b.Status() == "secondary PSUE"; }));
  }

  DiskSite a;
  DiskSite b;

 private:
  testing::TempDir dir_;
  Wire wire_;
};

void RequireError(const Result<size_t>& written, int error_number) {
  INFO(written.status().message());
  REQUIRE_FALSE(written.ok());
  CHECK(ErrnoFor(written.status()) == error_number);
}

TEST_CASE(
    "disk fault: a write that fails at the primary (disk full) suspends the pair; resync repairs "
    "it",
    "[sim][disk]") {
  Pair pair;
  pair.Create();
  REQUIRE(WaitFor([&] { return pair.InPair(); }));
  pair.a.image->FailWrites(ENOSPC);
  RequireError(pair.a.Write(5 * kRegionBytes, std::string(100, 'x')), ENOSPC);
  pair.RequireSuspendedWithDirty();    // the secondary wrote it, the primary did not
  std::this_thread::sleep_for(100ms);  // several activity-log trims: the region stays dirty
  CHECK(pair.a.DirtyBytes() > 0);
  pair.a.image->FailWrites(0);
  pair.Resync();
  pair.RequireIdentical();
}

TEST_CASE(
    "disk fault: a write that fails at the secondary (EIO) suspends the pair; resync repairs it",
    "[sim][disk]") {
  Pair pair;
  pair.Create();
  REQUIRE(WaitFor([&] { return pair.InPair(); }));
  pair.b.image->FailWrites(EIO);
  RequireError(pair.a.Write(7 * kRegionBytes + 10, std::string(5000, 'y')), EIO);
  pair.RequireSuspendedWithDirty();
  pair.b.image->FailWrites(0);
  pair.Resync();
  pair.RequireIdentical();
  CHECK(pair.b.Image().substr(7 * kRegionBytes + 10, 5000) ==
        std::string(5000, 'y'));  // the primary's copy won
}

TEST_CASE(
    "disk fault: a write at the secondary that fails there after the primary granted it suspends "
    "the pair",
    "[sim][disk]") {
  Pair pair;
  pair.Create();
  REQUIRE(WaitFor([&] { return pair.InPair(); }));
  pair.b.image->FailWrites(ENOSPC);
  RequireError(pair.b.Write(9 * kRegionBytes, std::string(512, 'z')), ENOSPC);
  pair.RequireSuspendedWithDirty();
  pair.b.image->FailWrites(0);
  pair.Resync();
  pair.RequireIdentical();
}

TEST_CASE(
    "disk fault: a write at the secondary that fails at the primary suspends the pair, the writer "
    "gets ENOSPC",
    "[sim][disk]") {
  Pair pair;
  pair.Create();
  REQUIRE(WaitFor([&] { return pair.InPair(); }));
  pair.a.image->FailWrites(ENOSPC);
  RequireError(pair.b.Write(11 * kRegionBytes, std::string(512, 'w')), ENOSPC);
  pair.RequireSuspendedWithDirty();
  pair.a.image->FailWrites(0);
  pair.Resync();
  pair.RequireIdentical();
}

TEST_CASE(
    "disk fault: a copy write that fails at the secondary suspends the copy with its regions dirty",
    "[sim][disk]") {
  Pair pair;
  pair.b.image->FailWrites(EIO);  // the volume is one copy chunk: its write fails
  pair.Create();
  REQUIRE(WaitFor([&] { return pair.a.Status() == "primary PSUE"; }));
  CHECK(pair.a.DirtyBytes() > 0);
  CHECK(WaitFor([&] { return pair.b.Status() == "secondary PSUE"; }));
  pair.b.image->FailWrites(0);
  pair.Resync();
  pair.RequireIdentical();
  CHECK(pair.b.Image().substr(0, 3 * kRegionBytes) == std::string(3 * kRegionBytes, 'p'));
}

TEST_CASE("disk fault: a flush that fails at the primary suspends the pair; fsync gets the error",
          "[sim][disk]") {
  Pair pair;
  pair.Create();
  REQUIRE(WaitFor([&] { return pair.InPair(); }));
  REQUIRE(pair.a.Write(13 * kRegionBytes, std::string(512, 'f')).ok());
  pair.a.image->FailSyncs(EIO);
  Status flushed = pair.a.replicator->Flush(pair.a.volume());
  CHECK(ErrnoFor(flushed) == EIO);
  pair.RequireSuspendedWithDirty();
  pair.a.image->FailSyncs(0);
  pair.Resync();
  pair.RequireIdentical();
}

}  // namespace
}  // namespace pairfs::sim
