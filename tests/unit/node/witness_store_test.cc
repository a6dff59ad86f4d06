#include "node/witness_store.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "tests/unit/temp_dir.h"

using namespace pairfs;
using namespace pairfs::node;

namespace {
wire::ReservationRecord Stored(uint64_t epoch, std::string holder, std::string outdated = "") {
  return wire::ReservationRecord{epoch, std::move(holder), std::move(outdated)};
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}
}  // namespace

TEST_CASE("a witness record round-trips through its bytes") {
  const std::string bytes = EncodeWitnessRecord(Stored(4, "b", "a"));
  CHECK(bytes.size() > kWitnessRecordHeaderBytes);
  CHECK(bytes.substr(0, 4) == "PFWR");
  Result<wire::ReservationRecord> decoded = DecodeWitnessRecord(bytes);
  REQUIRE(decoded.ok());
  CHECK(decoded->epoch == 4);
  CHECK(decoded->holder == "b");
  CHECK(decoded->outdated == "a");
}

TEST_CASE("a damaged witness record is refused with a reason, never half-read") {
  const std::string good = EncodeWitnessRecord(Stored(4, "b"));
  // Each damage: where one byte changes (or how long the file is kept), and the reason expected.
  struct Damage {
    size_t flip_at;     // byte to flip; npos: none
    size_t keep_bytes;  // bytes kept; npos: all
    const char* reason;
  };
  constexpr size_t kAll = std::string::npos;
  const Damage damages[] = {
      {kAll, 10, "shorter than its header"},        {kAll, good.size() - 1, "length mismatch"},
      {good.size() - 1, kAll, "checksum mismatch"}, {0, kAll, "bad magic"},
      {4, kAll, "version 5 is not supported"},
  };
  for (const Damage& damage : damages) {
    std::string bytes = good.substr(0, damage.keep_bytes);
    if (damage.flip_at != kAll) bytes[damage.flip_at] ^= 4;
    Result<wire::ReservationRecord> decoded = DecodeWitnessRecord(bytes);
    CHECK(decoded.status().code() == Code::kCorruption);
    CHECK(decoded.status().message() == std::string("reservation record: ") + damage.reason);
  }
}

TEST_CASE("the witness store creates its directory; a volume without a file has an empty record") {
  testing::TempDir dir;
  auto store = std::move(WitnessStore::Open(dir.path() + "/w").value());
  CHECK(std::filesystem::is_directory(dir.path() + "/w/witness"));
  CHECK((std::filesystem::status(dir.path() + "/w/witness").permissions() &
         std::filesystem::perms::others_all) == std::filesystem::perms::none);
  Result<wire::ReservationRecord> empty = store->Load("quorum");
  REQUIRE(empty.ok());
  CHECK(empty->epoch == 0);
  CHECK(empty->holder.empty());
  CHECK(store->PathOf("quorum") == dir.path() + "/w/witness/quorum.record");
}

TEST_CASE("a saved record is on disk for the next witness") {
  testing::TempDir dir;
  {
    auto store = std::move(WitnessStore::Open(dir.path()).value());
    REQUIRE(store->Save("quorum", Stored(3, "a", "b")).ok());
    CHECK(store->Load("quorum")->holder == "a");
  }
  auto reopened = std::move(WitnessStore::Open(dir.path()).value());
  Result<wire::ReservationRecord> loaded = reopened->Load("quorum");
  REQUIRE(loaded.ok());
  CHECK(loaded->epoch == 3);
  CHECK(loaded->outdated == "b");
  CHECK_FALSE(std::filesystem::exists(dir.path() + "/witness/quorum.record.tmp"));
}

TEST_CASE("a corrupt record file is refused naming it, and read again on the next load") {
  testing::TempDir dir;
  auto store = std::move(WitnessStore::Open(dir.path()).value());
  const std::string path = store->PathOf("quorum");
  WriteFile(path, "not a record at all, but long enough to hold a header");
  Result<wire::ReservationRecord> corrupt = store->Load("quorum");
  CHECK(corrupt.status().code() == Code::kCorruption);
  CHECK_THAT(corrupt.status().message(), Catch::Contains(path) && Catch::Contains("bad magic"));
  WriteFile(path, EncodeWitnessRecord(Stored(9, "b")));
  CHECK(store->Load("quorum")->epoch == 9);
}

TEST_CASE("the witness store refuses names that are not volume names") {
  testing::TempDir dir;
  auto store = std::move(WitnessStore::Open(dir.path()).value());
  CHECK(store->Load("../escape").status().code() == Code::kInvalidArgument);
  CHECK(store->Save("..", Stored(1, "a")).code() == Code::kInvalidArgument);
  CHECK(store->Load("").status().code() == Code::kInvalidArgument);
}

TEST_CASE("a failed write leaves the old record, and the next load reads the file") {
  testing::TempDir dir;
  auto store = std::move(WitnessStore::Open(dir.path()).value());
  REQUIRE(store->Save("quorum", Stored(1, "a")).ok());
  // A directory where the temporary file goes makes the atomic replacement fail.
  std::filesystem::create_directory(store->PathOf("quorum") + ".tmp");
  Status failed = store->Save("quorum", Stored(2, "b"));
  CHECK(failed.code() == Code::kIoError);
  CHECK(store->Load("quorum")->holder == "a");
  std::filesystem::remove(store->PathOf("quorum") + ".tmp");
  REQUIRE(store->Save("quorum", Stored(2, "b")).ok());
  CHECK(store->Load("quorum")->holder == "b");
}

TEST_CASE("the witness store keeps at most kMaxWitnessRecords files") {
  testing::TempDir dir;
  std::filesystem::create_directory(dir.path() + "/witness");
  const std::string record = EncodeWitnessRecord(Stored(1, "a"));
  for (size_t i = 0; i < kMaxWitnessRecords; ++i) {
    WriteFile(dir.path() + "/witness/v" + std::to_string(i) + ".record", record);
  }
  auto store = std::move(WitnessStore::Open(dir.path()).value());
  CHECK(store->Save("one-more", Stored(1, "a")).code() == Code::kNoSpace);
  CHECK(store->Save("v7", Stored(2, "b")).ok());
}
