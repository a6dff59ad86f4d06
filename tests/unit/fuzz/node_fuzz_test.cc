// Fuzzing what a node reads from its own disk and config: the metadata decoder (node/metadata.h),
// the region set file (node/region_set.h), the witness record (node/witness_store.h) and the
// config parser (node::ParseConfig). Inputs are mutants of valid files; nothing may crash, throw
// or abort, and what is accepted must be usable (a metadata that passes CheckMetadata, a region
// set whose marks are within the volume).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "node/config.h"
#include "node/limits.h"
#include "node/metadata.h"
#include "node/region_set.h"
#include "node/sealed_file.h"
#include "node/witness_store.h"
#include "tests/unit/fuzz/harness.h"
#include "tests/unit/temp_dir.h"
#include "wire/messages.h"

using namespace pairfs;
using namespace pairfs::node;

TEST_CASE("fuzz: the metadata decoder", "[fuzz]") {
  VolumeMetadata pair;
  pair.name = "vm1";
  pair.size_bytes = 1 << 30;
  pair.role = "primary";
  pair.status = "PAIR";
  pair.peer_site = "b";
  pair.group = "g";
  pair.generation = 4;
  pair.region_size_bytes = 65536;
  VolumeMetadata simplex;
  simplex.name = "v";
  simplex.size_bytes = 4096;
  // Mutants of the whole file (header fields) and of the body, sealed again (the body's fields).
  const SealedFileKind kind{kMetadataMagic, kMetadataVersion, kMetadataHeaderBytes};
  std::vector<std::string> seeds = {EncodeMetadata(pair), EncodeMetadata(simplex)};
  fuzz::Mutator resealer(fuzz::FuzzSeed());
  fuzz::Fuzz("metadata", seeds, [&](const std::string& input) -> std::string {
    for (const std::string& bytes :
         {input, SealFile(kind, resealer.Mutate(wire::EncodeBody(pair)))}) {
      Result<VolumeMetadata> decoded = DecodeMetadata(bytes);
      if (decoded.ok() && !CheckMetadata(decoded.value()).ok())
        return "accepted metadata that fails its check";
    }
    return "";
  });
}

TEST_CASE("fuzz: the witness record decoder", "[fuzz]") {
  const std::vector<std::string> seeds = {EncodeWitnessRecord({7, "a", "b"}),
                                          EncodeWitnessRecord({})};
  fuzz::Fuzz("witness-record", seeds, [](const std::string& input) -> std::string {
    (void)DecodeWitnessRecord(input);
    return "";
  });
}

TEST_CASE("fuzz: the region set file", "[fuzz]") {
  // The decoder RegionSet::Open loads a file with, fed from memory (writing 100,000 files cost
  // 12 s of make check); region_set_test.cc covers Open's replacement of a rejected file.
  testing::TempDir dir;
  const std::string path = dir.path() + "/regions";
  constexpr uint64_t kVolume = 40ull << 20, kRegion = 4096;  // 10240 regions: two bitmap pages
  {
    auto set = std::move(RegionSet::Open(path, kVolume, kRegion).value());
    REQUIRE(set->MarkRegions({0, 5, 9000, 10239}).ok());
  }
  std::ifstream in(path, std::ios::binary);
  const std::string valid((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Result<DecodedRegionSet> decoded = DecodeRegionSet(valid, valid.size(), kVolume, kRegion);
  REQUIRE(decoded.ok());
  REQUIRE(decoded.value().torn_pages.empty());
  fuzz::Fuzz("region-set", {valid}, [&](const std::string& input) -> std::string {
    Result<DecodedRegionSet> set = DecodeRegionSet(input, input.size(), kVolume, kRegion);
    if (!set.ok()) return "";
    const std::vector<uint8_t>& bits = set.value().bits;
    if (bits.size() * 8 < 10240) return "fewer bits than regions";
    for (uint64_t bit = 10240; bit < bits.size() * 8; ++bit) {
      if (bits[bit / 8] & (1u << (bit % 8))) return "a mark past the volume";
    }
    return "";
  });
}

TEST_CASE("fuzz: the config parser", "[fuzz]") {
  const std::vector<std::string> seeds = {
      "[site]\nname = \"a\"\ndata_dir = \"/var/lib/pairfs/a\"\n",
      "[site]\nname = \"a\"\ndata_dir = \"/d/a\"\nlisten = "
      "\"tcp://127.0.0.1:7100\"\npeer_timeout_ms = 2000\n"
      "region_size = \"64K\"\n\n[peer]\nname = \"b\"\nendpoint = "
      "\"tcp://127.0.0.1:7200\"\n\n[cluster]\n"
      "heartbeat_listen = [\"tcp://127.0.0.1:7101\"]\nheartbeat_peer = [\"tcp://127.0.0.1:7201\"]\n"
      "interval_ms = 200\ntimeout_ms = 1000\ndetermining_volume = \"quorum\"\nvolumes = "
      "[\"vm1\"]\n"};
  fuzz::Fuzz("config", seeds, [](const std::string& input) -> std::string {
    Result<Config> config = ParseConfig(input, "/etc/pairfs/fuzz.toml");
    if (!config.ok()) return "";
    const uint64_t region = config->site.region_size_bytes;
    if (region < kMinRegionBytes || region > kMaxRegionBytes || (region & (region - 1)) != 0) {
      return "accepted region_size " + std::to_string(region);
    }
    return "";
  });
}
