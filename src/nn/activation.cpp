#include "nn/activation.h"

#include <cmath>

namespace retain::nn {

namespace {

// HF NewGELUActivation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
torch::Tensor gelu_tanh(const torch::Tensor& x) {
  const double k = std::sqrt(2.0 / M_PI);
  return 0.5 * x * (1.0 + torch::tanh(k * (x + 0.044715 * torch::pow(x, 3.0))));
}

}  // namespace

Activation activation_from_name(const std::string& name) {
  if (name == "silu" || name == "swish") return [](const torch::Tensor& x) { return torch::silu(x); };
  if (name == "gelu") return [](const torch::Tensor& x) { return torch::gelu(x); };
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return gelu_tanh;
  if (name == "relu") return [](const torch::Tensor& x) { return torch::relu(x); };
  return nullptr;
}

}  // namespace retain::nn
