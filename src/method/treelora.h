// treelora.h - TreeLoRA (Qian, Xu, Zhang, Zhao, Zhou; ICML 2025, arXiv 2506.10355; docs/methods.md §6).
//
// One LoRA adapter ("default", on the model's default targets, q/v for the Llama family) trains
// through every task, as in SeqLoRA. Its D adapted layers, in layer order, are the "depths" d.
// At the end of task τ the method stores a task summary, one vector summary_τ[d] of r·in numbers per
// depth made from that layer's LoRA-A during the task's last epoch, and rebuilds a binary tree over
// the finished tasks (tree_build) from the consecutive differences Δ_0 = summary_0,
// Δ_i = summary_i − summary_{i−1} (what task i changed, the adapter being continuous). While a later
// task trains, every optimizer step picks for every depth d one earlier task k_d (a bandit whose
// arms are the earlier tasks) and regularises the live A_d with summary_{k_d}[d].
//
// mode = "paper" (default): the paper's intent (docs/methods.md §6.2, the left column of §6.6).
//   summary_τ[d]  the mean of A_d over the steps of task τ's last epoch.
//   distance      dist_k[d] = mean over the r·in numbers of |A_d − summary_k[d]| (the L1 distance per
//                 number), A_d the live weights at the step.
//   choice        per depth, the lower confidence bound of the distance
//                   LCB = mean − c·sqrt(ln t / n),   n = times chosen, t = 1 + choices made at that
//                 depth so far in this task, LCB = −∞ while n = 0 (unexplored arms first);
//                 the chosen task's distance is the observation. The statistics start afresh with
//                 every task (the distances to earlier tasks are a new problem for each new task).
//                 [INFERRED] Hierarchical descent (tree_choose): from the root, at every inner node go
//                 into the child whose tasks, pooled (counts and distance sums added, one arm per
//                 subtree as hierarchical bandits have it), have the lower LCB (ties: left); at a leaf
//                 take its task of lowest LCB (ties: lowest index). Our sources give no exact rule.
//   penalty       reg · Σ_d dist_{k_d}[d], with a constant weight ([INFERRED]: the paper's update
//                 w ← w − α·S[∇ℓ] − λ·∇‖ĝ_n − ĝ_k‖₁ has a fixed λ; the code's ramp is "reference"'s).
//   sparse update [INFERRED, the paper text is unavailable] after backward only the
//                 ceil(sparsity·D) depths with the largest dist_{k_d}[d] keep their gradients (A and
//                 B, the penalty's included); the others' gradients are dropped (left undefined), so
//                 AdamW skips them and neither momentum nor weight decay moves those layers that step.
// mode = "reference": the official code (docs/methods.md §6.3, the right column of §6.6), step by step:
//   running sum ḡ[d] += D·A_d/R at every step, reset at every epoch start; summary = ḡ at task end;
//   statistics S (distance sums), n (counts) reset at every epoch start; scores
//   z = mean distance + sqrt(ln(2·R·(s+1)·(s+2))) / sqrt(2n + 1e-5); z += min(z); a root task
//   `first` ~ softmax_k(Σ_d z[k,d]); the rows of the root child holding `first` times
//   min(its median, 1.5) (1 for a leaf); z /= max(z) − min(z) + 1e-5; k_d ~ softmax_k(z[:,d]);
//   n[k_d,d] += 1, S[k_d,d] += ‖ḡ[d] − summary_{k_d}[d]‖₁; penalty −Q̃ with
//   Q = −Σ_d ⟨A_d, summary_{k_d}[d]⟩, Q̃ = Q / (stopgrad(Q) + 1e-5) · stopgrad(L) · reg·s/R; no masking.
//   (The code's z favours large distances and unexplored tasks, and its w starts at 0 each epoch:
//   both reproduced as shipped.) The draws come from std::mt19937_64 seeded by
//   derive_seed(run seed, task, step), so they are the same on every platform and after a resume.
//
// Both modes count optimizer steps where the code counts micro-batches: s is the 0-based step within
// the epoch and R the epoch's steps, from TaskContext::steps and ::epochs (epoch_position). What a
// step uses (ḡ, k_d, distances, kept depths) is decided once, at its first penalty() or
// after_backward(), from the weights and the state alone, so every data-parallel rank decides alike.
// The tree is the same in both modes: σ_i = ⟨Δ_i[d], mean_{j∈I} Δ_j[d]⟩ split at torch.median's
// median (the lower middle value for an even count): σ ≥ median left, < median right, halves when one
// side is empty; a leaf at depth ≥ D or with at most one task.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/words.h"
#include "method/lora-family.h"

