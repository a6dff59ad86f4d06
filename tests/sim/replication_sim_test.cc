// A seeded simulation of the replication logic: two real Replicators (node/replicator.h) with real
// volume stores on tmpfs, joined by an injected network (tests/sim/network.h) that drops,
// duplicates, delays and reorders frames, with link cuts and crashes of either side. After every
// run: the pair is brought back to PAIR, both copies are byte-identical, and every write that was
// acknowledged (and not overwritten later) is in them.
//
// The seed fixes the faults and the workload; thread timing is real, so a failing seed is
// re-run by PAIRFS_SIM_SEED=N (it fails the same way in most runs). PAIRFS_SIM_SEEDS sets how many
// seeds a sweep runs (make check 800, the manual long sweep 10,000; kConcurrentSeeds at a time,
// PAIRFS_SIM_CONCURRENT_SEEDS to try another number).
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "tests/sim/network.h"
#include "tests/sim/replicator_sites.h"
#include "tests/sim/sim_env.h"

namespace pairfs::sim {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kVolumeBytes = kSiteVolumeBytes;
constexpr uint64_t kRegionBytes = kSiteRegionBytes;
// A seed mostly waits on its timers: 32 at a time keep two cores busy (16: 5.5 s for 500 seeds,
// 32: 4.1 s, 64: 6.6 s, side by side on a loaded machine; issue 12).
constexpr int kConcurrentSeeds = 32;

// What the volume must hold: bytes of acknowledged writes, and which bytes are undefined (a
// failed write may or may not have reached either copy).
struct Model {
  std::string bytes = std::string(kVolumeBytes, '\0');
  std::vector<bool> known = std::vector<bool>(kVolumeBytes, true);
  void Written(uint64_t offset, const std::string& data) {
    for (size_t i = 0; i < data.size(); ++i) {
      bytes[offset + i] = data[i];
      known[offset + i] = true;
    }
  }
  void Undefined(uint64_t offset, uint64_t length) {
    for (uint64_t i = 0; i < length; ++i) known[offset + i] = false;
  }
  // The first byte where `image` disagrees with a known byte, or -1.
  int64_t FirstMismatch(const std::string& image) const {
    for (size_t i = 0; i < kVolumeBytes; ++i) {
      if (known[i] && image[i] != bytes[i]) return static_cast<int64_t>(i);
    }
    return -1;
  }
};

std::string RunSeedOnce(uint64_t seed, const std::string& root) {
  std::mt19937_64 random(seed);
  const std::string dir = root + "/" + std::to_string(seed);
  SitePair sites(dir, seed);
  Wire& wire = sites.wire;
  ReplicatorSite& a = sites.a;
  ReplicatorSite& b = sites.b;
  auto start = [&](ReplicatorSite& site) {
    site.Start(wire, SimReplicatorOptions(site.name, kRegionBytes, 40, 4));
  };
  start(a);
  start(b);
  Model model;
  Ensure(a.store->Create("v", kVolumeBytes).ok(), "v is created");
  {  // data written before the pair exists
    std::string data(8192, '\0');
    for (char& c : data) c = static_cast<char>(random());
    Ensure(a.Write(4096, data).ok(), "the first write succeeds");
    model.Written(4096, data);
  }
  // Brings the pair to PAIR from wherever it is (resync at the primary), on a healed network.
  auto converge = [&](std::chrono::milliseconds limit) {
    return WaitFor(
        [&] {
          const std::string sa = a.Status(true), sb = b.Status(true);
          if (sa == "primary PAIR" && sb == "secondary PAIR") return true;
          if (sa.find("COPY") == std::string::npos && sb.find("COPY") == std::string::npos) {
            std::string ignored;
            (void)a.replicator->Resync("v", false, false, &ignored);
          }
          std::this_thread::sleep_for(20ms);
          return false;
        },
        limit);
  };
  std::string note;
  // Timeouts are short here: on a loaded machine the create itself may time out; it is
  // idempotent, so it is simply asked again.
  Status created;
  for (int attempt = 0; attempt < 20; ++attempt) {
    created =
        a.replicator->CreatePair({"v", "sync", "", random() % 2 ? "never" : "data", ""}, &note);
    if (created.code() != Code::kUnreachable) break;
  }
  if (!created.ok()) return "create failed: " + created.message();
  if (!converge(5000ms))
    return "the initial copy did not reach PAIR: a " + a.Status(true) + ", b " + b.Status(true);

  FaultProfile faulty;
  faulty.drop = (random() % 20) / 100.0;       // up to 19% lost
  faulty.duplicate = (random() % 20) / 100.0;  // up to 19% twice
  faulty.min_delay_ms = 0;
  faulty.max_delay_ms = 1 + random() % 6;  // reordering within a few ms
  wire.SetProfile(faulty);
  const int operations = 12 + static_cast<int>(random() % 12);
  for (int op = 0; op < operations; ++op) {
    const uint64_t choice = random() % 100;
    if (choice < 70) {
      ReplicatorSite& site = random() % 2 ? a : b;
      if (!site.replicator) continue;
      const uint64_t length = (1 + random() % 16) * 512;
      const uint64_t offset = (random() % ((kVolumeBytes - length) / 512 + 1)) * 512;
      std::string data(length, '\0');
      for (char& c : data) c = static_cast<char>(random());
      Result<size_t> written = site.Write(offset, data);
      if (written.ok() && written.value() == length) {
        model.Written(offset, data);
      } else {
        model.Undefined(offset, length);
      }
    } else if (choice < 78) {
      ReplicatorSite& site = random() % 2 ? a : b;
      (void)site.replicator->Flush(site.volume());
    } else if (choice < 86) {
      wire.Partition(true);
    } else if (choice < 92) {
      wire.Partition(false);
    } else {
      ReplicatorSite& site = random() % 2 ? a : b;  // kill -9 and restart
      site.Crash(wire);
      std::this_thread::sleep_for(std::chrono::milliseconds(random() % 20));
      start(site);
    }
  }

  // Heal everything and resync until both are in PAIR.
  wire.SetProfile(FaultProfile{0, 0, 0, 1});
  wire.Partition(false);
  const bool converged = converge(5000ms);
  if (!converged) return "no PAIR after healing: a " + a.Status(true) + ", b " + b.Status(true);
  const std::string image_a = a.Image();
  const std::string image_b = b.Image();
  std::string failure;
  if (image_a != image_b) {
    size_t first = 0;
    while (image_a[first] == image_b[first]) ++first;
    failure = "the copies differ from byte " + std::to_string(first);
  } else if (int64_t bad = model.FirstMismatch(image_a); bad >= 0) {
    failure = "an acknowledged write is missing at byte " + std::to_string(bad);
  }
  a.Crash(wire);
  b.Crash(wire);
  std::filesystem::remove_all(dir);
  return failure;
}

std::string RunSeed(uint64_t seed, const std::string& root) {
  try {
    return RunSeedOnce(seed, root);
  } catch (const std::exception& e) {
    return e.what();
  }
}

// Runs `default_count` seeds (PAIRFS_SIM_SEEDS: another number; PAIRFS_SIM_SEED=N: seed N alone).
void RunSweep(uint64_t default_count) {
  // tmpfs when there is one: the runs fsync metadata often, and the disk is not under test here.
  std::string root = std::filesystem::exists("/dev/shm")
                         ? "/dev/shm"
                         : std::filesystem::temp_directory_path().string();
  root += "/pairfs-sim." + std::to_string(::getpid());
  std::filesystem::create_directories(root);
  const uint64_t first = EnvOr("PAIRFS_SIM_SEED", 1);
  const uint64_t count =
      std::getenv("PAIRFS_SIM_SEED") ? 1 : EnvOr("PAIRFS_SIM_SEEDS", default_count);
  std::mutex mutex;  // guards next and failures
  uint64_t next = first;
  std::map<uint64_t, std::string> failures;
  std::vector<std::thread> runners;
  const uint64_t concurrent = EnvOr("PAIRFS_SIM_CONCURRENT_SEEDS", kConcurrentSeeds);
  for (uint64_t i = 0; i < concurrent; ++i) {
    runners.emplace_back([&] {
      for (;;) {
        uint64_t seed = 0;
        {
          std::lock_guard<std::mutex> lock(mutex);
          if (next >= first + count) return;
          seed = next++;
        }
        std::string failure = RunSeed(seed, root);
        if (!failure.empty()) {
          std::lock_guard<std::mutex> lock(mutex);
          failures[seed] = failure;
        }
      }
    });
  }
  for (std::thread& runner : runners) runner.join();
  for (const auto& [seed, failure] : failures) {
    FAIL_CHECK("seed " << seed << " (re-run with PAIRFS_SIM_SEED=" << seed << "): " << failure);
  }
  std::filesystem::remove_all(root);
  INFO(count << " seeds");
  CHECK(failures.empty());
}

// 800 seeds in make check (12 s here; 2,000 took 36-39 s of a suite at its 15-minute limit), the
// long sweep by hand before a change of the replicator lands.
TEST_CASE("replication simulation: acknowledged writes survive and copies converge, across seeds",
          "[sim][replication]") {
  RunSweep(800);
}

TEST_CASE("replication simulation, long sweep (manual)", "[.][sim][replication][long]") {
  RunSweep(10000);
}

}  // namespace
}  // namespace pairfs::sim
