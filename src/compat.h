// compat.h - the only file that knows which libtorch retain is built against:
// Debian's libtorch 1.13 (CPU, the CI machine) or pip's torch 2.x (CUDA).
// Handled here: scaled_dot_product_attention exists from 2.1 only (1.13: the explicit formula, as one
// autograd node where it can: attention-explicit.h);
// torch's rms_norm is 2.4+ only, so both compute it by hand, as Hugging Face does.
// Linear algebra goes through the ATen ops (torch::linalg_svd, linalg_qr, linalg_eigh), which both
// versions have; the torch::linalg:: wrappers are not reachable from <torch/torch.h> in 2.x.
// Autocast (mixed precision) is switched per device type from 2.4 on, by one function per device in 1.13.
// AdamW: torch's fused kernel (torch.optim.AdamW(fused=True)) runs on CPU from 2.4; 1.13 has none.
// c10d process groups: libtorch 2.x's NCCL group has shutdown() and abort(), 1.13's Gloo neither.
// CUDA-only code sits behind RETAIN_WITH_CUDA, which CMake sets (src/device.cpp).
#pragma once

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "attention-explicit.h"

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
inline Tensor sdpa(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, double scale) {
#if RETAIN_HAS_SDPA
  if (mask.defined()) {
    return at::scaled_dot_product_attention(q, k, v, mask.to(q.scalar_type()), 0.0, false, scale);
  }
  return at::scaled_dot_product_attention(q, k, v, {}, 0.0, false, scale);
#else
  if (attention_explicit_applies(q, k, v, mask) && !at::autocast::is_cpu_enabled() && !at::autocast::is_enabled()) {
    return attention_explicit(q, k, v, mask, scale);
  }
  auto scores = torch::matmul(q, k.transpose(-2, -1)).to(torch::kFloat) * scale;
  if (mask.defined()) scores = scores + mask;
  auto probs = torch::softmax(scores, -1).to(q.scalar_type());
  return torch::matmul(probs, v);
#endif
}

// torch's fused AdamW kernel (one pass over each parameter) on contiguous float32 CPU tensors; `steps`
// hold each parameter's step count, already incremented. Only called where kHasFusedAdamwCpu.
constexpr bool kHasFusedAdamwCpu = RETAIN_TORCH_VERSION >= 204;
inline void fused_adamw_cpu(std::vector<Tensor>& params, std::vector<Tensor>& grads, std::vector<Tensor>& exp_avgs,
                            std::vector<Tensor>& exp_avg_sqs, const std::vector<Tensor>& steps, double lr, double beta1,
                            double beta2, double weight_decay, double eps) {
#if RETAIN_TORCH_VERSION >= 204
  at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, /*max_exp_avg_sqs=*/{}, steps, lr, beta1, beta2, weight_decay,
                    eps, /*amsgrad=*/false, /*maximize=*/false);
#else
  (void)params, (void)grads, (void)exp_avgs, (void)exp_avg_sqs, (void)steps, (void)lr, (void)beta1, (void)beta2,
      (void)weight_decay, (void)eps;
  TORCH_CHECK(false, "fused AdamW needs libtorch 2.4 or later");
#endif
}

// RMSNorm as Hugging Face computes it: statistics in fp32, weight applied in the input dtype.
inline Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps) {
  auto xf = x.to(torch::kFloat);
  auto y = xf * torch::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * y.to(x.scalar_type());
}

// Thin SVD a = U·diag(S)·Vh with S descending. `{}` is the default driver in both versions.
inline std::tuple<Tensor, Tensor, Tensor> svd_thin(const Tensor& a) {
  return torch::linalg_svd(a, /*full_matrices=*/false, {});
}

inline Tensor qr_q(const Tensor& a) { return std::get<0>(torch::linalg_qr(a, "reduced")); }

// Eigen-decomposition of a symmetric matrix, eigenvalues descending (linalg_eigh gives them ascending).
inline std::tuple<Tensor, Tensor> eigh_descending(const Tensor& a) {
  auto [values, vectors] = torch::linalg_eigh(a, "L");
  return {values.flip(0), vectors.flip(1)};
}

