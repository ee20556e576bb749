// lora-minus.h - LoRA⁻ (Liu & Chang, CVPR 2025, "LoRA Subtraction for Drift-Resistant Space";
// docs/methods.md §4): exemplar-free class-incremental learning with one LoRA per task on the key and
// value projections (earlier ones frozen, all summed at inference).
//
// Before task t ≥ 1 a statistics pass runs the task's training data through the *subtracted* model,
// W0 − Σ_{j<t} ΔW_j (the old adapters with their scale negated, the new one off), and keeps, per
// target layer, the top-m eigenvectors P of the input second moment E[x xᵀ] that hold the fraction
// `energy` (ε = 0.99) of its trace. The drift-resistant space's projector is T = P Pᵀ/‖P Pᵀ‖_F =
// P Pᵀ/√m by default (the authors' scaling, which also shrinks the effective learning rate by √m;
// `projector_scaling = "none"` drops it). Adam's *updates* of the new adapter, not its gradients,
// are projected: A ← A_old + (A − A_old)·T, and B ← B_old + T·(B − B_old) where the layer is square
// (out = in; otherwise B's update is left as it is, as the official code's shape test does).
// Task 0 trains without projection. B starts with one N(0, 0.01²) entry per column, as `sparse_`.
//
// Image classifiers add λ·ATL (the augmented triplet loss, margin μ) on the unit-length final [CLS]
// features, with the stored prototypes of earlier classes as extra negatives; it needs
// [train] head = "prototype", which trains each task's own classes (the official per-task
// classifier) and predicts by the nearest class mean.
#pragma once

#include <map>

#include "config/words.h"
#include "method/lora-family.h"

namespace retain::method {

enum class ProjectorScaling { SqrtM, None };  // T = P Pᵀ/√m (authors) or P Pᵀ

}  // namespace retain::method

namespace retain::config {
template <>
struct Words<method::ProjectorScaling> {
  static constexpr std::pair<method::ProjectorScaling, std::string_view> list[] = {
      {method::ProjectorScaling::SqrtM, "sqrt_m"}, {method::ProjectorScaling::None, "none"}};
};
}  // namespace retain::config

namespace retain::method {

struct LoraMinusSettings {
  double energy = 0.99;      // ε
  double atl_weight = 0.05;  // λ (CIFAR-100 config)
  double margin = 1.0;       // μ
  ProjectorScaling projector_scaling = ProjectorScaling::SqrtM;
  int64_t calibration_batches = 0;  // batches of the statistics pass; 0 = the whole task
  // An image classifier's head trains at this multiple of train.lr: the official configs give the
  // head 2e-3 and the adapters 5e-4. (The official code does not clip: train.clip_norm = 0 matches.)
  double head_lr_scale = 4;
};

class LoraMinus : public LoraMethod {
 public:
  LoraMinus(LoraSettings lora, LoraMinusSettings settings) : LoraMethod(std::move(lora)), minus_(settings) {}
  std::string name() const override { return "lora-minus"; }
  // Targets the key and value projections unless `targets` says otherwise.
  void attach(model::Model& model) override;
  void use_prototype_head(PrototypeSource prototypes) override { prototypes_ = std::move(prototypes); }
  void begin_task(model::Model& model, const TaskContext& task) override;
  // The adapters at train.lr, the head at head_lr_scale times it.
  std::vector<ParamGroup> trainable(model::Model& model, double weight_decay) override;
  torch::Tensor penalty(model::Model& model, const model::Batch& batch, const model::Output& out) override;
  void before_step(model::Model& model) override;
  void after_step(model::Model& model) override;

  // The projector of `layer_name` for the current task ([in, in]; undefined on task 0).
  torch::Tensor projector(const std::string& layer_name) const;
  // E[x xᵀ] of every target layer's input in the model W0 − Σ ΔW of the earlier adapters.
  std::map<std::string, torch::Tensor> subtracted_second_moments(model::Model& model, const TaskContext& task);

 protected:
  void state_extra(MethodState& state) const override;
  void load_state_extra(const MethodState& state) override;

 private:
  LoraMinusSettings minus_;
  std::map<std::string, torch::Tensor> projectors_;
  std::map<std::string, std::pair<torch::Tensor, torch::Tensor>> before_;  // A, B before the optimizer step
  PrototypeSource prototypes_;    // the run's prototype head (none with another head)
  torch::Tensor old_prototypes_;  // unit-length prototypes of earlier classes [n, hidden]
};

// The augmented triplet loss: mean_i max(0, d_ap(i) − d_an(i) + margin) over unit-length features
// `f` [B, h] with labels [B]: d_ap the farthest same-label sample (itself included), d_an the
// nearest other-label sample or prototype (`prototypes` [n, h], may be undefined); d_an = d_ap +
// margin where there is neither.
torch::Tensor augmented_triplet_loss(const torch::Tensor& f, const torch::Tensor& labels,
                                     const torch::Tensor& prototypes, double margin);

std::unique_ptr<Method> lora_minus_create(config::Options& options);

}  // namespace retain::method
