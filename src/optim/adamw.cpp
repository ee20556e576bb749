// adamw.cpp - see adamw.h. The update follows torch/optim/adamw.py (_single_tensor_adamw) line by line;
// contiguous float32 CPU parameters go through the same formula in one pass over memory instead
// (optim/adamw-cpu.h).
#include "optim/adamw.h"

#include <cmath>
#include <set>
#include <string>

#include "error.h"
#include "optim/adamw-cpu.h"

namespace retain::optim {

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions options) : groups_(std::move(groups)), options_(options) {}

void AdamW::zero_grad() {
  for (auto& group : groups_) {
    for (auto& p : group.params) {
      if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
    }
  }
}

std::vector<torch::Tensor> AdamW::params() const {
  std::vector<torch::Tensor> out;
  for (const auto& group : groups_) out.insert(out.end(), group.params.begin(), group.params.end());
  return out;
}

std::vector<std::string> AdamW::names() const {
  std::vector<std::string> out;
  for (const auto& group : groups_) out.insert(out.end(), group.names.begin(), group.names.end());
  return out;
}

void AdamW::shard(std::vector<int64_t> owners, int64_t rank) {
  TORCH_CHECK(owners.empty() || owners.size() == params().size(), "AdamW::shard: one owner per parameter");
  owners_ = std::move(owners);
  rank_ = rank;
  const auto all = names();
  for (size_t i = 0; i < all.size(); ++i) {
    if (!owns(i)) state_.erase(all[i]);
  }
}

AdamW::Moments AdamW::moments(const std::string& name) const {
  auto it = state_.find(name);
  return it == state_.end() ? Moments{} : it->second;
}

void AdamW::step(double lr) {
  torch::NoGradGuard no_grad;
  size_t flat = 0;
  for (auto& group : groups_) {
    const double group_lr = lr * group.lr_scale;
    std::vector<torch::Tensor> fused_params, fused_grads, fused_exp_avgs, fused_exp_avg_sqs;
    std::vector<double> fused_steps;
    for (size_t i = 0; i < group.params.size(); ++i, ++flat) {
      auto& p = group.params[i];
      if (!owns(flat) || !p.grad().defined()) continue;
      const auto grad = p.grad();
      if (group.sgd) {
        p.add_(grad, -group_lr);
        continue;
      }
      auto& m = state_[group.names[i]];
      if (!m.exp_avg.defined()) {
        m.exp_avg = torch::zeros_like(p, torch::MemoryFormat::Preserve);
        m.exp_avg_sq = torch::zeros_like(p, torch::MemoryFormat::Preserve);
      }
      m.step += 1;
      if (p.device().is_cpu() && p.scalar_type() == torch::kFloat && p.is_contiguous() &&
          grad.scalar_type() == torch::kFloat && grad.is_contiguous()) {
        fused_params.push_back(p);
        fused_grads.push_back(grad);
        fused_exp_avgs.push_back(m.exp_avg);
        fused_exp_avg_sqs.push_back(m.exp_avg_sq);
        fused_steps.push_back(m.step);
        continue;
      }
      step_one(p, grad, m, group_lr, group.weight_decay);
    }
    if (!fused_params.empty()) {
      adamw_update_cpu(fused_params, fused_grads, fused_exp_avgs, fused_exp_avg_sqs, fused_steps,
                       {group_lr, options_.beta1, options_.beta2, options_.eps, group.weight_decay});
    }
  }
}

void AdamW::step_one(torch::Tensor& p, const torch::Tensor& grad, const Moments& m, double lr,
                     double weight_decay) const {
  const double b1 = options_.beta1, b2 = options_.beta2;
  p.mul_(1 - lr * weight_decay);
  m.exp_avg.lerp_(grad, 1 - b1);
  m.exp_avg_sq.mul_(b2).addcmul_(grad, grad, 1 - b2);
  const double bias_correction1 = 1 - std::pow(b1, m.step);
  const double bias_correction2 = 1 - std::pow(b2, m.step);
  const double step_size = lr / bias_correction1;
  auto denom = (m.exp_avg_sq.sqrt() / std::sqrt(bias_correction2)).add_(options_.eps);
  p.addcdiv_(m.exp_avg, denom, -step_size);
}

