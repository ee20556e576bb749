// adamw.h - AdamW with parameter groups, computing exactly what torch.optim.AdamW computes
// (decoupled weight decay, bias-corrected moments, per-parameter step counts), with its state
// under the parameters' names so a checkpoint restores it bit for bit.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "optim/param-group.h"

namespace retain::optim {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

class AdamW {
 public:
  AdamW(std::vector<ParamGroup> groups, AdamWOptions options);

  // One update of every parameter that has a gradient, at learning rate `lr` (times the group's scale);
  // a group marked `sgd` takes a plain SGD step instead and has no state.
  void step(double lr);
  void zero_grad();
  const std::vector<ParamGroup>& groups() const { return groups_; }
  // Every parameter of the groups in order, and its name; `flat index` below counts in this order.
  std::vector<torch::Tensor> params() const;
  std::vector<std::string> names() const;

  // ZeRO-1 (dist/zero.h): this optimizer keeps moments for, and updates, only the parameters whose
  // owner is `rank`; the others are set from their owners after each step. Empty = owns all.
  void shard(std::vector<int64_t> owners, int64_t rank);
  const std::vector<int64_t>& owners() const { return owners_; }
  bool owns(size_t flat_index) const { return owners_.empty() || owners_[flat_index] == rank_; }
  struct Moments {
    torch::Tensor exp_avg, exp_avg_sq;
    double step = 0;
  };
  // The moments of one parameter (undefined tensors and step 0 when it has none here).
  Moments moments(const std::string& name) const;

  // exp_avg.<name>, exp_avg_sq.<name> and step.<name> (a float64 scalar), for the checkpoint.
  io::TensorMap state() const;
  // Restores state(); every parameter that had state must be present, with the same shape. A
  // sharded optimizer takes the entries of the parameters it owns and ignores the others.
  void load_state(const io::TensorMap& tensors, const std::string& source);

 private:
  // The update of one parameter operator by operator (its step count already incremented).
  void step_one(torch::Tensor& p, const torch::Tensor& grad, const Moments& m, double lr, double weight_decay) const;

  std::vector<ParamGroup> groups_;
  AdamWOptions options_;
  std::map<std::string, Moments> state_;
  std::vector<int64_t> owners_;
  int64_t rank_ = 0;
};

// The global L2 norm of the gradients of `groups`, after scaling them to at most `max_norm`
// (torch.nn.utils.clip_grad_norm_); returns the norm before clipping. SGD groups are left out: their
// step is meant to be proportional to their own gradient (Selective LoRA's gate scores).
double clip_grad_norm(const std::vector<ParamGroup>& groups, double max_norm);

}  // namespace retain::optim