// The top-q singular triplets of a by a randomized range finder (Halko, Martinsson & Tropp 2011)
// with `oversample` extra columns and `iterations` QR-stabilised power iterations; torch's
// svd_lowrank is Python-only. The random test matrix comes from `seed`, drawn on the CPU, so the
// result does not depend on the device or on the global generator.
inline std::tuple<Tensor, Tensor, Tensor> svd_lowrank(const Tensor& a, int64_t q, int64_t oversample,
                                                      int64_t iterations, uint64_t seed) {
  torch::NoGradGuard no_grad;
  const auto width = std::min<int64_t>(q + oversample, std::min(a.size(0), a.size(1)));
  auto generator = at::detail::createCPUGenerator(seed);
  auto omega = at::normal(0.0, 1.0, {a.size(1), width}, generator, torch::dtype(a.scalar_type())).to(a.device());
  auto Q = qr_q(torch::matmul(a, omega));
  for (int64_t i = 0; i < iterations; ++i) {
    Q = qr_q(torch::matmul(a.t(), Q));
    Q = qr_q(torch::matmul(a, Q));
  }
  auto [u, s, vh] = svd_thin(torch::matmul(Q.t(), a));
  return {torch::matmul(Q, u).narrow(1, 0, q), s.narrow(0, 0, q), vh.narrow(0, 0, q)};
}

// torch.autocast(device, dtype) as a scope (mixed precision): matmuls and linear layers run in
// `dtype` (bf16), norms, softmax and losses in float32 (retain computes them in float32 itself too),
// and the weights stay as they are stored. The device API changed in 2.4; 1.13 has one switch per
// device. A default-constructed scope does nothing.
class AutocastScope {
 public:
  AutocastScope() = default;
  AutocastScope(c10::DeviceType device, torch::ScalarType dtype) : device_(device), active_(true) {
    was_enabled_ = enabled(device);
    was_dtype_ = get_dtype(device);
    set(device, true, dtype);
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!active_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();  // the cached bf16 weights
    set(device_, was_enabled_, was_dtype_);
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
#if RETAIN_TORCH_VERSION >= 204
  static bool enabled(c10::DeviceType device) { return at::autocast::is_autocast_enabled(device); }
  static torch::ScalarType get_dtype(c10::DeviceType device) { return at::autocast::get_autocast_dtype(device); }
  static void set(c10::DeviceType device, bool on, torch::ScalarType dtype) {
    at::autocast::set_autocast_enabled(device, on);
    at::autocast::set_autocast_dtype(device, dtype);
  }
#else
  static bool cuda(c10::DeviceType device) { return device == c10::DeviceType::CUDA; }
  static bool enabled(c10::DeviceType device) {
    return cuda(device) ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
  }
  static torch::ScalarType get_dtype(c10::DeviceType device) {
    return cuda(device) ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
  }
  static void set(c10::DeviceType device, bool on, torch::ScalarType dtype) {
    if (cuda(device)) {
      at::autocast::set_enabled(on);
      at::autocast::set_autocast_gpu_dtype(dtype);
    } else {
      at::autocast::set_cpu_enabled(on);
      at::autocast::set_autocast_cpu_dtype(dtype);
    }
  }
#endif
  c10::DeviceType device_ = c10::DeviceType::CPU;
  bool active_ = false, was_enabled_ = false;
  torch::ScalarType was_dtype_ = torch::kBFloat16;
};

// What Python's destroy_process_group does to a c10d group before it goes: shutdown() after a run
// that went well, abort() after a failed collective (a graceful shutdown could wait on a dead peer).
// Groups without them (libtorch 1.13) need nothing; libtorch 2.x's NCCL warns at exit without them.
template <typename Group>
auto end_process_group(Group& group, bool failed, int) -> decltype(group.shutdown(), group.abort(), void()) {
  failed ? group.abort() : group.shutdown();
}
template <typename Group>
void end_process_group(Group&, bool, long) {}
template <typename Group>
void end_process_group(Group& group, bool failed) {
  end_process_group(group, failed, 0);
}

}  // namespace retain::compat
