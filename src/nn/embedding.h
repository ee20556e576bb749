// embedding.h - a lookup table with the HF parameter name "weight" ([num, dim]).
#pragma once

#include <torch/torch.h>

namespace retain::nn {

class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t num, int64_t dim, const torch::TensorOptions& options) {
    weight = register_parameter("weight", torch::zeros({num, dim}, options));
  }
  torch::Tensor forward(const torch::Tensor& ids) { return torch::embedding(weight, ids); }
  torch::Tensor weight;
};
TORCH_MODULE(Embedding);

}  // namespace retain::nn
