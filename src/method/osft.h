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
// Form. "dense" (the default): the weight stays one dense parameter and the projections above are
// applied to it, the paper's update rule (a projected gradient of W) with SeqFT's forward cost.
// "factors": what the shipped code trains (mini_trainer, PEFT's OSF): at the task's start
// W = F₀ + U_l·diag(s_l)·V_lᵀ, the low singular triplets; the weight holds F₀ and stays frozen, and
// U_l, s_l, V_lᵀ train as an adapter on the layer (forward F₀x + U_l(s_l ⊙ V_lᵀx)). After the clip the
// gradients of U_l and V_lᵀ are projected off U_h and V_h, and after each AdamW step the factors
// themselves (mini_trainer PRs #16/#91; PEFT projects the gradients only); s_l is not projected. At
// the task's end the factors are merged into the weight. Both forms keep every update in
// span(U_h)^⊥ ⊗ span(V_h)^⊥, but they are different optimisation problems: AdamW normalises each
// coordinate of U_l, s_l and V_l, not of W, so at one learning rate the factor form moves W by a
// different amount per step (on SmolLM2 about 2.4 times as far: README, "retain against transformers
// + peft, accuracy"). The default stays "dense" because every published retain number used it; take
// "factors" to reproduce mini_trainer or PEFT, or to carry a learning rate tuned there.
//
// Cost. Each side of the strict projection goes through the smaller of two orthonormal bases: the
// frozen directions H (then I − HHᵀ costs 2·k per element) or their complement C (then CCᵀ costs
// 2·(L − k)). With the default ratio the short side's complement has a quarter of its rank, so a
// projection first reduces X to the thin X·C_V (or C_Uᵀ·X), projects that on the other side, and
// expands it back, writing straight into the weight or gradient: O(N·M·min(k, R − k)) instead of
// the four O(N·M·k) products of the textbook form. The frozen part is kept dense,
// F₀ = W₀ − P(W₀) (P the strict projection), so the re-projection W ← F₀ + P(W) is one fused
// product. That F₀ is U_h diag(s_h) V_hᵀ for an exact SVD and, for a randomized one (whose U_h, V_h
// are not exact singular vectors), the task-start weight's own frozen part.
// Two projections per step remain with AdamW, one on the gradient and one on the weight: the first
// keeps the moments (linear in the gradient) out of the frozen subspace, the second the update,
// whose element-wise 1/√v and weight decay move it back in; neither implies the other.
//
// Boundary. The exact decomposition takes the top-k eigenpairs of the float64 Gram matrix of the
// short side (WᵀW or WWᵀ, R × R) and the long side's vectors as W·v/s (for a square matrix its
// complement too). In float64 that is as accurate as a float32 SVD at float32's resolution, and
// LAPACK's eigensolver is 2.8× faster than its SVD on [1536, 576] (as fast on square matrices).
// Matrices of one shape and rank are decomposed in batches, spread over the CPU threads or, on a
// GPU, run where the weights are. A randomized low-rank SVD (svd = "randomized") pays off only for
// small k.
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
enum class OsftForm { Dense, Factors };

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
  OsftForm form = OsftForm::Dense;
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
struct Words<method::OsftForm> {
  static constexpr std::pair<method::OsftForm, std::string_view> list[] = {{method::OsftForm::Dense, "dense"},
                                                                           {method::OsftForm::Factors, "factors"}};
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
  // The factor form trains each target's adapter (U_l, s_l, V_lᵀ) instead of its weight.
  std::vector<ParamGroup> trainable(model::Model& model, double weight_decay) override;
  MethodState state() const override;
  void load_state(const MethodState& state) override;

  // One side of the strict projection: the frozen directions (complement = false) or an
  // orthonormal basis of their complement (true), whichever has fewer columns ([N, ·] for the
  // columns, [M, ·] for the rows). The paper's projection always keeps the frozen directions.
  struct Side {
    torch::Tensor basis;
    bool complement = false;
  };
  struct Frozen {
    torch::Tensor s;    // [k] the frozen singular values
    Side left, right;   // the columns (U side), the rows (V side)
    torch::Tensor top;  // strict: F₀ [N, M]; paper: U_hᵀW₀V_h [k, k]; factors: undefined (F₀ is the weight)
  };
  // The adapter that holds the factor form's trained factors on each target layer.
  static constexpr const char* kFactors = "osft";
  const std::map<std::string, Frozen>& frozen() const { return frozen_; }
  // Frozen directions per layer for the next decomposition.
  const std::map<std::string, int64_t>& ranks() const { return ranks_; }
  // I(l) of every target layer over the task's calibration batches (the adaptive rule's input).
  std::map<std::string, double> layer_importance(model::Model& model, const TaskContext& task);

 private:
  std::map<std::string, int64_t> adaptive_ranks(model::Model& model, const TaskContext& task);
  struct Workspace {
    torch::Tensor thin, small;  // the reduced X and the other side's coefficients, reused every step
  };
  void project(nn::Linear& layer, const Frozen& f, Workspace& work, bool weight) const;
  // The factor form: U_l's columns off U_h and V_lᵀ's rows off V_h, in their gradients or themselves.
  void project_factors(nn::Linear& layer, const Frozen& f, Workspace& work, bool weight) const;
  // The factor form at a task's start: the weight becomes F₀, the low triplets an adapter.
  void factors_attach(nn::Linear& layer, const torch::Tensor& U_l, const torch::Tensor& s_l,
                      const torch::Tensor& V_l) const;

  OsftSettings settings_;
  std::vector<std::pair<std::string, nn::Linear>> layers_;
  std::map<std::string, Frozen> frozen_;
  std::map<std::string, int64_t> ranks_;
  std::map<std::string, Workspace> workspace_;
};

// The top-k singular triplets of w [N, M], or of each matrix of a batch [B, N, M], in float32:
// U [.., N, k], s [.., k], V [.., M, k]. Exact (svd = "full", through the float64 Gram matrix, with
// the short side's complement `rest` [.., R, R − k]) or randomized (one seed per matrix; no rest).
struct OsftTriplets {
  torch::Tensor U, s, V, U_rest, V_rest;
  torch::Tensor s_rest;  // the remaining singular values: osft_split_singular only
};
OsftTriplets osft_top_singular(const torch::Tensor& w, int64_t k, const OsftSettings& settings,
                               const std::vector<uint64_t>& seeds);

// Every singular triplet of a batch w [B, N, M], by LAPACK's SVD in float64, split at k: the top k
// (U, s, V) and all the rest (U_rest, s_rest, V_rest), in float32. The factor form trains the rest.
OsftTriplets osft_split_singular(const torch::Tensor& w, int64_t k);

// What one weight W₀ [N, M] freezes, from its top-k triplets (one matrix, no batch dimension).
Osft::Frozen osft_frozen(const torch::Tensor& w0, const OsftTriplets& top, OsftProjection projection);

// The strict projection (I − U_hU_hᵀ) X (I − V_hV_hᵀ) of X [N, M] through f's bases.
torch::Tensor osft_strict_projection(const torch::Tensor& X, const Osft::Frozen& f);

std::unique_ptr<Method> osft_create(config::Options& options);

}  // namespace retain::method
