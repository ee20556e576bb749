// o-lora.h - O-LoRA (Wang et al. 2023, orthogonal subspace learning): a new LoRA adapter per task,
// the earlier ones frozen and all summed at inference, with the penalty
//   λ1 · Σ_layers Σ_old Σ_ij |(A_old · A_newᵀ)_ij|  +  λ2 · Σ_new ‖P‖_F
// on the A (input-side) factors, as the official code does (the paper writes it on the other
// factor; the code is the reference, docs/methods.md §8.4). λ1 = 0 gives IncLoRA.
#pragma once

#include "method/lora-family.h"

namespace retain::method {

class OLora : public LoraMethod {
 public:
  OLora(LoraSettings settings, double lambda1, double lambda2, std::string name)
      : LoraMethod(std::move(settings)), lambda1_(lambda1), lambda2_(lambda2), name_(std::move(name)) {}
  std::string name() const override { return name_; }
  void begin_task(model::Model& model, const TaskContext& task) override;
  torch::Tensor penalty(model::Model& model, const model::Batch& batch, const model::Output& out) override;

 private:
  double lambda1_, lambda2_;
  std::string name_;
};

// "o-lora" (lambda1 = 0.5, lambda2 = 0) and "inclora" (both 0: a new unconstrained adapter per task).
std::unique_ptr<Method> olora_create(config::Options& options);
std::unique_ptr<Method> inclora_create(config::Options& options);

}  // namespace retain::method
