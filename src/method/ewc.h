// ewc.h - Elastic Weight Consolidation (Kirkpatrick et al. 2017) as TRACE implements it for LLMs
// (docs/methods.md §8.6): from the second task on, the loss gains
//   (λ/2) · Σ_i F_i (θ_i − θ*_i)²
// with θ* the parameters at the end of the previous task and F the diagonal empirical Fisher,
// the mean over the task's training batches of the squared gradient of the batch loss, computed
// after the task, and summed over tasks (online EWC with γ = 1, TRACE's running sum).
#pragma once

#include <map>

#include "method/method.h"

namespace retain::method {

class Ewc : public Method {
 public:
  Ewc(double lambda, int64_t fisher_batches) : lambda_(lambda), fisher_batches_(fisher_batches) {}
  std::string name() const override { return "ewc"; }
  torch::Tensor penalty(model::Model& model, const model::Batch& batch, const model::Output& out) override;
  void end_task(model::Model& model, const TaskContext& task) override;
  MethodState state() const override;
  void load_state(const MethodState& state) override;

  // The summed Fisher of every trainable parameter (empty before the first task ends).
  const std::map<std::string, torch::Tensor>& fisher() const { return fisher_; }

 private:
  double lambda_;
  int64_t fisher_batches_;
  std::map<std::string, torch::Tensor> fisher_, anchor_;
};

std::unique_ptr<Method> ewc_create(config::Options& options);

}  // namespace retain::method
