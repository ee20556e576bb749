// ewc.cpp - EWC (see ewc.h).
#include "method/ewc.h"

#include "error.h"

namespace retain::method {

void Ewc::begin_task(model::Model& /*model*/, const TaskContext& task) {
  running_.clear();
  const auto epochs = std::max<int64_t>(1, task.epochs);
  steps_per_epoch_ = std::max<int64_t>(1, (task.steps + epochs - 1) / epochs);
}

torch::Tensor Ewc::penalty(model::Model& model, const model::Batch& /*batch*/, const model::Output& /*out*/) {
  if (fisher_.empty()) return {};
  torch::Tensor total;
  for (const auto& item : model.named_parameters()) {
    auto fisher = fisher_.find(item.key());
    if (fisher == fisher_.end()) continue;
    auto& anchor = anchor_.at(item.key());
    if (fisher->second.device() != item.value().device()) {  // loaded from a checkpoint on the CPU
      fisher->second = fisher->second.to(item.value().device());
      anchor = anchor.to(item.value().device());
    }
    auto term = (fisher->second * (item.value().to(torch::kFloat) - anchor).pow(2)).sum();
    total = total.defined() ? total + term : term;
  }
  return total.defined() ? total * (settings_.lambda / 2) : total;
}

void Ewc::after_backward(model::Model& model) {
  if (settings_.fisher != EwcFisher::Trace) return;
  torch::NoGradGuard no_grad;
  for (const auto& item : model.named_parameters()) {
    const auto& grad = item.value().grad();
    if (!item.value().requires_grad() || !grad.defined()) continue;
    auto squared =
        torch::nan_to_num(grad.to(torch::kFloat), 0).clamp(-settings_.grad_clamp, settings_.grad_clamp).pow(2);
    auto it = running_.find(item.key());
    if (it == running_.end()) {
      running_[item.key()] = squared;
    } else {
      it->second += squared;
    }
  }
}

std::map<std::string, torch::Tensor> Ewc::fisher_after_task(model::Model& model, const TaskContext& task) {
  auto params = model.named_parameters();
  std::map<std::string, torch::Tensor> sums;
  for (const auto& item : params) {
    if (item.value().requires_grad()) sums[item.key()] = torch::zeros_like(item.value(), torch::kFloat);
  }
  for (auto& item : params) item.value().mutable_grad() = torch::Tensor();
  int64_t batches = 0;
  task.for_each_batch(
      [&](const model::Batch& batch) {
        model.forward(batch).loss.backward();
        torch::NoGradGuard no_grad;
        for (auto& item : params) {
          auto& grad = item.value().mutable_grad();
          if (!grad.defined()) continue;
          sums.at(item.key()) += grad.to(torch::kFloat).pow(2);
          grad = torch::Tensor();
        }
        ++batches;
      },
      settings_.fisher_batches);
  for (auto& [name, sum] : sums) sum /= static_cast<double>(std::max<int64_t>(1, batches));
  return sums;
}

void Ewc::end_task(model::Model& model, const TaskContext& task) {
  const bool trace = settings_.fisher == EwcFisher::Trace;
  auto task_fisher = trace ? std::move(running_) : fisher_after_task(model, task);
  running_.clear();
  torch::NoGradGuard no_grad;
  for (auto& [name, value] : task_fisher) {
    auto it = fisher_.find(name);
    if (it == fisher_.end()) {
      fisher_[name] = value;
    } else {
      it->second += value;
    }
  }
  if (trace) {
    for (auto& [name, value] : fisher_) value /= static_cast<double>(steps_per_epoch_);
  }
  for (const auto& item : model.named_parameters()) {
    if (fisher_.count(item.key()) != 0) anchor_[item.key()] = item.value().detach().to(torch::kFloat).clone();
  }
}

MethodState Ewc::state() const {
  MethodState state;
  for (const auto& [name, f] : fisher_) {
    state.tensors["fisher/" + name] = f.cpu().contiguous();
    state.tensors["anchor/" + name] = anchor_.at(name).cpu().contiguous();
  }
  for (const auto& [name, sum] : running_) state.tensors["running/" + name] = sum.cpu().contiguous();
  state.meta["steps_per_epoch"] = steps_per_epoch_;  // a resume mid-task skips begin_task
  return state;
}

void Ewc::load_state(const MethodState& state) {
  fisher_.clear();
  anchor_.clear();
  running_.clear();
  for (const auto& [key, tensor] : state.tensors) {
    const auto slash = key.find('/');
    if (slash == std::string::npos) continue;
    const auto kind = key.substr(0, slash);
    auto* target = kind == "fisher" ? &fisher_ : kind == "anchor" ? &anchor_ : kind == "running" ? &running_ : nullptr;
    if (target != nullptr) (*target)[key.substr(slash + 1)] = tensor.clone();
  }
  steps_per_epoch_ = state.meta.value("steps_per_epoch", int64_t{1});
}

std::unique_ptr<Method> ewc_create(config::Options& options) {
  EwcSettings settings;
  settings.lambda = options.get_double("lambda", settings.lambda);
  settings.fisher = options.get_word("fisher", settings.fisher);
  settings.grad_clamp = options.get_double("grad_clamp", settings.grad_clamp);
  settings.fisher_batches = options.get_int("fisher_batches", settings.fisher_batches);
  if (!(settings.lambda >= 0)) fail("method", "ewc: lambda must not be negative, got ", settings.lambda);
  if (!(settings.grad_clamp > 0)) fail("method", "ewc: grad_clamp must be > 0, got ", settings.grad_clamp);
  if (settings.fisher_batches < 0) fail("method", "ewc: fisher_batches must be >= 0 (0 = every batch)");
  options.reject_unused("ewc");
  return std::make_unique<Ewc>(settings);
}

}  // namespace retain::method
