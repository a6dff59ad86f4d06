#include "node/store.h"

#include <catch2/catch.hpp>

#include <ctime>
#include <fstream>

#include "node/metadata.h"
#include "node/region_set.h"
#include "node/replicator.h"
#include "tests/unit/temp_dir.h"

using namespace pairfs;
using namespace pairfs::node;

namespace {
constexpr uint64_t kMiB = 1 << 20;

std::unique_ptr<VolumeStore> OpenStore(const std::string& dir) {
  Result<std::unique_ptr<VolumeStore>> store = VolumeStore::Open(dir);
  REQUIRE(store.ok());
  return std::move(store.value());
}
}  // namespace

TEST_CASE("a created volume is a sparse image of its size that survives reopening") {
  testing::TempDir dir;
  {
    auto store = OpenStore(dir.path());
    Result<std::shared_ptr<Volume>> volume = store->Create("vm1", 64 * kMiB);
    REQUIRE(volume.ok());
    CHECK(volume.value()->size_bytes() == 64 * kMiB);
    CHECK(volume.value()->Attributes().allocated_bytes < kMiB);
    CHECK(store->Create("vm1", 4096).status().code() == Code::kAlreadyExists);
    CHECK(store->Create("bad/name", 4096).status().code() == Code::kInvalidArgument);
    CHECK(store->Create("odd", 1000).status().code() == Code::kInvalidArgument);
  }
  auto store = OpenStore(dir.path());
  REQUIRE(store->Find("vm1"));
  CHECK(store->Find("vm1")->size_bytes() == 64 * kMiB);
  CHECK(store->List().size() == 1);
}

TEST_CASE("writes and reads go to the image; past the end is NoSpace, across the end is short") {
  testing::TempDir dir;
  auto store = OpenStore(dir.path());
  std::shared_ptr<Volume> volume = store->Create("vm1", kMiB).value();
  const std::string data(8192, 'x');
  CHECK(volume->Write("a", 4096, data.data(), data.size(), false).value() == 8192);
  std::string back(8192, '\0');
  CHECK(volume->Read(4096, back.size(), back.data(), false).value() == 8192);
  CHECK(back == data);
  CHECK(volume->Write("a", kMiB, data.data(), 1, false).status().code() == Code::kNoSpace);
  CHECK(volume->Write("a", kMiB - 4096, data.data(), data.size(), false).value() == 4096);
  CHECK(volume->Read(kMiB, 10, back.data(), false).value() == 0);
  CHECK(volume->Read(kMiB - 100, 4096, back.data(), false).value() == 100);
  CHECK(volume->Flush().ok());
}

TEST_CASE("a reservation refuses writes from other sites, and survives a restart") {
  testing::TempDir dir;
  const std::string data(4096, 'r');
  {
    auto store = OpenStore(dir.path());
    std::shared_ptr<Volume> volume = store->Create("vm1", kMiB).value();
    CHECK(volume->Write("b", 0, data.data(), data.size(), false).ok());  // unreserved: any site
    REQUIRE(volume->Reserve("a").ok());
    CHECK(volume->Reserve("a").ok());  // again by the holder: fine
    CHECK(volume->Reserve("b").code() == Code::kConflict);
    CHECK(volume->Write("a", 0, data.data(), data.size(), false).ok());
    CHECK(volume->Write("b", 0, data.data(), data.size(), false).status().code() ==
          Code::kConflict);
    CHECK(volume->Discard("b", wire::WriteKind::kPunchHole, 0, 4096).code() == Code::kConflict);
    CHECK(volume->Release("b").code() == Code::kConflict);
  }
  auto store = OpenStore(dir.path());
  std::shared_ptr<Volume> volume = store->Find("vm1");
  CHECK(volume->metadata().reserved_by == "a");
  CHECK(volume->Write("b", 0, data.data(), data.size(), false).status().code() == Code::kConflict);
  REQUIRE(volume->Release("a").ok());
  CHECK(volume->Write("b", 0, data.data(), data.size(), false).ok());
  CHECK(volume->Release("a").ok());  // releasing a free volume is fine
}

TEST_CASE("a secondary or outdated copy refuses writes as read-only") {
  testing::TempDir dir;
  auto store = OpenStore(dir.path());
  std::shared_ptr<Volume> volume = store->Create("vm1", kMiB).value();
  VolumeMetadata metadata = volume->metadata();
  metadata.role = "secondary";
  metadata.status = "PAIR";
  REQUIRE(SaveMetadata(dir.path() + "/volumes/vm1.meta", metadata).ok());
  auto reopened = OpenStore(dir.path());
  const char byte = 1;
  CHECK(reopened->Find("vm1")->Write("a", 0, &byte, 1, false).status().code() == Code::kReadOnly);
}

