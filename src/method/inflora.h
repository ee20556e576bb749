// inflora.h - InfLoRA (Liang & Li, CVPR 2024): before each task a new adapter's A is set, and
// frozen, to the top-r directions of the task's layer-input covariance after removing the input
// subspace of earlier tasks; only B trains, so ΔW = B·A leaves earlier tasks' inputs alone. After
// the task, the subspace memory of every target layer grows (GPM) until it holds the fraction
//   ε_t = lambda_begin + (lambda_end − lambda_begin) · t / T
// of the input energy (docs/methods.md §8.5). The memory stays in "remove" mode (a basis of the old
// inputs) at any size; DualGPM's switch to storing the complement past half the width saves memory
// only. It is capped at width − rank so every new A has room.
#pragma once

#include <map>

#include "method/lora-family.h"

namespace retain::method {

class InfLora : public LoraMethod {
 public:
  InfLora(LoraSettings settings, double lambda_begin, double lambda_end, int64_t calibration_batches)
      : LoraMethod(std::move(settings)),
        lambda_begin_(lambda_begin),
        lambda_end_(lambda_end),
        calibration_batches_(calibration_batches) {}
  std::string name() const override { return "inflora"; }
  void begin_task(model::Model& model, const TaskContext& task) override;
  void end_task(model::Model& model, const TaskContext& task) override;

  // The stored basis of earlier tasks' inputs to `layer_name`, [in, m] orthonormal columns (m may be 0).
  torch::Tensor memory(const std::string& layer_name) const;

 protected:
  void state_extra(MethodState& state) const override;
  void load_state_extra(const MethodState& state) override;

 private:
  double lambda_begin_, lambda_end_;
  int64_t calibration_batches_;
  std::map<std::string, torch::Tensor> memory_;
};

std::unique_ptr<Method> inflora_create(config::Options& options);

}  // namespace retain::method
