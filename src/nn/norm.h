// norm.h - RMSNorm (Llama family, T5's LayerNorm) and LayerNorm (GPT-2, ViT), with HF names
// ("weight", "bias") and HF numerics (statistics in fp32).
#pragma once

#include <torch/torch.h>

namespace retain::nn {

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;
  double eps;
};
TORCH_MODULE(RMSNorm);

class LayerNormImpl : public torch::nn::Module {
 public:
  LayerNormImpl(int64_t dim, double eps, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;
  torch::Tensor bias;
  double eps;
};
TORCH_MODULE(LayerNorm);

}  // namespace retain::nn
