// heap::keep_freed_memory(): a training step's tensors come from glibc's heap and stay there when
// freed, instead of being mapped and unmapped (and their pages faulted in again) every step.
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "heap.h"

namespace {

// A block of `bytes`, written, that the compiler cannot leave out.
void* touched_block(size_t bytes) {
  static void* volatile last;
  void* block = std::malloc(bytes);
  std::memset(block, 1, bytes);
  last = block;
  return last;
}

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
TEST(Heap, FreedBlocksStayInTheHeapUpTo32MB) {
  if (std::getenv("GLIBC_TUNABLES") != nullptr) GTEST_SKIP() << "GLIBC_TUNABLES is set: the user's settings are kept";
  ASSERT_TRUE(retain::heap::keep_freed_memory());
  constexpr size_t kBlock = 20 << 20, kBlocks = 4;
  const size_t mapped_before = mallinfo2().hblkhd;
  void* large = touched_block(40 << 20);  // over 32 MB, with no room in the heap: mapped, as before
  EXPECT_GE(mallinfo2().hblkhd, mapped_before + (40 << 20));
  std::free(large);
  EXPECT_EQ(mallinfo2().hblkhd, mapped_before);

  std::vector<void*> blocks;
  for (size_t i = 0; i < kBlocks; ++i) {
    blocks.push_back(touched_block(kBlock));
  }
  EXPECT_EQ(mallinfo2().hblkhd, mapped_before) << "20 MB blocks were mapped, not taken from the heap";
  const size_t free_before = mallinfo2().fordblks;
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) std::free(*it);
  // glibc's default would give the 80 MB at the heap's top back to the kernel (trim threshold <= 64 MB).
  EXPECT_GE(mallinfo2().fordblks, free_before + kBlocks * kBlock) << "the freed blocks left the heap";
}
#endif

}  // namespace
