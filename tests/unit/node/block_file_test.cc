#include "node/block_file.h"

#include <catch2/catch.hpp>

#include <cerrno>
#include <random>

#include "node/volume.h"
#include "tests/unit/temp_dir.h"

using namespace pairfs;
using namespace pairfs::node;

namespace {
std::string ReadAll(BlockFile& file, uint64_t offset, size_t length) {
  std::string out(length, '?');
  REQUIRE(file.ReadAt(offset, length, out.data(), false).value() == length);
  return out;
}
}  // namespace

TEST_CASE("a memory image reads zeros where nothing was written and bytes where something was") {
  MemoryBlockFile file(1 << 20);
  CHECK(ReadAll(file, 0, 100) == std::string(100, '\0'));
  REQUIRE(file.WriteAt(4090, "hello world", 11, false).ok());  // across a page boundary
  CHECK(ReadAll(file, 4090, 11) == "hello world");
  CHECK(ReadAll(file, 4089, 13) == std::string("\0hello world\0", 13));
  CHECK(file.Stat().allocated_bytes == 2 * 4096);
}

TEST_CASE("a crash of a memory image loses exactly the writes after the last sync") {
  MemoryBlockFile file(1 << 20);
  REQUIRE(file.WriteAt(0, "synced", 6, false).ok());
  REQUIRE(file.Sync().ok());
  REQUIRE(file.WriteAt(0, "LOST", 4, false).ok());
  REQUIRE(file.WriteAt(8192, "lost too", 8, false).ok());
  file.Crash();
  CHECK(ReadAll(file, 0, 6) == "synced");
  CHECK(ReadAll(file, 8192, 8) == std::string(8, '\0'));
}

TEST_CASE("a full memory image fails writes with ENOSPC and keeps its data") {
  MemoryBlockFile file(1 << 20);
  REQUIRE(file.WriteAt(0, "kept", 4, false).ok());
  file.SetFull(true);
  Status refused = file.WriteAt(0, "gone", 4, false);
  CHECK(refused.code() == Code::kIoError);
  CHECK(refused.error_number() == ENOSPC);
  CHECK(ReadAll(file, 0, 4) == "kept");
}

TEST_CASE("a memory image fails writes with EIO after N more, and syncs, on cue, until healed") {
  MemoryBlockFile file(1 << 20);
  file.FailWrites(EIO, 2);
  CHECK(file.WriteAt(0, "one", 3, false).ok());
  CHECK(file.Deallocate(wire::WriteKind::kPunchHole, 4096, 4096).ok());  // a discard counts too
  Status failed = file.WriteAt(0, "two", 3, false);
  CHECK(failed.error_number() == EIO);
  CHECK(file.Deallocate(wire::WriteKind::kZeroRange, 0, 4096).error_number() == EIO);
  CHECK(ReadAll(file, 0, 3) == "one");
  file.FailWrites(0);
  CHECK(file.WriteAt(0, "two", 3, false).ok());
  file.FailSyncs(EIO);
  CHECK(file.Sync().error_number() == EIO);
  file.FailSyncs(0);
  CHECK(file.Sync().ok());
}

TEST_CASE("discard on a memory image zeroes the range and frees whole pages") {
  MemoryBlockFile file(1 << 20);
  const std::string data(3 * 4096, 'x');
  REQUIRE(file.WriteAt(0, data.data(), data.size(), false).ok());
  REQUIRE(file.Deallocate(wire::WriteKind::kPunchHole, 100, 2 * 4096).ok());
  CHECK(ReadAll(file, 0, 100) == std::string(100, 'x'));
  CHECK(ReadAll(file, 100, 8192) == std::string(8192, '\0'));
  CHECK(ReadAll(file, 8292, 100) == std::string(100, 'x'));
  CHECK(file.Stat().allocated_bytes == 2 * 4096);  // the middle page is a hole again
}

TEST_CASE("the memory image and the real image file agree on random writes and discards") {
  testing::TempDir dir;
  const uint64_t size = 256 * 1024;
  REQUIRE(PosixBlockFile::Create(dir.path() + "/img", size).ok());
  auto real = std::move(PosixBlockFile::Open(dir.path() + "/img").value());
  MemoryBlockFile memory(size);
  std::mt19937_64 random(99);
  for (int round = 0; round < 500; ++round) {
    const uint64_t offset = random() % (size - 1);
    const size_t length = 1 + random() % std::min<uint64_t>(9000, size - offset);
    if (round % 7 == 0) {
      const auto kind = round % 2 ? wire::WriteKind::kPunchHole : wire::WriteKind::kZeroRange;
      REQUIRE(real->Deallocate(kind, offset, length).ok());
      REQUIRE(memory.Deallocate(kind, offset, length).ok());
    } else {
      std::string data(length, '\0');
      for (char& c : data) c = static_cast<char>(random());
      REQUIRE(real->WriteAt(offset, data.data(), length, false).ok());
      REQUIRE(memory.WriteAt(offset, data.data(), length, false).ok());
    }
  }
  CHECK(ReadAll(*real, 0, size) == ReadAll(memory, 0, size));
}

TEST_CASE("a volume runs over a memory image, reservations and all") {
  testing::TempDir dir;
  VolumeMetadata metadata;
  metadata.name = "sim";
  metadata.size_bytes = 1 << 20;
  metadata.inode = 2;
  auto image = std::make_unique<MemoryBlockFile>(metadata.size_bytes);
  MemoryBlockFile* raw = image.get();
  std::unique_ptr<Volume> volume = Volume::Attach(dir.path(), metadata, std::move(image));
  REQUIRE(volume->Write("a", 0, "abcd", 4, false).value() == 4);
  REQUIRE(volume->Flush().ok());
  REQUIRE(volume->Write("a", 0, "wxyz", 4, false).ok());
  raw->Crash();
  std::string back(4, '\0');
  REQUIRE(volume->Read(0, 4, back.data(), false).ok());
  CHECK(back == "abcd");
  REQUIRE(volume->Reserve("a").ok());
  CHECK(volume->Write("b", 0, "b", 1, false).status().code() == Code::kConflict);
}
