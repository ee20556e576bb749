// ewc.cpp - EWC (see ewc.h).
#include "method/ewc.h"

#include "error.h"

namespace retain::method {

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
  return total.defined() ? total * (lambda_ / 2) : total;
}

void Ewc::end_task(model::Model& model, const TaskContext& task) {
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
      fisher_batches_);
  torch::NoGradGuard no_grad;
  for (auto& [name, sum] : sums) {
    sum /= static_cast<double>(std::max<int64_t>(1, batches));
    auto it = fisher_.find(name);
    if (it == fisher_.end()) {
      fisher_[name] = sum;
    } else {
      it->second += sum;
    }
  }
  for (const auto& item : params) {
    if (sums.count(item.key()) != 0) anchor_[item.key()] = item.value().detach().to(torch::kFloat).clone();
  }
}

MethodState Ewc::state() const {
  MethodState state;
  for (const auto& [name, f] : fisher_) {
    state.tensors["fisher/" + name] = f.cpu().contiguous();
    state.tensors["anchor/" + name] = anchor_.at(name).cpu().contiguous();
  }
  return state;
}

void Ewc::load_state(const MethodState& state) {
  fisher_.clear();
  anchor_.clear();
  for (const auto& [key, tensor] : state.tensors) {
    const auto slash = key.find('/');
    if (slash == std::string::npos) continue;
    auto& target = key.substr(0, slash) == "fisher" ? fisher_ : anchor_;
    target[key.substr(slash + 1)] = tensor.clone();
  }
}

std::unique_ptr<Method> ewc_create(config::Options& options) {
  const double lambda = options.get_double("lambda", 400);  // TRACE's EWC
  const int64_t fisher_batches = options.get_int("fisher_batches", 0);
  if (!(lambda >= 0)) fail("method", "ewc: lambda must not be negative, got ", lambda);
  if (fisher_batches < 0) fail("method", "ewc: fisher_batches must be >= 0 (0 = every batch)");
  options.reject_unused("ewc");
  return std::make_unique<Ewc>(lambda, fisher_batches);
}

}  // namespace retain::method
