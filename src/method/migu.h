// migu.h - MIGU (Du et al. 2024, magnitude-based gradient updating): from the second task on, every
// linear layer sums |output| per output neuron over the micro-batches of a step, and only the rows
// (output neurons) at or above the layer's T-quantile keep their gradient; the rest are zeroed
// before clipping and the optimizer step (docs/methods.md §5.2). The LM head counts as a linear layer.
//
// MIGU runs on top of another method (`on`, default seqft): its hooks run first, MIGU masks what it
// trains. On LoRA adapters (the paper's LoRA variant; the official code path does not run) a
// trainable adapter's A rows are masked by the magnitudes of its own output x·Aᵀ, its B rows by
// the layer's full output, with the same quantile.
#pragma once

#include <map>
#include <memory>

#include "method/forwarding-method.h"

namespace retain::method {

class Migu : public ForwardingMethod {
 public:
  Migu(std::unique_ptr<Method> inner, double threshold) : ForwardingMethod(std::move(inner)), threshold_(threshold) {}
  std::string name() const override;

  void attach(model::Model& model) override;
  void begin_task(model::Model& model, const TaskContext& task) override;
  std::vector<torch::Tensor> step_statistics() override;
  void after_backward(model::Model& model) override;
  void end_task(model::Model& model, const TaskContext& task) override;
  MethodState state() const override;
  void load_state(const MethodState& state) override;

  // Whether masking is on (tasks after the first).
  bool masking() const { return masking_; }

 private:
  struct LayerStats {
    nn::Linear layer;
    torch::Tensor output;                       // Σ |y| per output neuron
    std::map<std::string, torch::Tensor> lora;  // per trainable adapter: Σ |x·Aᵀ| per rank row
  };
  void observe();
  void stop_observing();
  torch::Tensor keep_mask(const torch::Tensor& magnitudes) const;

  double threshold_;
  bool masking_ = false;
  std::vector<std::pair<std::string, nn::Linear>> layers_;
  std::vector<LayerStats> stats_;
};

std::unique_ptr<Method> migu_create(config::Options& options);

}  // namespace retain::method
