// The allocator tuning of wire::Context (wire/limits.h kAllocatorMmapThresholdBytes): frames come
// from the heap and their pages stay for the next frames.
#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include <catch2/catch.hpp>

#include "wire/limits.h"
#include "wire/link.h"

TEST_CASE("after a context exists, frame-sized buffers come from the heap, not own mappings",
          "[link]") {
  pairfs::wire::Context context;
  constexpr int kFrames = 8;
  std::vector<void*> frames;
  frames.reserve(kFrames);
  const size_t mapped_before = mallinfo2().hblks;
  for (int i = 0; i < kFrames; ++i) {
    frames.push_back(std::malloc(pairfs::wire::kMaxFrameBytes));
    std::memset(frames.back(), 1, pairfs::wire::kMaxFrameBytes);
  }
  const size_t mapped_while_held = mallinfo2().hblks;
  for (auto it = frames.rbegin(); it != frames.rend(); ++it) std::free(*it);
  // No frame got a mapping of its own (glibc's default above 128 KiB): they come from the heap,
  // whose pages the next frames reuse. (Whether freeing them keeps their pages depends on what
  // else the process allocated above them, so it is not asserted here; scripts/bench_cpu.sh
  // reports the page faults per MB of a real write load.)
  CHECK(mapped_while_held == mapped_before);
}
