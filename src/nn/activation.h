// activation.h - the activation functions named by HF configs ("hidden_act",
// "activation_function", "dense_act_fn"), computed with HF's formulas.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <functional>
#include <string>

namespace retain::nn {

using Activation = std::function<torch::Tensor(const torch::Tensor&)>;

// HF NewGELUActivation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
inline torch::Tensor gelu_tanh(const torch::Tensor& x) {
  const double k = std::sqrt(2.0 / M_PI);
  return 0.5 * x * (1.0 + torch::tanh(k * (x + 0.044715 * torch::pow(x, 3.0))));
}

// Supported: silu/swish, gelu (erf), gelu_new / gelu_pytorch_tanh (tanh approximation), relu.
// Returns nullptr for any other name; the caller refuses it naming its config file and key.
inline Activation activation_from_name(const std::string& name) {
  if (name == "silu" || name == "swish") return [](const torch::Tensor& x) { return torch::silu(x); };
  if (name == "gelu") return [](const torch::Tensor& x) { return torch::gelu(x); };
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return gelu_tanh;
  if (name == "relu") return [](const torch::Tensor& x) { return torch::relu(x); };
  return nullptr;
}

}  // namespace retain::nn
