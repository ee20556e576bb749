// device.cpp - see device.h.
#include "device.h"

#include <sys/resource.h>

#include "error.h"

#if defined(RETAIN_WITH_CUDA)
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace retain::device {

namespace {

[[noreturn]] void no_cuda(const std::string& what) {
  fail("device", what, ": this build of retain has no CUDA (it was built against a CPU-only libtorch)");
}

}  // namespace

torch::Device parse(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (name != "cpu" && name.rfind("cuda", 0) != 0)
    fail("device", "'", name, "' is not a device (cpu, cuda, cuda:N, auto)");
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(name);
  } catch (const c10::Error&) {
    fail("device", "'", name, "' is not a device (cpu, cuda, cuda:N, auto)");
  }
#if !defined(RETAIN_WITH_CUDA)
  if (device.is_cuda()) no_cuda(name);
#endif
  if (device.is_cuda() &&
      (!torch::cuda::is_available() || device.index() >= static_cast<int64_t>(torch::cuda::device_count()))) {
    fail("device", "'", name, "': no such GPU (", torch::cuda::device_count(), " visible)");
  }
  return device;
}

MemoryStats memory_stats(torch::Device device) {
  if (!device.is_cuda()) {
    // The CPU allocator keeps no counters: the process's peak resident memory (kB in ru_maxrss).
    struct rusage usage {};
    ::getrusage(RUSAGE_SELF, &usage);
    return {0, static_cast<int64_t>(usage.ru_maxrss) * 1024};
  }
#if defined(RETAIN_WITH_CUDA)
  // Index 0 of each StatArray is StatType::AGGREGATE (all pools).
  auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.has_index() ? device.index() : 0);
  return {stats.allocated_bytes[0].current, stats.allocated_bytes[0].peak};
#else
  no_cuda(device.str());
#endif
}

}  // namespace retain::device
