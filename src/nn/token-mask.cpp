#include "nn/token-mask.h"

namespace retain::nn {
namespace {

// One thread runs one forward (data-parallel ranks are processes), so the mask is per thread.
thread_local torch::Tensor current_mask;

}  // namespace

TokenMaskScope::TokenMaskScope(torch::Tensor mask) : previous_(std::move(current_mask)) {
  current_mask = std::move(mask);
}

TokenMaskScope::~TokenMaskScope() { current_mask = std::move(previous_); }

torch::Tensor real_token_rows(const torch::Tensor& t) {
  auto rows = t.reshape({-1, t.size(-1)});
  const auto& mask = current_mask;
  if (!mask.defined() || t.dim() != 3 || mask.dim() != 2 || t.size(0) != mask.size(0) || t.size(1) != mask.size(1))
    return rows;
  return rows.index({mask.reshape({-1}).to(t.device()).ne(0)});
}

}  // namespace retain::nn
