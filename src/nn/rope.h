// rope.h - rotary position embeddings (default, linear and llama3 scaling), computed as
// transformers computes them: inverse frequencies in fp32, cos/sin of position·inv_freq.
#pragma once

#include <torch/torch.h>

#include "io/hf-config.h"

namespace retain::nn {

// Inverse frequencies [rotary_dim / 2] in fp32 for `rope` over `rotary_dim` dimensions.
torch::Tensor rope_inv_freq(const io::RopeConfig& rope, int64_t rotary_dim);

struct RopeAngles {
  torch::Tensor cos;  // [B, T, rotary_dim], in the activations' dtype
  torch::Tensor sin;
};

// position_ids: [B, T] int64.
RopeAngles rope_angles(const torch::Tensor& inv_freq, const torch::Tensor& position_ids, torch::ScalarType dtype);

// x: [B, H, T, D]; rotates the first rotary_dim dimensions (rotate_half convention), keeps the rest.
torch::Tensor rope_apply(const torch::Tensor& x, const RopeAngles& angles);

}  // namespace retain::nn
