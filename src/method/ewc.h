// ewc.h - Elastic Weight Consolidation (Kirkpatrick et al. 2017) as TRACE implements it for LLMs
// (docs/methods.md §8.6): from the second task on, the loss gains
//   (λ/2) · Σ_i F_i (θ_i − θ*_i)²
// with θ* the parameters at the end of the previous task and F a diagonal Fisher, one of:
//   fisher = "trace" (default, TRACE's model/Regular/EWC.py): after every optimizer step the squared
//     gradient of the step's loss (penalty included), each element clamped to ±grad_clamp, is added
//     to a running sum; at the end of each task that sum is divided by the task's steps per epoch.
//     As in TRACE the division applies to the whole running sum, so an earlier task's share shrinks
//     by each later task's steps per epoch.
//   fisher = "after-task": after each task, a separate pass with the final weights, the mean over the
//     task's training batches of the squared gradient of each batch's task loss, summed over tasks
//     (the paper's empirical Fisher, online EWC with γ = 1).
// The penalty uses F as it stood at the end of the previous task.
#pragma once

#include <map>

#include "config/words.h"
#include "method/method.h"

namespace retain::method {

enum class EwcFisher { Trace, AfterTask };

}  // namespace retain::method

namespace retain::config {
template <>
struct Words<method::EwcFisher> {
  static constexpr std::pair<method::EwcFisher, std::string_view> list[] = {
      {method::EwcFisher::Trace, "trace"}, {method::EwcFisher::AfterTask, "after-task"}};
};
}  // namespace retain::config

namespace retain::method {

struct EwcSettings {
  double lambda = 400;  // TRACE's λ
  EwcFisher fisher = EwcFisher::Trace;
  double grad_clamp = 1.0;     // trace: TRACE's clamp, its DeepSpeed gradient_clipping
  int64_t fisher_batches = 0;  // after-task: batches of the pass (0 = every training batch)
};

class Ewc : public Method {
 public:
  explicit Ewc(EwcSettings settings) : settings_(settings) {}
  std::string name() const override { return "ewc"; }
  void begin_task(model::Model& model, const TaskContext& task) override;
  torch::Tensor penalty(model::Model& model, const model::Batch& batch, const model::Output& out) override;
  void after_backward(model::Model& model) override;
  void end_task(model::Model& model, const TaskContext& task) override;
  MethodState state() const override;
  void load_state(const MethodState& state) override;

  // The Fisher of every trainable parameter as the penalty uses it (empty before the first task ends).
  const std::map<std::string, torch::Tensor>& fisher() const { return fisher_; }

 private:
  std::map<std::string, torch::Tensor> fisher_after_task(model::Model& model, const TaskContext& task);

  EwcSettings settings_;
  std::map<std::string, torch::Tensor> fisher_, anchor_;
  std::map<std::string, torch::Tensor> running_;  // trace: the current task's Σ clamp(g)²
  int64_t steps_per_epoch_ = 1;                   // trace: the current task's
};

std::unique_ptr<Method> ewc_create(config::Options& options);

}  // namespace retain::method
