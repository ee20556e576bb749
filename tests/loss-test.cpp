// The cross-entropy node gives the value and the gradient of torch's log_softmax + nll_loss (computed
// in float64 as the reference).
#include <gtest/gtest.h>

#include <functional>

#include "nn/loss.h"

namespace {

// What nn::cross_entropy_loss computed as separate operators until 2026-12-06, here in float64.
torch::Tensor formula(const torch::Tensor& logits, const torch::Tensor& labels) {
  auto flat = logits.reshape({-1, logits.size(-1)}).to(torch::kDouble);
  return torch::nll_loss(torch::log_softmax(flat, -1), labels.reshape({-1}), {}, at::Reduction::Mean,
                         retain::nn::kIgnoreIndex);
}

struct Result {
  double loss;
  torch::Tensor grad;
};

using Loss = std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>;

Result run(const Loss& loss, const torch::Tensor& logits, const torch::Tensor& labels, double upstream) {
  auto x = logits.detach().clone().requires_grad_(true);
  torch::Tensor value = loss(x, labels);
  (value * upstream).backward();
  return {value.item<double>(), x.grad()};
}

// Loss within 1e-5 relative; gradient within `tolerance` of its largest entry.
void expect_same(const Result& got, const Result& expected, double tolerance = 1e-5) {
  EXPECT_NEAR(got.loss, expected.loss, 1e-5 * std::max(1.0, std::abs(expected.loss)));
  ASSERT_EQ(got.grad.sizes(), expected.grad.sizes());
  const auto largest = expected.grad.abs().max().item<double>();
  EXPECT_LT((got.grad.to(torch::kDouble) - expected.grad).abs().max().item<double>(), tolerance * largest);
}

}  // namespace

// Ignored labels, a vocabulary whose rows span several of the node's CPU passes, an upstream gradient
// of either sign (the node folds a positive one into the exponent, a negative one takes a scaling
// pass), and a [B, T, V] input.
TEST(CrossEntropy, MatchesLogSoftmaxNllAndItsGradient) {
  torch::manual_seed(0);
  for (const int64_t classes : {7, 3000, 70000}) {
    auto logits = torch::randn({3, 5, classes}) * 4;
    auto labels = torch::randint(classes, {3, 5});
    labels.index_put_({0, 1}, retain::nn::kIgnoreIndex);
    labels.index_put_({2, 4}, retain::nn::kIgnoreIndex);
    for (const double upstream : {1.0, 0.37, -2.0}) {
      SCOPED_TRACE(testing::Message() << classes << " classes, upstream " << upstream);
      expect_same(run(retain::nn::cross_entropy_loss, logits, labels, upstream),
                  run(formula, logits, labels, upstream));
    }
  }
}

// The causal LM's loss: position t against label t + 1, the last position not counted.
TEST(CrossEntropy, CausalLmShiftsTheLabels) {
  torch::manual_seed(1);
  auto logits = torch::randn({2, 6, 11});
  auto labels = torch::randint(11, {2, 6});
  labels.index_put_({1, 3}, retain::nn::kIgnoreIndex);
  auto shifted = [](const torch::Tensor& x, const torch::Tensor& y) {
    return formula(x.narrow(1, 0, 5), y.narrow(1, 1, 5));
  };
  expect_same(run(retain::nn::causal_lm_loss, logits, labels, 1.0), run(shifted, logits, labels, 1.0));
}

// No counted label: nan, as nll_loss's mean, and a zero gradient; bfloat16 logits get a gradient
// of their own dtype (rounded to its 8 bits).
TEST(CrossEntropy, NoCountedLabelAndOtherDtypes) {
  auto logits = torch::randn({4, 9});
  auto none = torch::full({4}, retain::nn::kIgnoreIndex, torch::kLong);
  auto got = run(retain::nn::cross_entropy_loss, logits, none, 1.0);
  EXPECT_TRUE(std::isnan(got.loss));
  EXPECT_EQ(got.grad.abs().max().item<double>(), 0.0);

  auto half = logits.to(torch::kBFloat16);
  auto labels = torch::randint(9, {4});
  auto low = run(retain::nn::cross_entropy_loss, half, labels, 1.0);
  EXPECT_EQ(low.grad.scalar_type(), torch::kBFloat16);
  expect_same(low, run(formula, half, labels, 1.0), 1e-2);
}
