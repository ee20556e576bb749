// The compat shim computes the same attention and RMSNorm as the plain formulas.
#include <gtest/gtest.h>

#include "compat.h"

TEST(Compat, SdpaMatchesSoftmaxFormula) {
  torch::manual_seed(0);
  auto q = torch::randn({2, 3, 5, 8}), k = torch::randn({2, 3, 7, 8}), v = torch::randn({2, 3, 7, 8});
  auto mask = torch::zeros({1, 1, 5, 7});
  mask.index_put_({0, 0, 1, 3}, -1e9);
  auto expected = torch::matmul(torch::softmax(torch::matmul(q, k.transpose(-2, -1)) * 0.25 + mask, -1), v);
  auto got = retain::compat::sdpa(q, k, v, mask, 0.25);
  EXPECT_LT((got - expected).abs().max().item<double>(), 1e-5);
}

TEST(Compat, RmsNormMatchesFormula) {
  torch::manual_seed(0);
  auto x = torch::randn({4, 16}), w = torch::randn({16});
  auto expected = w * x / torch::sqrt(x.pow(2).mean(-1, true) + 1e-6);
  EXPECT_LT((retain::compat::rms_norm(x, w, 1e-6) - expected).abs().max().item<double>(), 1e-5);
}
