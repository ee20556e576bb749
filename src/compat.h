// compat.h - the only file that knows which libtorch retain is built against:
// Debian's libtorch 1.13 (CPU, the CI machine) or pip's torch 2.x (CUDA).
// Handled here: scaled_dot_product_attention exists from 2.1 only (1.13: the explicit formula);
// torch's rms_norm is 2.4+ only, so both compute it by hand, as Hugging Face does.
// Known differences for what comes next (cpp-stack.md §1.2): torch::linalg:: is not reachable in
// 2.x (use the ATen ops torch::linalg_svd / linalg_qr), optimizer-state keys changed type.
// CUDA-only code sits behind RETAIN_WITH_CUDA, which CMake sets (src/device.cpp).
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

#define RETAIN_TORCH_VERSION (TORCH_VERSION_MAJOR * 100 + TORCH_VERSION_MINOR)

#if RETAIN_TORCH_VERSION >= 201
#define RETAIN_HAS_SDPA 1
#else
#define RETAIN_HAS_SDPA 0
#endif

namespace retain::compat {

using torch::Tensor;

// Scaled dot-product attention. q: [B, H, T, D], k/v: [B, H, S, D] (same head count),
// mask: additive float broadcastable to [B, H, T, S] or undefined. Softmax in fp32.
inline Tensor sdpa(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                   double scale) {
#if RETAIN_HAS_SDPA
  if (mask.defined()) {
    return at::scaled_dot_product_attention(q, k, v, mask.to(q.scalar_type()), 0.0, false, scale);
  }
  return at::scaled_dot_product_attention(q, k, v, {}, 0.0, false, scale);
#else
  auto scores = torch::matmul(q, k.transpose(-2, -1)).to(torch::kFloat) * scale;
  if (mask.defined()) scores = scores + mask;
  auto probs = torch::softmax(scores, -1).to(q.scalar_type());
  return torch::matmul(probs, v);
#endif
}

// RMSNorm as Hugging Face computes it: statistics in fp32, weight applied in the input dtype.
inline Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps) {
  auto xf = x.to(torch::kFloat);
  auto y = xf * torch::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * y.to(x.scalar_type());
}

}  // namespace retain::compat
