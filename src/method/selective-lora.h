// selective-lora.h - Selective LoRA (Bafghi et al. 2025, arXiv 2501.15377; docs/methods.md §7): LoRA
// blocks that an indicator function switches on and off. Each gate has a scalar score s; the block
// counts while g = 1[s ≥ τ] is 1 and the gradient reaches s straight through (TAPS' estimator,
// dL/ds = ⟨dL/dy, scale·x·Aᵀ·Bᵀ⟩ summed over the gate's blocks, also while the gate is closed, so a
// closed gate can reopen). The loss adds λ·mean_gates |s| after the first `warmup_ratio` of each
// task's optimizer steps (TAPS: 2 of 30 epochs), which closes the gates that do not earn their keep.
//
// No official code exists; this follows the spec's reconstruction [INFERRED]: TAPS' τ = 0.1 and
// s₀ = 0.15, B zero and A Kaiming-uniform as in LoRA; a gate per matrix (`granularity = "matrix"`)
// or one per transformer block shared by its matrices (`"block"`). As a continual method it adds a
// new gated set per task over the frozen backbone; after the task the blocks whose gate closed are
// switched off for good and the open ones stay as plain frozen adapters (exact backbone outputs
// wherever every gate closed). The fraction of open gates per task is kept in the state.
#pragma once

#include <map>

#include "config/words.h"
#include "method/lora-family.h"

namespace retain::method {

enum class Granularity { Matrix, Block };
enum class ScoreOptimizer { Sgd, AdamW };

}  // namespace retain::method

namespace retain::config {
template <>
struct Words<method::Granularity> {
  static constexpr std::pair<method::Granularity, std::string_view> list[] = {{method::Granularity::Matrix, "matrix"},
                                                                              {method::Granularity::Block, "block"}};
};
template <>
struct Words<method::ScoreOptimizer> {
  static constexpr std::pair<method::ScoreOptimizer, std::string_view> list[] = {
      {method::ScoreOptimizer::Sgd, "sgd"}, {method::ScoreOptimizer::AdamW, "adamw"}};
};
}  // namespace retain::config

namespace retain::method {

struct SelectiveLoraSettings {
  double threshold = 0.1;    // τ
  double score_init = 0.15;  // s₀ (above τ: every block starts open)
  double sparsity = 1.0;     // λ
  // The fraction of each task's steps before the sparsity term starts (TAPS: 2 of 30 epochs).
  double warmup_ratio = 2.0 / 30.0;
  Granularity granularity = Granularity::Matrix;  // a gate per matrix or per block
  // How the gate scores train. sgd (TAPS): plain SGD at score_lr (scheduled as train.lr is), so a step
  // is proportional to the gradient and λ sets how fast gates close. adamw: with the adapters at
  // train.lr, where Adam's normalised step moves a score by about the LR whatever λ is.
  ScoreOptimizer score_optimizer = ScoreOptimizer::Sgd;
  double score_lr = 0.01;  // TAPS' score_lr
};

class SelectiveLora : public LoraMethod {
 public:
  SelectiveLora(LoraSettings lora, SelectiveLoraSettings settings)
      : LoraMethod(std::move(lora)), selective_(std::move(settings)) {}
  std::string name() const override { return "selective-lora"; }
  void begin_task(model::Model& model, const TaskContext& task) override;
  std::vector<ParamGroup> trainable(model::Model& model, double weight_decay) override;
  torch::Tensor penalty(model::Model& model, const model::Batch& batch, const model::Output& out) override;
  void after_step(model::Model& model) override;
  void end_task(model::Model& model, const TaskContext& task) override;

  // The gate a layer's adapter belongs to: the layer name, or with granularity "block" its prefix
  // up to the block index ("vit.encoder.layer.3.attention.attention.query" -> "vit.encoder.layer.3").
  std::string gate_of(const std::string& layer_name) const;
  // The current task's gate scores by gate name (empty between tasks).
  const std::map<std::string, torch::Tensor>& scores() const { return scores_; }
  // Open gates / all gates at the end of each finished task.
  const std::vector<double>& active_fractions() const { return active_fractions_; }

 protected:
  void state_extra(MethodState& state) const override;
  void load_state_extra(const MethodState& state) override;

 private:
  void attach_scores();  // points the trainable adapter of every layer at its gate's score

  SelectiveLoraSettings selective_;
  std::map<std::string, torch::Tensor> scores_;
  std::vector<std::string> closed_;  // "layer/adapter" switched off after their task
  std::vector<double> active_fractions_;
  int64_t steps_ = 0;         // optimizer steps of the current task
  int64_t warmup_steps_ = 0;  // of them, before the sparsity term starts
  double task_lr_ = 0;        // the run's train.lr (TaskContext)
};

std::unique_ptr<Method> selective_lora_create(config::Options& options);

}  // namespace retain::method
