#include "nn/rope.h"

#include <cmath>

namespace retain::nn {

torch::Tensor rope_inv_freq(const io::RopeConfig& rope, int64_t rotary_dim) {
  auto exponents = torch::arange(0, rotary_dim, 2, torch::kLong).to(torch::kFloat) / static_cast<double>(rotary_dim);
  auto inv_freq = 1.0 / torch::pow(rope.theta, exponents);
  if (rope.type == "linear") return inv_freq / rope.factor;
  if (rope.type == "llama3") {
    // Llama 3.1: long wavelengths are slowed down by `factor`, short ones kept, the band between
    // interpolated smoothly.
    const double old_context = static_cast<double>(rope.original_max_position_embeddings);
    const double low_freq_wavelen = old_context / rope.low_freq_factor;
    const double high_freq_wavelen = old_context / rope.high_freq_factor;
    auto wavelen = 2 * M_PI / inv_freq;
    auto scaled = torch::where(wavelen > low_freq_wavelen, inv_freq / rope.factor, inv_freq);
    auto smooth = (old_context / wavelen - rope.low_freq_factor) / (rope.high_freq_factor - rope.low_freq_factor);
    auto smoothed = (1 - smooth) * scaled / rope.factor + smooth * scaled;
    auto is_medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
    return torch::where(is_medium, smoothed, scaled);
  }
  return inv_freq;
}

RopeAngles rope_angles(const torch::Tensor& inv_freq, const torch::Tensor& position_ids, torch::ScalarType dtype) {
  auto freqs = position_ids.to(torch::kFloat).unsqueeze(-1) * inv_freq.to(position_ids.device()).view({1, 1, -1});
  auto emb = torch::cat({freqs, freqs}, -1);
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

torch::Tensor rope_apply(const torch::Tensor& x, const RopeAngles& angles) {
  const int64_t rotary_dim = angles.cos.size(-1);
  auto cos = angles.cos.unsqueeze(1), sin = angles.sin.unsqueeze(1);  // [B, 1, T, rd]
  auto rot = x.narrow(-1, 0, rotary_dim);
  auto half1 = rot.narrow(-1, 0, rotary_dim / 2), half2 = rot.narrow(-1, rotary_dim / 2, rotary_dim / 2);
  auto rotated = rot * cos + torch::cat({-half2, half1}, -1) * sin;
  if (rotary_dim == x.size(-1)) return rotated;
  return torch::cat({rotated, x.narrow(-1, rotary_dim, x.size(-1) - rotary_dim)}, -1);
}

}  // namespace retain::nn
