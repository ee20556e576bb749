// heap.cpp - see heap.h.
#include "heap.h"

#include <malloc.h>

#include <climits>
#include <cstdlib>
#include <cstring>

namespace retain::heap {

bool keep_freed_memory() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if ((tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr) ||
      std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr || std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr) {
    return false;
  }
#ifdef M_MMAP_THRESHOLD
  return mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1;
#else
  return false;
#endif
}

}  // namespace retain::heap