TEST_CASE("discard punches a hole or zeroes a range, within the volume only") {
  testing::TempDir dir;
  auto store = OpenStore(dir.path());
  std::shared_ptr<Volume> volume = store->Create("vm1", kMiB).value();
  const std::string data(65536, 'd');
  REQUIRE(volume->Write("a", 0, data.data(), data.size(), false).ok());
  REQUIRE(volume->Discard("a", wire::WriteKind::kPunchHole, 0, 4096).ok());
  REQUIRE(volume->Discard("a", wire::WriteKind::kZeroRange, 8192, 4096).ok());
  std::string back(16384, 'x');
  REQUIRE(volume->Read(0, back.size(), back.data(), false).ok());
  CHECK(back.substr(0, 4096) == std::string(4096, '\0'));
  CHECK(back.substr(4096, 4096) == std::string(4096, 'd'));
  CHECK(back.substr(8192, 4096) == std::string(4096, '\0'));
  CHECK(volume->Discard("a", wire::WriteKind::kPunchHole, kMiB - 4096, 8192).code() ==
        Code::kNoSpace);
}

TEST_CASE("an open volume cannot be deleted; a closed one is deleted with its files") {
  testing::TempDir dir;
  auto store = OpenStore(dir.path());
  std::shared_ptr<Volume> volume = store->Create("vm1", kMiB).value();
  {
    auto open = store->OpenByInode(volume->inode());
    REQUIRE(open.ok());
    CHECK(store->Delete("vm1", "a").code() == Code::kBusy);
  }
  REQUIRE(volume->Reserve("b").ok());
  CHECK(store->Delete("vm1", "a").code() == Code::kConflict);
  REQUIRE(volume->Release("b").ok());
  REQUIRE(store->Delete("vm1", "a").ok());
  CHECK_FALSE(store->Find("vm1"));
  CHECK(store->Delete("vm1", "a").code() == Code::kNotFound);
  CHECK(std::ifstream(dir.path() + "/volumes/vm1.img").fail());
  CHECK(store->OpenByInode(volume->inode()).status().code() == Code::kNotFound);
}

TEST_CASE("volumes grow but never shrink") {
  testing::TempDir dir;
  auto store = OpenStore(dir.path());
  REQUIRE(store->Create("vm1", kMiB).ok());
  REQUIRE(store->Resize("vm1", 2 * kMiB).ok());
  CHECK(store->Find("vm1")->size_bytes() == 2 * kMiB);
  CHECK(store->Resize("vm1", kMiB).code() == Code::kInvalidArgument);
  CHECK(store->Resize("nope", kMiB).code() == Code::kNotFound);
  auto reopened = OpenStore(dir.path());
  CHECK(reopened->Find("vm1")->size_bytes() == 2 * kMiB);
}

TEST_CASE(
    "damaged metadata is not loaded and its files are left alone; an orphan image blocks its "
    "name") {
  testing::TempDir dir;
  {
    auto store = OpenStore(dir.path());
    REQUIRE(store->Create("good", kMiB).ok());
    REQUIRE(store->Create("bad", kMiB).ok());
  }
  std::ofstream(dir.path() + "/volumes/bad.meta") << "garbage";
  std::ofstream(dir.path() + "/volumes/orphan.img") << "data";
  auto store = OpenStore(dir.path());
  CHECK(store->Find("good"));
  CHECK_FALSE(store->Find("bad"));
  CHECK_FALSE(std::ifstream(dir.path() + "/volumes/bad.img").fail());
  Result<std::shared_ptr<Volume>> orphan = store->Create("orphan", kMiB);
  CHECK(orphan.status().code() == Code::kAlreadyExists);
  CHECK_THAT(orphan.status().message(), Catch::Contains("without metadata"));
}

TEST_CASE("a resize interrupted after its intent or after the image grew is finished on open") {
  for (bool image_grown : {false, true}) {
    testing::TempDir dir;
    {
      auto store = OpenStore(dir.path());
      std::shared_ptr<Volume> volume = store->Create("vm1", kMiB).value();
      REQUIRE(volume->Write("a", 4096, "kept", 4, false).ok());
      REQUIRE(volume->Flush().ok());
    }
    const std::string meta = dir.path() + "/volumes/vm1.meta";
    VolumeMetadata metadata = LoadMetadata(meta).value();
    metadata.growing_to_bytes = 4 * kMiB;  // what Grow saves first
    REQUIRE(SaveMetadata(meta, metadata).ok());
    if (image_grown) REQUIRE(::truncate((dir.path() + "/volumes/vm1.img").c_str(), 4 * kMiB) == 0);
    auto store = OpenStore(dir.path());
    INFO("image grown before the crash: " << image_grown);
    REQUIRE(store->Find("vm1"));
    CHECK(store->Find("vm1")->size_bytes() == 4 * kMiB);
    CHECK(store->Find("vm1")->Attributes().size_bytes == 4 * kMiB);
    CHECK(LoadMetadata(meta).value().growing_to_bytes == 0);
    CHECK(LoadMetadata(meta).value().size_bytes == 4 * kMiB);
    char data[4] = {};
    REQUIRE(store->Find("vm1")->Read(4096, 4, data, false).ok());
    CHECK(std::string(data, 4) == "kept");
  }
}

