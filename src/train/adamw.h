// adamw.h - AdamW with parameter groups, computing exactly what torch.optim.AdamW computes
// (decoupled weight decay, bias-corrected moments, per-parameter step counts), with its state
// under the parameters' names so a checkpoint restores it bit for bit.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "method/method.h"

namespace retain::train {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

class AdamW {
 public:
  AdamW(std::vector<method::ParamGroup> groups, AdamWOptions options);

  // One update of every parameter that has a gradient, at learning rate `lr` (times the group's scale).
  void step(double lr);
  void zero_grad();
  const std::vector<method::ParamGroup>& groups() const { return groups_; }

  // exp_avg.<name>, exp_avg_sq.<name> and step.<name> (a float64 scalar), for the checkpoint.
  io::TensorMap state() const;
  // Restores state(); every parameter that had state must be present, with the same shape.
  void load_state(const io::TensorMap& tensors, const std::string& source);

 private:
  struct Moments {
    torch::Tensor exp_avg, exp_avg_sq;
    double step = 0;
  };
  std::vector<method::ParamGroup> groups_;
  AdamWOptions options_;
  std::map<std::string, Moments> state_;
};

// The global L2 norm of the gradients of `groups`, after scaling them to at most `max_norm`
// (torch.nn.utils.clip_grad_norm_); returns the norm before clipping.
double clip_grad_norm(const std::vector<method::ParamGroup>& groups, double max_norm);

}  // namespace retain::train
