// loss.h - the losses of the Hugging Face heads, in fp32, -100 ignored, mean over counted items.
#pragma once

#include <torch/torch.h>

namespace retain::nn {

constexpr int64_t kIgnoreIndex = -100;

// Token or sequence classification: logits [..., C] against labels [...] of the same positions.
inline torch::Tensor cross_entropy_loss(const torch::Tensor& logits, const torch::Tensor& labels) {
  auto flat = logits.reshape({-1, logits.size(-1)}).to(torch::kFloat);
  return torch::nll_loss(torch::log_softmax(flat, -1), labels.reshape({-1}).to(flat.device()), {}, at::Reduction::Mean,
                         kIgnoreIndex);
}

// Causal LM: logits [B, T, V] at position t predict labels[t + 1] (HF shifts the labels).
inline torch::Tensor causal_lm_loss(const torch::Tensor& logits, const torch::Tensor& labels) {
  const auto t = logits.size(1);
  return nn::cross_entropy_loss(logits.narrow(1, 0, t - 1), labels.narrow(1, 1, t - 1));
}

// The items each loss above is the mean over: labels other than -100 (shifted for the causal LM).
inline int64_t cross_entropy_items(const torch::Tensor& labels) {
  return (labels != kIgnoreIndex).sum().item<int64_t>();
}
inline int64_t causal_lm_items(const torch::Tensor& labels) {
  return cross_entropy_items(labels.narrow(1, 1, labels.size(1) - 1));
}

}  // namespace retain::nn