io::TensorMap AdamW::state() const {
  io::TensorMap out;
  for (const auto& [name, m] : state_) {
    out.emplace("exp_avg." + name, m.exp_avg.detach().cpu().contiguous());
    out.emplace("exp_avg_sq." + name, m.exp_avg_sq.detach().cpu().contiguous());
    out.emplace("step." + name, torch::tensor(m.step, torch::kFloat64));
  }
  return out;
}

void AdamW::load_state(const io::TensorMap& tensors, const std::string& source) {
  // Every entry belongs to a parameter of this optimizer, each with its step and both moments: a
  // renamed or missing entry would otherwise restart that parameter's moments without a word.
  std::set<std::string> names;
  for (const auto& group : groups_) names.insert(group.names.begin(), group.names.end());
  auto name_of = [](const std::string& key) {
    const auto dot = key.find('.');
    return dot == std::string::npos ? std::string() : key.substr(dot + 1);
  };
  for (const auto& entry : tensors) {
    const auto& key = entry.first;
    const auto name = name_of(key);
    if (!names.count(name) ||
        (key.rfind("step.", 0) != 0 && key.rfind("exp_avg.", 0) != 0 && key.rfind("exp_avg_sq.", 0) != 0)) {
      fail("checkpoint", source, ": optimizer state has '", key,
           "', which is not the state of a parameter trained here");
    }
  }
  for (const auto& entry : tensors) {
    const auto name = name_of(entry.first);
    for (const char* kind : {"step.", "exp_avg.", "exp_avg_sq."}) {
      if (!tensors.count(kind + name)) {
        fail("checkpoint", source, ": optimizer state has '", entry.first, "' but no '", kind, name, "'");
      }
    }
  }
  state_.clear();
  size_t flat = 0;
  for (const auto& group : groups_) {
    for (size_t i = 0; i < group.params.size(); ++i, ++flat) {
      if (!owns(flat)) continue;
      const auto& name = group.names[i];
      auto step = tensors.find("step." + name);
      if (step == tensors.end()) continue;  // never updated yet
      const auto& p = group.params[i];
      Moments m;
      m.step = step->second.item<double>();
      for (auto [key, target] : {std::pair<const char*, torch::Tensor*>{"exp_avg.", &m.exp_avg},
                                 std::pair<const char*, torch::Tensor*>{"exp_avg_sq.", &m.exp_avg_sq}}) {
        auto it = tensors.find(key + name);
        if (it->second.sizes() != p.sizes()) {
          fail("checkpoint", source, ": optimizer state '", key, name, "' has the wrong shape");
        }
        *target = it->second.to(p.options()).clone();
      }
      state_.emplace(name, std::move(m));
    }
  }
}

double clip_grad_norm(const std::vector<ParamGroup>& groups, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> norms;
  for (const auto& group : groups) {
    if (group.sgd) continue;
    for (const auto& p : group.params) {
      if (p.grad().defined()) norms.push_back(p.grad().detach().to(torch::kFloat).norm());
    }
  }
  if (norms.empty()) return 0;
  const double total = torch::stack(norms).norm().item<double>();
  if (max_norm > 0) {
    // torch: clip_coef = max_norm / (total_norm + 1e-6), clamped to 1.
    const double coef = std::min(1.0, max_norm / (total + 1e-6));
    if (coef < 1) {
      for (const auto& group : groups) {
        if (group.sgd) continue;
        for (const auto& p : group.params) {
          if (p.grad().defined()) p.grad().mul_(coef);
        }
      }
    }
  }
  return total;
}

}  // namespace retain::optim
