// loss.h - the losses of the Hugging Face heads, in fp32, -100 ignored, mean over counted items.
#pragma once

#include <torch/torch.h>

namespace retain::nn {

constexpr int64_t kIgnoreIndex = -100;

// Token or sequence classification: logits [..., C] against labels [...] of the same positions, as
// torch's log_softmax + nll_loss (mean over the counted items; nan when there is none), in one
// autograd node (loss.cpp).
torch::Tensor cross_entropy_loss(const torch::Tensor& logits, const torch::Tensor& labels);

// Causal LM: logits [B, T, V] at position t predict labels[t + 1] (HF shifts the labels).
torch::Tensor causal_lm_loss(const torch::Tensor& logits, const torch::Tensor& labels);

// The items each loss above is the mean over: labels other than -100 (shifted for the causal LM).
inline int64_t cross_entropy_items(const torch::Tensor& labels) {
  return (labels != kIgnoreIndex).sum().item<int64_t>();
}
inline int64_t causal_lm_items(const torch::Tensor& labels) {
  return cross_entropy_items(labels.narrow(1, 1, labels.size(1) - 1));
}

}  // namespace retain::nn