namespace retain::method {

// ---- the task tree ---------------------------------------------------------------------------------

struct TreeNode {
  int64_t depth = 0;              // the depth (adapted layer) whose Δ splits this node
  std::vector<int64_t> tasks;     // in increasing order
  double median = 0;              // inner nodes: the median σ of the split (0 at leaves)
  int64_t left = -1, right = -1;  // indices into TaskTree::nodes; -1 at leaves
  bool leaf() const { return left < 0; }
  bool operator==(const TreeNode& other) const;
};

struct TaskTree {
  std::vector<TreeNode> nodes;  // nodes[0] is the root, children after their parent; empty: no task
  bool empty() const { return nodes.empty(); }
  const TreeNode& root() const { return nodes.front(); }
  bool operator==(const TaskTree& other) const { return nodes == other.nodes; }
};

// deltas[i][d]: Δ_i at depth d, any shape (flattened); every task has the same D depths.
TaskTree tree_build(const std::vector<std::vector<torch::Tensor>>& deltas);
// Δ_0 = summaries[0], Δ_i = summaries[i] − summaries[i−1].
std::vector<std::vector<torch::Tensor>> tree_deltas(const std::vector<std::vector<torch::Tensor>>& summaries);

// ---- the bandit ------------------------------------------------------------------------------------

// Per (arm = earlier task k, depth d): how often k was chosen at d and the sum of the distances seen.
struct Bandit {
  int64_t arms = 0, depths = 0;
  std::vector<int64_t> counts;        // [arms × depths], row-major
  std::vector<double> distance_sums;  // [arms × depths]

  Bandit() = default;
  Bandit(int64_t arms, int64_t depths);
  void update(int64_t arm, int64_t depth, double distance);
  int64_t count(int64_t arm, int64_t depth) const { return counts[arm * depths + depth]; }
  double mean(int64_t arm, int64_t depth) const;  // 0 while never chosen
  int64_t rounds(int64_t depth) const;            // choices made at `depth`
  // Paper: mean − c·sqrt(ln t / n) of the arms of `group` pooled (n and the sums added),
  // t = rounds(depth) + 1; −∞ when n = 0.
  double lcb(const std::vector<int64_t>& group, int64_t depth, double c) const;
  double lcb(int64_t arm, int64_t depth, double c) const { return lcb(std::vector<int64_t>{arm}, depth, c); }
  // Paper: the arm of `candidates` with the lowest LCB (the first on ties, so unexplored ones first).
  int64_t choose(const std::vector<int64_t>& candidates, int64_t depth, double c) const;
  bool operator==(const Bandit& other) const;
};

// Paper: the task the hierarchical descent picks at `depth` (see the header comment).
int64_t tree_choose(const TaskTree& tree, const Bandit& bandit, int64_t depth, double c);

// Reference: z[k][d] = mean + sqrt(ln(2·R·(s+1)·(s+2))) / sqrt(2n + 1e-5), [arms, depths] float64,
// R = the epoch's steps, s = the 0-based step within it.
torch::Tensor reference_scores(const Bandit& bandit, int64_t epoch_steps, int64_t step);
// Reference: from the shifted scores z (z += min(z) done) and the sampled root task `first`: the
// rows of the root child holding `first` times min(median, 1.5), z / (max − min + 1e-5), softmax
// over the tasks of every depth; [arms, depths], each column sums to 1.
torch::Tensor reference_depth_probabilities(torch::Tensor z, const TaskTree& tree, int64_t first);
// Reference: k_d for every depth, drawn with a generator seeded by `seed`.
std::vector<int64_t> reference_choose(const Bandit& bandit, const TaskTree& tree, int64_t epoch_steps, int64_t step,
                                      uint64_t seed);

// ---- the step clock --------------------------------------------------------------------------------

// Where optimizer step `step` of a task of `steps` steps and `epochs` epochs falls: epoch e spans
// steps [ceil(e·S/E), ceil((e+1)·S/E)) (epochs capped at S, so none is empty). Steps past `steps`
// continue in further epochs of the last one's length.
struct EpochPosition {
  int64_t epoch = 0;
  int64_t step = 0;   // 0-based within the epoch (s)
  int64_t steps = 1;  // the epoch's length (R)
};
EpochPosition epoch_position(int64_t step, int64_t steps, int64_t epochs);

// ---- the method ------------------------------------------------------------------------------------

enum class TreeLoraMode { Paper, Reference };

}  // namespace retain::method

