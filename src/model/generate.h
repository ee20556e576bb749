// generate.h - greedy decoding with a key/value cache, for decoder-only and encoder-decoder models.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "model/model.h"

namespace retain::model {

struct GenerateOptions {
  int64_t max_new_tokens = 32;
  std::vector<int64_t> eos_token_ids;  // a row stops at any of these; empty: never stop early
  int64_t pad_token_id = 0;            // fills finished rows, as transformers does
  bool use_cache = true;               // false recomputes the whole sequence every step (reference)
};

// input_ids: [B, T]; attention_mask: [B, T] (left padding allowed) or undefined.
// Decoder-only: returns [B, T + new] (prompt followed by the new tokens).
// Encoder-decoder: returns [B, 1 + new] (decoder start token followed by the new tokens).
torch::Tensor generate_greedy(Model& model, const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                              const GenerateOptions& options);

}  // namespace retain::model
