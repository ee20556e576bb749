// Which BLAS the binaries run on: where Debian's OpenMP build of OpenBLAS is installed, they load it
// rather than the pthread build the system's libblas.so.3 alternative names, so matrix products share
// libtorch's OpenMP threads instead of starting a second pool (CMakeLists.txt).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <string>

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
