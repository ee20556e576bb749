// adamw-cpu.cpp - see adamw-cpu.h. retain's loop is compiled for AVX-512, AVX2 and the baseline
// (target_clones: the loader picks the CPU's), with errno off for sqrt so that it vectorizes and no
// contraction into fused multiply-adds, which torch's per-operator update does not have
// (CMakeLists.txt), and split over libtorch's threads.
#include "optim/adamw-cpu.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <cstdint>

#include "compat.h"

namespace retain::optim {

namespace {

struct Coefficients {
  float decay, one_minus_beta1, beta2, one_minus_beta2, step_size, bias_correction2_sqrt, eps;
};

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void update_span(float* __restrict param, const float* __restrict grad, float* __restrict exp_avg,
                 float* __restrict exp_avg_sq, int64_t n, Coefficients c) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i];
    // exp_avg.lerp_(grad, 1 - beta1), as torch computes lerp for a weight below 0.5.
    const float m = exp_avg[i] + c.one_minus_beta1 * (g - exp_avg[i]);
    const float v = c.beta2 * exp_avg_sq[i] + c.one_minus_beta2 * g * g;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    const float denom = std::sqrt(v) / c.bias_correction2_sqrt + c.eps;
    param[i] = param[i] * c.decay - c.step_size * (m / denom);
  }
}

void update_one(torch::Tensor& param, const torch::Tensor& grad, torch::Tensor& exp_avg, torch::Tensor& exp_avg_sq,
                double step, const AdamWScalars& s) {
  const Coefficients c{static_cast<float>(1 - s.lr * s.weight_decay),
                       static_cast<float>(1 - s.beta1),
                       static_cast<float>(s.beta2),
                       static_cast<float>(1 - s.beta2),
                       static_cast<float>(s.lr / (1 - std::pow(s.beta1, step))),
                       static_cast<float>(std::sqrt(1 - std::pow(s.beta2, step))),
                       static_cast<float>(s.eps)};
  float* p = param.data_ptr<float>();
  const float* g = grad.data_ptr<float>();
  float* m = exp_avg.data_ptr<float>();
  float* v = exp_avg_sq.data_ptr<float>();
  at::parallel_for(0, param.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
    update_span(p + begin, g + begin, m + begin, v + begin, end - begin, c);
  });
}

}  // namespace

void adamw_update_cpu(std::vector<torch::Tensor>& params, std::vector<torch::Tensor>& grads,
                      std::vector<torch::Tensor>& exp_avgs, std::vector<torch::Tensor>& exp_avg_sqs,
                      const std::vector<double>& steps, const AdamWScalars& s) {
  for (size_t i = 0; i < params.size(); ++i) {
    for (const auto* t : {&params[i], &grads[i], &exp_avgs[i], &exp_avg_sqs[i]}) {
      TORCH_CHECK(t->device().is_cpu() && t->scalar_type() == torch::kFloat && t->is_contiguous() &&
                      t->numel() == params[i].numel(),
                  "adamw_update_cpu: contiguous float32 CPU tensors, four of one size per parameter");
    }
  }
  if constexpr (compat::kHasFusedAdamwCpu) {
    std::vector<torch::Tensor> step_tensors;
    for (const double step : steps) step_tensors.push_back(torch::full({}, step, torch::kFloat));
    compat::fused_adamw_cpu(params, grads, exp_avgs, exp_avg_sqs, step_tensors, s.lr, s.beta1, s.beta2, s.weight_decay,
                            s.eps);
  } else {
    for (size_t i = 0; i < params.size(); ++i)
      update_one(params[i], grads[i], exp_avgs[i], exp_avg_sqs[i], steps[i], s);
  }
}

}  // namespace retain::optim
