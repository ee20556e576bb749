// norm.h - RMSNorm (Llama family, T5's LayerNorm) and LayerNorm (GPT-2, ViT), with HF names
// ("weight", "bias") and HF numerics (statistics in fp32).
#pragma once

#include <torch/torch.h>

#include "compat.h"

namespace retain::nn {

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps, const torch::TensorOptions& options) : eps(eps) {
    weight = register_parameter("weight", torch::ones({dim}, options));
  }
  torch::Tensor forward(const torch::Tensor& x) { return compat::rms_norm(x, weight, eps); }
  torch::Tensor weight;
  double eps;
};
TORCH_MODULE(RMSNorm);

class LayerNormImpl : public torch::nn::Module {
 public:
  LayerNormImpl(int64_t dim, double eps, const torch::TensorOptions& options) : eps(eps) {
    weight = register_parameter("weight", torch::ones({dim}, options));
    bias = register_parameter("bias", torch::zeros({dim}, options));
  }
  torch::Tensor forward(const torch::Tensor& x) { return torch::layer_norm(x, {weight.size(0)}, weight, bias, eps); }
  torch::Tensor weight;
  torch::Tensor bias;
  double eps;
};
TORCH_MODULE(LayerNorm);

}  // namespace retain::nn
