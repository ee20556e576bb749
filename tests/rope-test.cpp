// Rotary embeddings: scaling variants behave as their definitions say.
#include <gtest/gtest.h>

#include <cmath>

#include "nn/rope.h"

namespace {

using retain::io::RopeConfig;
using retain::nn::rope_inv_freq;

TEST(Rope, DefaultFrequenciesFollowTheFormula) {
  RopeConfig rope;
  rope.theta = 10000;
  auto inv = rope_inv_freq(rope, 16);
  ASSERT_EQ(inv.size(0), 8);
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(inv[i].item<double>(), std::pow(10000.0, -2.0 * i / 16), 1e-6);
}

TEST(Rope, LinearScalingEqualsDividedPositions) {
  RopeConfig plain, linear;
  linear.type = "linear";
  linear.factor = 4;
  auto positions = torch::arange(0, 32, torch::kLong).unsqueeze(0);
  auto scaled = retain::nn::rope_angles(rope_inv_freq(linear, 32), positions, torch::kFloat);
  auto divided = retain::nn::rope_angles(rope_inv_freq(plain, 32), positions.to(torch::kFloat) / 4, torch::kFloat);
  EXPECT_LT((scaled.cos - divided.cos).abs().max().item<double>(), 1e-5);
  EXPECT_LT((scaled.sin - divided.sin).abs().max().item<double>(), 1e-5);
}

TEST(Rope, Llama3KeepsShortWavelengthsAndSlowsLongOnes) {
  RopeConfig plain, llama3;
  plain.theta = llama3.theta = 500000;
  llama3.type = "llama3";
  llama3.factor = 8;
  llama3.low_freq_factor = 1;
  llama3.high_freq_factor = 4;
  llama3.original_max_position_embeddings = 8192;
  auto base = rope_inv_freq(plain, 128), scaled = rope_inv_freq(llama3, 128);
  for (int64_t i = 0; i < base.size(0); ++i) {
    const double f = base[i].item<double>(), g = scaled[i].item<double>(), wavelen = 2 * M_PI / f;
    if (wavelen < 8192.0 / 4)
      EXPECT_FLOAT_EQ(g, f) << i;  // high frequency: unchanged
    else if (wavelen > 8192.0 / 1)
      EXPECT_FLOAT_EQ(g, f / 8) << i;  // low frequency: / factor
    else
      EXPECT_TRUE(g <= f * (1 + 1e-6) && g >= f / 8 * (1 - 1e-6)) << i;  // in between: interpolated
  }
}

TEST(Rope, ApplyIsARotation) {
  torch::manual_seed(0);
  RopeConfig rope;
  auto x = torch::randn({2, 3, 7, 16});
  auto positions = torch::arange(0, 7, torch::kLong).unsqueeze(0).expand({2, 7});
  auto y = retain::nn::rope_apply(x, retain::nn::rope_angles(rope_inv_freq(rope, 16), positions, torch::kFloat));
  // Rotations keep the norm of every (i, i + D/2) pair; position 0 is the identity.
  auto pair_norm = [](const torch::Tensor& t) { return t.narrow(-1, 0, 8).pow(2) + t.narrow(-1, 8, 8).pow(2); };
  EXPECT_LT((pair_norm(y) - pair_norm(x)).abs().max().item<double>(), 1e-4);
  EXPECT_TRUE(torch::allclose(y.select(2, 0), x.select(2, 0)));
}

}  // namespace
