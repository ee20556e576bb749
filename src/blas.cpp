#include "blas.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <set>

namespace retain::blas {

std::string core_for_cpu() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512cd");
  if (avx512) return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return "";
}

std::string loaded_core() {
  // Looked up rather than linked: a libtorch with another BLAS (pip's, with MKL) has no OpenBLAS.
  using CoreName = char* (*)();
  auto core_name = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  const char* name = core_name != nullptr ? core_name() : nullptr;
  return name != nullptr ? name : "";
}

bool older_than_avx2(const std::string& core) {
  // OpenBLAS's x86-64 kernel families before AVX2.
  static const std::set<std::string> kOlder = {"Prescott", "Core2",       "Penryn",    "Dunnington", "Nehalem",
                                               "Atom",     "Sandybridge", "Barcelona", "Opteron",    "Athlon"};
  return kOlder.count(core) > 0;
}

void run_on_the_cpus_kernels(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;  // the user's choice, or this is the re-run
  const auto wanted = core_for_cpu();
  if (wanted.empty() || !older_than_avx2(loaded_core())) return;
  setenv("OPENBLAS_CORETYPE", wanted.c_str(), 1);
  execv("/proc/self/exe", argv);
}

}  // namespace retain::blas
