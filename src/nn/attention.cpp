#include "nn/attention.h"

#include <limits>

namespace retain::nn {

namespace {

double lowest_value(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kBFloat16: return static_cast<double>(std::numeric_limits<c10::BFloat16>::lowest());
    case torch::kHalf: return static_cast<double>(std::numeric_limits<c10::Half>::lowest());
    case torch::kDouble: return std::numeric_limits<double>::lowest();
    default: return std::numeric_limits<float>::lowest();
  }
}

}  // namespace

torch::Tensor attention_mask_build(const torch::Tensor& key_padding, int64_t query_len, int64_t key_len,
                                   const MaskOptions& options, torch::ScalarType dtype, torch::Device device) {
  const bool window = options.sliding_window > 0 && options.sliding_window < key_len;
  if (!options.causal && !window && !key_padding.defined()) return {};
  auto long_options = torch::TensorOptions().dtype(torch::kLong).device(device);
  // Query i sits at absolute position (key_len - query_len) + i.
  auto q_pos = torch::arange(key_len - query_len, key_len, long_options).view({-1, 1});
  auto k_pos = torch::arange(0, key_len, long_options).view({1, -1});
  auto allowed = torch::ones({query_len, key_len}, long_options.dtype(torch::kBool));
  if (options.causal) allowed = allowed.logical_and(k_pos <= q_pos);
  if (window) allowed = allowed.logical_and(q_pos - k_pos < options.sliding_window);
  allowed = allowed.view({1, 1, query_len, key_len});
  if (key_padding.defined()) {
    TORCH_CHECK(key_padding.dim() == 2 && key_padding.size(1) == key_len, "attention mask must be [batch, ", key_len,
                "], got ", key_padding.sizes());
    auto keep = key_padding.to(device).to(torch::kBool).view({key_padding.size(0), 1, 1, key_len});
    allowed = allowed.logical_and(keep);
  }
  auto mask = torch::zeros(allowed.sizes(), torch::TensorOptions().dtype(dtype).device(device));
  return mask.masked_fill(allowed.logical_not(), lowest_value(dtype));
}

torch::Tensor repeat_kv(const torch::Tensor& x, int64_t n_rep) {
  if (n_rep == 1) return x;
  const auto b = x.size(0), h = x.size(1), s = x.size(2), d = x.size(3);
  return x.unsqueeze(2).expand({b, h, n_rep, s, d}).reshape({b, h * n_rep, s, d});
}

std::pair<torch::Tensor, torch::Tensor> KVCache::append(size_t layer, const torch::Tensor& k, const torch::Tensor& v) {
  auto& key = key_.at(layer);
  auto& value = value_.at(layer);
  key = key.defined() ? torch::cat({key, k}, 2) : k;
  value = value.defined() ? torch::cat({value, v}, 2) : v;
  return {key, value};
}

void KVCache::set(size_t layer, const torch::Tensor& k, const torch::Tensor& v) {
  key_.at(layer) = k;
  value_.at(layer) = v;
}

}  // namespace retain::nn
