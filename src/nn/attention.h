// attention.h - pieces shared by every attention layer: the additive mask (causal, padding,
// sliding window), grouped-query head repetition and the key/value cache for generation.
#pragma once

#include <torch/torch.h>

#include <utility>
#include <vector>

namespace retain::nn {

struct MaskOptions {
  bool causal = false;
  int64_t sliding_window = 0;  // 0: none; else key j is visible from query i when i - j < window
};

// Additive mask [B|1, 1, T, S] with 0 where a query may attend and the dtype's lowest finite value
// where it may not (HF's convention: a fully masked row then attends uniformly instead of NaN).
// key_padding: [B, S] with 1 for real tokens and 0 for padding, or undefined. Queries are the
// last T of the S positions (past_len = S - T). Returns an undefined tensor when nothing is masked.
torch::Tensor attention_mask_build(const torch::Tensor& key_padding, int64_t query_len, int64_t key_len,
                                   const MaskOptions& options, torch::ScalarType dtype, torch::Device device);

// [B, Hkv, S, D] -> [B, Hkv * n_rep, S, D], each kv head repeated n_rep times in place (HF repeat_kv).
torch::Tensor repeat_kv(const torch::Tensor& x, int64_t n_rep);

// Keys and values of every layer for incremental decoding, [B, Hkv, S, D] each.
class KVCache {
 public:
  explicit KVCache(size_t num_layers) : key_(num_layers), value_(num_layers) {}
  // Appends this step's keys/values to layer `layer` and returns all of them so far.
  std::pair<torch::Tensor, torch::Tensor> append(size_t layer, const torch::Tensor& k, const torch::Tensor& v);
  // Stores keys/values that never change (T5's cross-attention over the encoder output).
  void set(size_t layer, const torch::Tensor& k, const torch::Tensor& v);
  bool has(size_t layer) const { return key_.at(layer).defined(); }
  std::pair<torch::Tensor, torch::Tensor> get(size_t layer) const { return {key_.at(layer), value_.at(layer)}; }
  int64_t length() const { return key_.empty() || !key_[0].defined() ? 0 : key_[0].size(2); }

 private:
  std::vector<torch::Tensor> key_, value_;
};

}  // namespace retain::nn
