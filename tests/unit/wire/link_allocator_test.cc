// The allocator tuning of wire::Context (wire/limits.h kAllocatorMmapThresholdBytes): frames come
// from the heap and their pages stay for the next frames.
#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include <catch2/catch.hpp>

#include "wire/limits.h"
#include "wire/link.h"

TEST_CASE("after a context exists, frame-sized buffers reuse the heap's pages instead of fresh ones",
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
  const size_t kept_at_top = mallinfo2().keepcost;
  // No frame got a mapping of its own (glibc's default above 128 KiB) ...
  CHECK(mapped_while_held == mapped_before);
  // ... and freeing them did not give their pages back to the kernel (the default trims the heap's
  // top above twice the mapping threshold): the next frames find them.
  CHECK(kept_at_top >= kFrames * pairfs::wire::kMaxFrameBytes);
}
