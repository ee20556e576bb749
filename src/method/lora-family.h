// lora-family.h - what the LoRA-based methods share: which linear layers get adapters, the
// adapters themselves (one per task or one for the whole stream), freezing the base model, the
// optimizer's view of the trainable adapters, and saving all of it in the method state.
//
// Adapters live on nn::Linear (forward adds them unmerged) in fp32 whatever the model dtype. The
// base model is frozen; an image classifier's head ("classifier.*") trains with the adapters, as
// class-incremental LoRA methods train theirs.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "config/options.h"
#include "method/method.h"

namespace retain::method {

struct LoraSettings {
  std::vector<std::string> targets;  // last component of the module name; empty = the model's default
  int64_t rank = 8;
  double alpha = 32;
  double dropout = 0;  // on each new adapter's input while training (PEFT's lora_dropout)
};

// The LoRA baselines' and O-LoRA's official setting (O-LoRA's and TreeLoRA's scripts: lora_dropout 0.1).
inline LoraSettings lora_settings_with_dropout() {
  LoraSettings settings;
  settings.dropout = 0.1;
  return settings;
}

// Reads `targets` (comma-separated, e.g. "q_proj,v_proj"), `rank`, `alpha` and `dropout`; unset ones take `defaults`.
LoraSettings lora_settings_read(config::Options& options, const std::string& method_name,
                                const LoraSettings& defaults = {});

// PEFT's default targets: the query and value projections (q_proj,v_proj in the Llama family,
// c_attn in GPT-2, q,v in T5, query,value in ViT; model.h attention_names).
std::vector<std::string> lora_default_targets(const model::Model& model);
// The key and value projections (LoRA⁻'s and InfLoRA's official choice; c_attn in GPT-2).
std::vector<std::string> lora_key_value_targets(const model::Model& model);

class LoraMethod : public Method {
 public:
  explicit LoraMethod(LoraSettings settings) : settings_(std::move(settings)) {}

  void attach(model::Model& model) override;
  bool trains_adapters() const override { return true; }
  // The trainable adapter's A and B of every target layer (decayed, they are matrices) and the
  // image head's parameters.
  std::vector<ParamGroup> trainable(model::Model& model, double weight_decay) override;
  MethodState state() const override;
  void load_state(const MethodState& state) override;

  const std::vector<std::pair<std::string, nn::Linear>>& layers() const { return layers_; }
  // The adapter being trained ("" before the first task).
  const std::string& trainable_adapter() const { return trainable_; }

 protected:
  // Adds adapter `name` to every target layer, A drawn by `make_A(layer_name, layer)` ([r, in]) and
  // B zero, and makes it the trainable one (earlier adapters stay, frozen).
  using AInit = std::function<torch::Tensor(const std::string& layer_name, nn::LinearImpl& layer)>;
  void adapter_add_everywhere(const std::string& name, const AInit& make_A);
  // A ~ U(-1/sqrt(in), 1/sqrt(in)), PEFT's kaiming_uniform(a=sqrt(5)), from a seed per layer.
  torch::Tensor kaiming_uniform_A(const std::string& layer_name, nn::LinearImpl& layer, uint64_t seed) const;
  // Only adapter `name`'s A (and B when `train_B`) require gradients; all others are frozen.
  void set_trainable(const std::string& name, bool train_A = true);
  // Uncentred input second moment E[x xᵀ] of every target layer (by layer name) over the real
  // tokens (padding excluded) of the task's training batches (at most `batches`; 0 = all), in fp32,
  // without gradients.
  std::map<std::string, torch::Tensor> input_second_moments(model::Model& model, const TaskContext& task,
                                                            int64_t batches);
  // Extra tensors and metadata of a derived method, saved beside the adapters.
  virtual void state_extra(MethodState& /*state*/) const {}
  virtual void load_state_extra(const MethodState& /*state*/) {}

  LoraSettings settings_;
  std::vector<std::pair<std::string, nn::Linear>> layers_;
  std::vector<std::string> adapter_names_;  // in the order they were added
  std::string trainable_;
  bool train_A_ = true;
  std::vector<std::pair<std::string, torch::Tensor>> head_;  // image classifier head, trained in full
};

// One LoRA adapter ("default") trained on every task in turn.
class SeqLora : public LoraMethod {
 public:
  using LoraMethod::LoraMethod;
  std::string name() const override { return "seqlora"; }
  void begin_task(model::Model& model, const TaskContext& task) override;
};

std::unique_ptr<Method> seqlora_create(config::Options& options);

}  // namespace retain::method
