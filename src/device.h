// device.h - choosing and measuring devices. The CUDA side exists only in builds against a CUDA
// libtorch (RETAIN_WITH_CUDA, set by CMake); CPU-only builds keep the same functions and answer a
// request for a GPU with one clear error instead of a crash deep inside libtorch.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace retain::device {

// "cpu", "cuda", "cuda:N" or "auto" (the first GPU when there is one, else the CPU).
torch::Device parse(const std::string& name);

struct MemoryStats {
  int64_t allocated_bytes = 0;  // held by tensors now
  int64_t peak_bytes = 0;       // most held at once since the process started
};
// GPU: the CUDA caching allocator's counters. CPU: peak_bytes is the process's peak resident
// memory (getrusage), allocated_bytes is not tracked (0).
MemoryStats memory_stats(torch::Device device);

}  // namespace retain::device
