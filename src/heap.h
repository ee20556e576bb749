// heap.h - glibc's heap under a training loop. Every step frees the same large tensors (activations,
// gradients: megabytes each) and allocates them again. glibc serves a block above its mmap threshold
// (128 KB at start, rising with each such block freed, to at most 32 MB) with a fresh mapping that it
// unmaps on free, and gives free memory at the heap's top back to the kernel past twice that; each
// step then faults those pages in again (SmolLM2-135M, 4 x 128 tokens, 2 cores: 5.4 % of perf's
// samples in the kernel's page-fault handler).
#pragma once

namespace retain::heap {

// Fixes glibc's mmap threshold at 32 MB (the most its own rule reaches) and raises the trim threshold
// to 2 GB, so that freed tensors stay in the heap for the next step, unless the user set either
// (GLIBC_TUNABLES or MALLOC_*_THRESHOLD_). Peak memory stays where it was: blocks over 32 MB (the
// logits, the embedding's gradient) are still mapped where the heap has no room for them, and
// unmapped when freed. (Raising the mmap threshold too made the SmolLM2 step 6 % faster again, and
// its peak 16 % higher.) Call at the start of main(), before anything large is allocated. Returns
// whether it changed them.
bool keep_freed_memory();

}  // namespace retain::heap
