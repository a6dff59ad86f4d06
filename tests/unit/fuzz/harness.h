// Runs one decoder over mutated valid encodings (tests/unit/fuzz/mutator.h) for the fuzz tests.
// Settings: PAIRFS_FUZZ_SEED=N replays a run (the seed is printed), PAIRFS_FUZZ_INPUTS=N runs N
// inputs per decoder (default kDefaultFuzzInputs). Each decoder's inputs come from the seed and
// its name, so one decoder's failure replays alone. Prints inputs/second per decoder.
// PAIRFS_FUZZ_SAVE=FILE writes each input to FILE before decoding it (slow): after a crash, FILE
// holds the input that crashed.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "tests/unit/fuzz/mutator.h"

namespace pairfs::fuzz {

// 100,000 per decoder per `make check` run: about a second for a msgpack decoder here.
inline constexpr uint64_t kDefaultFuzzInputs = 100000;

inline uint64_t FuzzSeed() {
  static const uint64_t seed = [] {
    const char* text = std::getenv("PAIRFS_FUZZ_SEED");
    return text != nullptr ? std::strtoull(text, nullptr, 10) : std::random_device{}();
  }();
  return seed;
}

inline uint64_t FuzzInputs() {
  const char* text = std::getenv("PAIRFS_FUZZ_INPUTS");
  return text != nullptr ? std::strtoull(text, nullptr, 10) : kDefaultFuzzInputs;
}

// Feeds `decode` FuzzInputs() mutants of `seeds` (and the seeds themselves first). `decode`
// returns "" when the input was handled correctly (refused, or accepted with every check met),
// else what went wrong; an exception escaping it is a failure too. Logging is off meanwhile.
inline void Fuzz(const std::string& name, const std::vector<std::string>& seeds,
                 const std::function<std::string(const std::string&)>& decode) {
  const uint64_t seed = FuzzSeed() ^ std::hash<std::string>{}(name);
  const uint64_t inputs = FuzzInputs();
  Mutator mutator(seed);
  const auto level = spdlog::get_level();
  spdlog::set_level(spdlog::level::off);
  const auto started = std::chrono::steady_clock::now();
  std::string failure;
  uint64_t done = 0;
  for (; done < inputs && failure.empty(); ++done) {
    const std::string input =
        done < seeds.size() ? seeds[done] : mutator.Mutate(seeds[mutator.Below(seeds.size())]);
    if (const char* save = std::getenv("PAIRFS_FUZZ_SAVE")) {
      if (std::FILE* file = std::fopen(save, "wb")) {
        std::fwrite(input.data(), 1, input.size(), file);
        std::fclose(file);
      }
    }
    try {
      failure = decode(input);
    } catch (const std::exception& e) {
      failure = std::string("threw: ") + e.what();
    } catch (...) {
      failure = "threw something";
    }
  }
  spdlog::set_level(level);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("fuzz %-22s %7llu inputs, %9.0f inputs/s (PAIRFS_FUZZ_SEED=%llu)\n", name.c_str(),
              static_cast<unsigned long long>(done), done / (seconds > 0 ? seconds : 1e-9),
              static_cast<unsigned long long>(FuzzSeed()));
  INFO("fuzz " << name << ": input " << done << " of PAIRFS_FUZZ_SEED=" << FuzzSeed());
  CHECK(failure == "");
}

}  // namespace pairfs::fuzz