namespace retain::config {
template <>
struct Words<method::TreeLoraMode> {
  static constexpr std::pair<method::TreeLoraMode, std::string_view> list[] = {
      {method::TreeLoraMode::Paper, "paper"}, {method::TreeLoraMode::Reference, "reference"}};
};
}  // namespace retain::config

namespace retain::method {

struct TreeLoraSettings {
  TreeLoraMode mode = TreeLoraMode::Paper;
  double reg = 0.5;             // the regulariser's weight (reference: its end-of-epoch value)
  double sparsity = 0.5;        // paper: the fraction of depths that keep their gradients
  double lcb_scale = 2;         // paper: c in the LCB
  bool keep_optimizer = false;  // one AdamW for the stream (default: reference mode, as its code)
};

class TreeLora : public LoraMethod {
 public:
  TreeLora(LoraSettings settings, TreeLoraSettings tree_settings)
      : LoraMethod(std::move(settings)), tree_settings_(tree_settings) {}
  std::string name() const override { return "treelora"; }
  bool keeps_optimizer() const override { return tree_settings_.keep_optimizer; }
  void begin_task(model::Model& model, const TaskContext& task) override;
  torch::Tensor penalty(model::Model& model, const model::Batch& batch, const model::Output& out) override;
  void after_backward(model::Model& model) override;
  void after_step(model::Model& model) override;
  void end_task(model::Model& model, const TaskContext& task) override;

  const TaskTree& tree() const { return tree_; }
  const Bandit& bandit() const { return bandit_; }
  // summaries()[τ][d]: task τ's summary at depth d, [r·in] float.
  const std::vector<std::vector<torch::Tensor>>& summaries() const { return summaries_; }
  // The step being taken (once decided): k_d, the distances it measured per depth (paper:
  // dist_{k_d}[d]; reference: ‖ḡ[d] − summary_{k_d}[d]‖₁) and the depths that keep their gradients.
  const std::vector<int64_t>& chosen() const { return chosen_; }
  const std::vector<double>& distances() const { return distances_; }
  const std::vector<int64_t>& kept_depths() const { return kept_; }
  // The reference regulariser's weight reg·s/R at the current step.
  double reference_weight() const;

 protected:
  void state_extra(MethodState& state) const override;
  void load_state_extra(const MethodState& state) override;

 private:
  // The trained adapter's A of every depth, flattened to [r·in], in the autograd graph.
  std::vector<torch::Tensor> adapter_A();
  nn::LoraAdapter& adapter_at(int64_t depth);
  // Decides the current step (see the header comment); does nothing the second time.
  void prepare_step();
  EpochPosition position() const { return epoch_position(step_, task_steps_, task_epochs_); }

  TreeLoraSettings tree_settings_;
  // The task being trained and its clock (kept in the state: a resumed task calls no begin_task).
  int64_t task_ = 0, task_steps_ = 1, task_epochs_ = 1;
  int64_t step_ = 0;  // optimizer steps taken in this task
  uint64_t seed_ = 0;
  std::vector<std::vector<torch::Tensor>> summaries_;
  TaskTree tree_;
  Bandit bandit_;
  std::vector<torch::Tensor> running_sum_;  // per depth, this epoch so far (paper: Σ A_d; reference: ḡ)
  int64_t running_count_ = 0;               // steps in running_sum_
  // The current step's decisions (not state: a checkpoint is taken between steps).
  int64_t prepared_step_ = -1;
  std::vector<int64_t> chosen_, kept_;
  std::vector<double> distances_;
};

// Options: rank, alpha, targets (as every LoRA method), mode = "paper" | "reference" (paper),
// reg (0.5), and in paper mode sparsity (0.5, in (0, 1]) and lcb_scale (2).
std::unique_ptr<Method> treelora_create(config::Options& options);

}  // namespace retain::method
