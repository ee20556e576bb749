// linear.h - the one linear layer every projection of every model goes through.
//
//   forward(x) = x·Wᵀ + b + Σ_active g·scale·(drop(x)·Aᵀ ⊙ m)·Bᵀ  (g: the adapter's gate, 1 unless gated;
//                                                                drop: the adapter's dropout, in training only;
//                                                                m: its per-component scales, 1 unless set)
//
// The base weight keeps its Hugging Face name and layout (GPT-2's Conv1D stores W as [in, out]:
// `fan_in_fan_out`), so checkpoints load and save without renaming or transposing. Adapters are
// applied unmerged, in order, inside forward (llama.cpp's build_lora_mm); continual-learning
// methods attach, merge and subtract them through this type only. Adapter tensors are not
// registered module parameters: the base model's named_parameters() stay exactly the checkpoint.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

namespace retain::nn {

struct LoraAdapter {
  std::string name;     // e.g. "default" (PEFT's adapter name) or "task3"
  torch::Tensor A;      // [r, in]
  torch::Tensor B;      // [out, r]
  double scale = 1;     // alpha / r (alpha / sqrt(r) for rsLoRA)
  bool active = true;   // inactive adapters are kept but skipped by forward
  bool merged = false;  // folded into the base weight, so forward skips it too
  double dropout = 0;   // PEFT's lora_dropout: on the adapter's input, while the layer trains
  // Per-component scales m [r] (undefined = none): ΔW = scale·B·diag(m)·A. OSFT's factor form trains
  // W's low singular triplets this way (A = V_lᵀ, m = s_l, B = U_l).
  torch::Tensor middle;
  // Selective LoRA's gate (undefined = always on): the adapter counts while score >= threshold,
  // forward multiplies it by g = 1[score >= threshold] and the gradient reaches `score` straight
  // through (dg/dscore = 1). Adapters may share one score tensor (one gate per transformer block).
  torch::Tensor score;  // 0-d
  double threshold = 0;
};

// The gate value g of `adapter` (1 when it has no score), in the autograd graph when score requires grad.
torch::Tensor adapter_gate(const LoraAdapter& adapter);
bool adapter_gate_open(const LoraAdapter& adapter);

// Sees every forward's input x [..., in] and output y [..., out] (adapters included), detached
// and under NoGradGuard: how methods gather activation statistics (MIGU's output magnitudes,
// InfLoRA's input covariance, OSFT's layer importance) without module hooks, which libtorch lacks.
using LinearObserver = std::function<void(const torch::Tensor& x, const torch::Tensor& y)>;

struct LinearOptions {
  int64_t in_features = 0;
  int64_t out_features = 0;
  bool bias = false;
  bool fan_in_fan_out = false;  // weight stored [in, out] as GPT-2's Conv1D stores it
};

class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(const LinearOptions& options, const torch::TensorOptions& tensor_options);

  torch::Tensor forward(const torch::Tensor& x);

  // Uses `shared` (e.g. the token embedding) as the weight without registering it here, so a
  // tied head is one tensor and appears once in named_parameters().
  void tie_weight(const torch::Tensor& shared);
  bool weight_tied() const { return tied_; }

  const LinearOptions& options() const { return options_; }
  // The weight as [out, in] whatever the storage layout (a view, no copy).
  torch::Tensor weight_out_in() const;

  // Adapters. A: [r, in], B: [out, r]; names are unique per layer.
  LoraAdapter& adapter_add(const std::string& name, torch::Tensor A, torch::Tensor B, double scale);
  LoraAdapter* adapter_find(const std::string& name);
  void adapter_remove(const std::string& name);
  // scale·B·A in the weight's storage layout.
  torch::Tensor adapter_delta(const LoraAdapter& adapter) const;
  // In place on the base weight, outside autograd, with the delta computed in fp32:
  //   merge:    W += scale·B·A, the adapter is marked merged (forward no longer adds it);
  //   unmerge:  W -= scale·B·A, undoing a merge;
  //   subtract: W -= scale·B·A for an unmerged adapter (LoRA⁻'s subtraction); it stays as it was.
  // A tied weight (shared with the embedding) refuses all three.
  void adapter_merge(const std::string& name);
  void adapter_unmerge(const std::string& name);
  void adapter_subtract(const std::string& name);
  const std::vector<LoraAdapter>& adapters() const { return adapters_; }
  std::vector<LoraAdapter>& adapters() { return adapters_; }

  // One observer at a time; setting a second without clearing the first is an error. One slot on
  // purpose: MIGU is the only method that observes outputs, and a method that needs another method's
  // hooks wraps it (method/forwarding-method.h) instead of stacking observers, so the order in which
  // two observers would see a forward never becomes part of the numbers.
  void observer_set(LinearObserver observer);
  void observer_clear() { observer_ = nullptr; }

  torch::Tensor weight;
  torch::Tensor bias;

 private:
  LoraAdapter& adapter_at(const std::string& name);
  void weight_add(const torch::Tensor& delta, double sign);
  LinearOptions options_;
  bool tied_ = false;
  std::vector<LoraAdapter> adapters_;
  LinearObserver observer_;
};
TORCH_MODULE(Linear);

}  // namespace retain::nn
