// activation.h - the activation functions named by HF configs ("hidden_act",
// "activation_function", "dense_act_fn"), computed with HF's formulas.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <string>

namespace retain::nn {

using Activation = std::function<torch::Tensor(const torch::Tensor&)>;

// Supported: silu/swish, gelu (erf), gelu_new / gelu_pytorch_tanh (tanh approximation), relu.
// Returns nullptr for any other name; the caller refuses it naming its config file and key.
Activation activation_from_name(const std::string& name);

}  // namespace retain::nn
