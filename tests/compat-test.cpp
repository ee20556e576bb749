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

// The one-node attention of libtorch builds without SDPA: the formula's output and the gradients that
// autograd gives the formula written as separate operators, for q, k and v that are views (as the
// models' heads are), keys longer than queries, a value size of its own, with a broadcast mask, one
// of the scores' own shape and none.
TEST(AttentionExplicit, MatchesTheFormulaAndItsGradients) {
  torch::manual_seed(0);
  auto padding = torch::zeros({2, 1, 5, 7});
  padding.index_put_({1, 0, torch::indexing::Slice(), 5}, -1e9);
  padding.index_put_({0, 0, 2, 1}, -1e9);
  // A mask of the scores' own shape: the node must not write into it.
  auto per_head = torch::randn({2, 3, 5, 7}), per_head_before = per_head.clone();
  for (const auto& mask : {padding, per_head, torch::Tensor()}) {
    auto q = torch::randn({2, 5, 3, 8}).transpose(1, 2).requires_grad_(),
         k = torch::randn({2, 3, 7, 8}).requires_grad_();
    auto v = torch::randn({2, 3, 7, 6}).requires_grad_();
    auto grad_out = torch::randn({2, 3, 5, 6});
    auto scores = torch::matmul(q, k.transpose(-2, -1)) * 0.3;
    auto expected = torch::matmul(torch::softmax(mask.defined() ? scores + mask : scores, -1), v);
    auto expected_grads = torch::autograd::grad({expected}, {q, k, v}, {grad_out});
    ASSERT_TRUE(retain::attention_explicit_applies(q, k, v, mask));
    auto got = retain::attention_explicit(q, k, v, mask, 0.3);
    auto got_grads = torch::autograd::grad({got}, {q, k, v}, {grad_out});
    EXPECT_LT((got - expected).abs().max().item<double>(), 1e-5);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_LT((got_grads[i] - expected_grads[i]).abs().max().item<double>(), 1e-5) << "gradient " << i;
    }
  }
  EXPECT_TRUE(torch::equal(per_head, per_head_before));
}

TEST(AttentionExplicit, LeavesOtherInputsToTheFormula) {
  auto q = torch::randn({1, 2, 3, 4}), k = torch::randn({1, 2, 5, 4}), v = torch::randn({1, 2, 5, 4});
  auto mask = torch::zeros({1, 1, 3, 5});
  EXPECT_TRUE(retain::attention_explicit_applies(q, k, v, mask));
  EXPECT_FALSE(retain::attention_explicit_applies(q, k, v, mask.clone().requires_grad_()));  // T5's bias
  EXPECT_FALSE(retain::attention_explicit_applies(q.to(torch::kBFloat16), k, v, mask));
  EXPECT_FALSE(retain::attention_explicit_applies(q.to(torch::kDouble), k, v, mask));
  EXPECT_FALSE(retain::attention_explicit_applies(q, torch::randn({1, 1, 5, 4}), v, mask));  // kv heads not repeated
}
