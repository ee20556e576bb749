// token-mask.h - which positions of the sequence now passing through a model are real tokens, for
// the observers (nn/linear.h) that gather per-token statistics: InfLoRA's and LoRA⁻'s input
// covariances and OSFT's layer importance are taken over real tokens, never over padding.
//
// A model's forward opens one TokenMaskScope per stack with that stack's mask ([B, T], non-zero on
// real tokens): a causal LM its attention mask; T5 the attention mask in the encoder and in the
// cross-attention's keys and values, and labels ≠ -100 in the decoder. real_token_rows(t) then turns
// an observed [B, T, d] tensor into its real rows [n, d].
#pragma once

#include <torch/torch.h>

namespace retain::nn {

class TokenMaskScope {
 public:
  explicit TokenMaskScope(torch::Tensor mask);  // undefined: every position is real
  ~TokenMaskScope();
  TokenMaskScope(const TokenMaskScope&) = delete;
  TokenMaskScope& operator=(const TokenMaskScope&) = delete;

 private:
  torch::Tensor previous_;
};

// `t` [..., d] as rows [n, d]: the real tokens' rows when t is [B, T, d] and the innermost scope's
// mask is [B, T]; every row otherwise (no scope, images, or a forward with a KV cache, whose mask
// covers the cached positions too).
torch::Tensor real_token_rows(const torch::Tensor& t);

}  // namespace retain::nn