TEST_CASE(
    "an image longer than its metadata without a resize intent is left out, the others load") {
  testing::TempDir dir;
  {
    auto store = OpenStore(dir.path());
    REQUIRE(store->Create("good", kMiB).ok());
    REQUIRE(store->Create("long", kMiB).ok());
  }
  REQUIRE(::truncate((dir.path() + "/volumes/long.img").c_str(), 2 * kMiB) == 0);
  auto store = OpenStore(dir.path());
  CHECK(store->Find("good"));
  CHECK_FALSE(store->Find("long"));
}

namespace {

// Writes the metadata of a volume `name` as a side of a pair (no peer is ever asked here).
void MakePairSide(const std::string& dir, const std::string& name, const std::string& status) {
  const std::string meta = dir + "/volumes/" + name + ".meta";
  VolumeMetadata metadata = LoadMetadata(meta).value();
  metadata.role = "primary";
  metadata.status = status;
  metadata.peer_site = "b";
  metadata.peer_volume = name;
  metadata.pair_mode = "sync";
  metadata.fence = "never";
  metadata.generation = 1;
  metadata.generation_site = "a";
  metadata.region_size_bytes = 64 * 1024;
  REQUIRE(SaveMetadata(meta, metadata).ok());
}

}  // namespace

TEST_CASE(
    "a pair whose state or region set is damaged: the region set counts all changed, a bad state "
    "is left out") {
  testing::TempDir dir;
  {
    auto store = OpenStore(dir.path());
    REQUIRE(store->Create("good", kMiB).ok());
    REQUIRE(store->Create("torn", kMiB).ok());
    REQUIRE(store->Create("gone", kMiB).ok());
    REQUIRE(store->Create("bad", kMiB).ok());
  }
  MakePairSide(dir.path(), "good", "PSUS");
  MakePairSide(dir.path(), "torn", "PSUS");
  MakePairSide(dir.path(), "gone", "PSUS");  // no region set at all
  MakePairSide(dir.path(), "bad", "NOT-A-STATUS");
  for (const char* name : {"good", "torn"}) {
    REQUIRE(RegionSet::Create(dir.path() + "/volumes/" + name + ".regions", kMiB, 64 * 1024, false)
                .ok());
  }
  std::ofstream(dir.path() + "/volumes/torn.regions",
                std::ios::in | std::ios::out | std::ios::binary)
      << "XXXX";
  auto store = OpenStore(dir.path());
  ReplicatorOptions options;
  options.site = "a";
  options.peer_site = "b";
  Replicator replicator(*store, options, nullptr);
  REQUIRE(replicator.Start().ok());
  auto dirty = [&](const char* name) {
    wire::VolumeInfo info;
    replicator.Describe(*store->Find(name), &info);
    return info.dirty_bytes;
  };
  REQUIRE(store->Find("good"));
  CHECK(dirty("good") == 0);
  REQUIRE(store->Find("torn"));
  CHECK(dirty("torn") == kMiB);  // a bad header: every region changed
  REQUIRE(store->Find("gone"));
  CHECK(dirty("gone") == kMiB);     // missing: every region changed, never none
  CHECK_FALSE(store->Find("bad"));  // left out: never served as a simplex
  CHECK(store->List().size() == 3);
  CHECK_FALSE(std::ifstream(dir.path() + "/volumes/bad.img").fail());  // its files stay
  replicator.Stop();
}

TEST_CASE("inodes are unique and not reused while the store is open") {
  testing::TempDir dir;
  auto store = OpenStore(dir.path());
  const uint64_t first = store->Create("a", 4096).value()->inode();
  REQUIRE(store->Delete("a", "x").ok());
  const uint64_t second = store->Create("b", 4096).value()->inode();
  CHECK(first >= 2);
  CHECK(second > first);
  CHECK(store->FindByInode(second)->name() == "b");
}

TEST_CASE("ownership and mode persist, and changing them moves ctime") {
  testing::TempDir dir;
  {
    auto store = OpenStore(dir.path());
    std::shared_ptr<Volume> volume = store->Create("vm1", 4096).value();
    const struct timespec before = volume->Attributes().ctime;
    struct timespec pause {
      0, 20 * 1000 * 1000
    };
    ::nanosleep(&pause, nullptr);
    REQUIRE(volume->SetOwnership(1234, 5678, 0640).ok());
    const struct timespec after = volume->Attributes().ctime;
    CHECK((after.tv_sec > before.tv_sec ||
           (after.tv_sec == before.tv_sec && after.tv_nsec > before.tv_nsec)));
  }
  auto store = OpenStore(dir.path());
  VolumeAttributes attributes = store->Find("vm1")->Attributes();
  CHECK(attributes.uid == 1234);
  CHECK(attributes.gid == 5678);
  CHECK(attributes.mode == 0640);
}
