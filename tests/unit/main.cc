// The Catch2 main of build/unit_tests; each *_test.cc beside it adds test cases.
// The code under test logs refusals on purpose; keep them out of the test report unless asked
// (PAIRFS_TEST_LOGS=1).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>

#include <spdlog/spdlog.h>

int main(int argc, char** argv) {
  if (std::getenv("PAIRFS_TEST_LOGS") == nullptr) spdlog::set_level(spdlog::level::off);
  return Catch::Session().run(argc, argv);
}
