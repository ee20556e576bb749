// osft.h - OSFT (Nayak et al., "Sculpting Subspaces"): full fine-tuning of every target matrix
// W [out N, in M] outside its top-k singular subspace, re-decomposed at each task boundary.
//
// At the start of a task W = U·diag(s)·Vᵀ; the top-k triplets (U_h, s_h, V_h) are frozen. With the
// default "strict" projection, which the shipped code (mini_trainer, PEFT's OSF) implements, every
// update lies in span(U_h)^⊥ ⊗ span(V_h)^⊥:
//   after clipping:   G ← (I − U_h U_hᵀ) G (I − V_h V_hᵀ)   (mini_trainer clips first)
//   after each step:  W ← U_h diag(s_h) V_hᵀ + (I − U_h U_hᵀ) W (I − V_h V_hᵀ)
// The second line undoes what AdamW's moments and weight decay move into the frozen subspace (the
// leak mini_trainer PRs #16/#91 fixed). "paper" keeps only the high-high block fixed, as the
// paper's formula reads: G ← G − U_h U_hᵀ G V_h V_hᵀ and U_hᵀ W V_h ← diag(s_h).
//
// Parameterisation: the weight stays one dense parameter and the projections are applied to it,
// which is the same subspace constraint as mini_trainer's factorised U_l·diag(s_l)·V_lᵀ (whose
// update is also confined to the complements) with SeqFT's forward cost and optimizer; only the
// frozen top-k factors are stored (docs/methods.md §3). Because only the top k are needed, the boundary
// SVD can be a randomized low-rank one (svd = "randomized"). Its U_h, V_h are not exact singular
// vectors, so U_h diag(s_h) V_hᵀ is not the frozen part of W: the re-projection then restores the
// task-start weight's own frozen part, W₀ − (I − U_h U_hᵀ) W₀ (I − V_h V_hᵀ), kept as U_hᵀW₀, W₀V_h
// and U_hᵀW₀V_h.
//
// k per layer: `unfreeze_rank_ratio` u gives k = floor((1 − u)·min(N, M)) (production rule), or
// rank = "adaptive" takes the paper's importance rule: I(l) = mean cos(x, W x) over the real
// (non-padding) calibration tokens, W x without the bias, both truncated to min(N, M) coordinates, normalised by the
// mean over layers and clamped to [0, 1], r(l) = mrr + I_n(l)·(trr − mrr), k = floor(r(l)·min(N, M)); the calibration
// data is the task just finished (the first task's own data before task 1). k is clamped to [1, min − 1].
#pragma once

#include <map>

#include "config/words.h"
#include "method/method.h"

namespace retain::method {

enum class OsftRank { Ratio, Adaptive };
enum class OsftProjection { Strict, Paper };
enum class OsftSvd { Full, Randomized };
enum class OsftOthers { Train, Frozen };

struct OsftSettings {
  std::vector<std::string> targets;  // last name components; empty = every linear but the output head
  OsftRank rank = OsftRank::Ratio;
  double unfreeze_rank_ratio = 0.25;
  double mrr = 0.1, trr = 0.8;
  OsftProjection projection = OsftProjection::Strict;
  OsftSvd svd = OsftSvd::Full;
  int64_t oversample = 8, power_iterations = 2;
  int64_t calibration_batches = 8;
  // The parameters that are not target matrices (embeddings, LM head, norms, biases): trained with
  // plain AdamW, as the authors' code and mini_trainer do, or frozen, as PEFT's OSF tuner does (an
  // image classifier's head trains either way: its new classes have no other way to be learnt).
  OsftOthers others = OsftOthers::Train;
};

}  // namespace retain::method

namespace retain::config {
template <>
struct Words<method::OsftRank> {
  static constexpr std::pair<method::OsftRank, std::string_view> list[] = {{method::OsftRank::Ratio, "ratio"},
                                                                           {method::OsftRank::Adaptive, "adaptive"}};
};
template <>
struct Words<method::OsftProjection> {
  static constexpr std::pair<method::OsftProjection, std::string_view> list[] = {
      {method::OsftProjection::Strict, "strict"}, {method::OsftProjection::Paper, "paper"}};
};
template <>
struct Words<method::OsftOthers> {
  static constexpr std::pair<method::OsftOthers, std::string_view> list[] = {{method::OsftOthers::Train, "train"},
                                                                             {method::OsftOthers::Frozen, "frozen"}};
};
template <>
struct Words<method::OsftSvd> {
  static constexpr std::pair<method::OsftSvd, std::string_view> list[] = {{method::OsftSvd::Full, "full"},
                                                                          {method::OsftSvd::Randomized, "randomized"}};
};
}  // namespace retain::config

namespace retain::method {

class Osft : public Method {
 public:
  explicit Osft(OsftSettings settings) : settings_(std::move(settings)) {}
  std::string name() const override { return "osft"; }
  void attach(model::Model& model) override;
  void begin_task(model::Model& model, const TaskContext& task) override;
  void before_step(model::Model& model) override;
  void after_step(model::Model& model) override;
  void end_task(model::Model& model, const TaskContext& task) override;
  MethodState state() const override;
  void load_state(const MethodState& state) override;

  struct Frozen {
    torch::Tensor U, s, V;  // [N, k], [k], [M, k], fp32
    // Randomized SVD only: U_hᵀW₀ [k, M], W₀V_h [N, k], U_hᵀW₀V_h [k, k] (exactly diag(s)V_hᵀ,
    // U_h diag(s) and diag(s) for an exact SVD, which then leaves them undefined).
    torch::Tensor UtW, WV, UtWV;
  };
  const std::map<std::string, Frozen>& frozen() const { return frozen_; }
  // Frozen directions per layer for the next decomposition.
  const std::map<std::string, int64_t>& ranks() const { return ranks_; }
  // I(l) of every target layer over the task's calibration batches (the adaptive rule's input).
  std::map<std::string, double> layer_importance(model::Model& model, const TaskContext& task);

 private:
  std::map<std::string, int64_t> adaptive_ranks(model::Model& model, const TaskContext& task);

  OsftSettings settings_;
  std::vector<std::pair<std::string, nn::Linear>> layers_;
  std::map<std::string, Frozen> frozen_;
  std::map<std::string, int64_t> ranks_;
  uint64_t seed_ = 0;
};

// The top-k singular triplets of w [N, M] in fp32: exact (svd = "full") or randomized (then with
// w's own products UtW, WV, UtWV).
Osft::Frozen osft_top_singular(const torch::Tensor& w, int64_t k, const OsftSettings& settings, uint64_t seed);

std::unique_ptr<Method> osft_create(config::Options& options);

}  // namespace retain::method
