// Which BLAS the binaries run on: where Debian's OpenMP build of OpenBLAS is installed, they load it
// rather than the pthread build the system's libblas.so.3 alternative names, so matrix products share
// libtorch's OpenMP threads instead of starting a second pool (CMakeLists.txt); and the retain
// command runs OpenBLAS's kernels for the CPU's instruction sets, not its SSE3 fallback (src/blas.h).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "blas.h"
#include "streams.h"

TEST(Blas, TheOpenMpBuildOfOpenBlasIsLoadedWhereInstalled) {
#ifndef RETAIN_OPENBLAS_OPENMP
  GTEST_SKIP() << "the OpenMP build of OpenBLAS is not installed (or this libtorch brings its own BLAS)";
#else
  const auto product = torch::matmul(torch::ones({64, 64}), torch::ones({64, 64}));
  EXPECT_EQ(product[0][0].item<float>(), 64.0f);
  std::ifstream maps("/proc/self/maps");
  bool openmp = false, pthread = false;
  for (std::string line; std::getline(maps, line);) {
    if (line.find(RETAIN_OPENBLAS_OPENMP "/") != std::string::npos) openmp = true;
    if (line.find("/openblas-pthread/") != std::string::npos) pthread = true;
  }
  EXPECT_TRUE(openmp) << "nothing of " << RETAIN_OPENBLAS_OPENMP << " is mapped";
  EXPECT_FALSE(pthread) << "the pthread build of OpenBLAS is mapped";
#endif
}

// The kernels the last OpenBLAS start-up of `command` announced (OPENBLAS_VERBOSE=2 prints "Core: X"
// each time the library loads).
std::string last_core_of(const std::string& command) {
  const auto out = retain::test::scratch_dir("core") + "/stderr.txt";
  std::system(("OPENBLAS_VERBOSE=2 " + command + " >/dev/null 2>" + retain::test::quoted(out)).c_str());
  std::ifstream in(out);
  std::string core;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Core: ", 0) == 0) core = line.substr(6);
  }
  return core;
}

// Where OpenBLAS, left alone, would run kernels older than the CPU allows (Debian's 0.3.21 takes its
// Prescott kernels on CPUs it does not know), retain runs again with OPENBLAS_CORETYPE set, so its last
// start-up is on AVX2 or newer kernels; a user's OPENBLAS_CORETYPE is kept.
TEST(Blas, RetainRunsTheKernelsItsCpuAllows) {
  const auto wanted = retain::blas::core_for_cpu();
  if (wanted.empty()) GTEST_SKIP() << "this CPU has no AVX2";
  const auto binary = retain::test::retain_binary() + " --version";
  const auto alone = last_core_of("env -u OPENBLAS_CORETYPE " + binary);
  if (alone.empty()) GTEST_SKIP() << "retain runs no OpenBLAS";
  EXPECT_FALSE(retain::blas::older_than_avx2(alone)) << alone;
  EXPECT_EQ(last_core_of("OPENBLAS_CORETYPE=Haswell " + binary), "Haswell");
}
