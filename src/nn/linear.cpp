#include "nn/linear.h"

#include <algorithm>

namespace retain::nn {

LinearImpl::LinearImpl(const LinearOptions& options, const torch::TensorOptions& tensor_options) : options_(options) {
  auto shape = options.fan_in_fan_out ? std::vector<int64_t>{options.in_features, options.out_features}
                                      : std::vector<int64_t>{options.out_features, options.in_features};
  weight = register_parameter("weight", torch::zeros(shape, tensor_options));
  if (options.bias) bias = register_parameter("bias", torch::zeros({options.out_features}, tensor_options));
}

torch::Tensor LinearImpl::forward(const torch::Tensor& x) {
  auto y = options_.fan_in_fan_out ? torch::matmul(x, weight) : torch::matmul(x, weight.t());
  if (bias.defined()) y = y + bias;
  for (const auto& adapter : adapters_) {
    if (!adapter.active || adapter.merged) continue;
    auto xa = x.to(adapter.A.scalar_type());
    if (adapter.dropout > 0 && is_training()) xa = torch::dropout(xa, adapter.dropout, true);
    auto h = torch::matmul(xa, adapter.A.t());
    if (adapter.middle.defined()) h = h * adapter.middle;
    auto delta = torch::matmul(h, adapter.B.t()) * adapter.scale;
    if (adapter.score.defined()) {
      // A closed gate adds nothing; its matmuls run only when the score needs their gradient.
      const bool score_learns = torch::GradMode::is_enabled() && adapter.score.requires_grad();
      if (!score_learns && !adapter_gate_open(adapter)) continue;
      delta = delta * adapter_gate(adapter);
    }
    y = y + delta.to(y.scalar_type());
  }
  if (observer_) {
    torch::NoGradGuard no_grad;
    observer_(x.detach(), y.detach());
  }
  return y;
}

bool adapter_gate_open(const LoraAdapter& adapter) {
  return !adapter.score.defined() || adapter.score.item<double>() >= adapter.threshold;
}

torch::Tensor adapter_gate(const LoraAdapter& adapter) {
  if (!adapter.score.defined()) return torch::ones({}, adapter.A.options());
  auto indicator = adapter.score.ge(adapter.threshold).to(adapter.score.scalar_type());
  // score − score.detach() is exactly 0 in value and 1 in derivative, so g is exactly 0 or 1.
  return indicator + (adapter.score - adapter.score.detach());
}

void LinearImpl::observer_set(LinearObserver observer) {
  TORCH_CHECK(!observer_, "this linear layer already has an observer; clear it first");
  observer_ = std::move(observer);
}

void LinearImpl::tie_weight(const torch::Tensor& shared) {
  TORCH_CHECK(shared.sizes() == weight.sizes(), "tie_weight: shape ", shared.sizes(), " != ", weight.sizes());
  parameters_.erase("weight");
  weight = shared;
  tied_ = true;
}

torch::Tensor LinearImpl::weight_out_in() const { return options_.fan_in_fan_out ? weight.t() : weight; }

LoraAdapter& LinearImpl::adapter_add(const std::string& name, torch::Tensor A, torch::Tensor B, double scale) {
  TORCH_CHECK(adapter_find(name) == nullptr, "adapter '", name, "' already exists on this layer");
  TORCH_CHECK(A.dim() == 2 && B.dim() == 2 && A.size(0) == B.size(1), "adapter '", name,
              "': A must be [r, in] and B [out, r], got ", A.sizes(), " and ", B.sizes());
  TORCH_CHECK(A.size(1) == options_.in_features && B.size(0) == options_.out_features, "adapter '", name, "': shapes ",
              A.sizes(), " and ", B.sizes(), " do not fit a linear layer of ", options_.in_features, " -> ",
              options_.out_features);
  LoraAdapter adapter;
  adapter.name = name;
  adapter.A = std::move(A);
  adapter.B = std::move(B);
  adapter.scale = scale;
  adapters_.push_back(std::move(adapter));
  return adapters_.back();
}

LoraAdapter* LinearImpl::adapter_find(const std::string& name) {
  for (auto& adapter : adapters_) {
    if (adapter.name == name) return &adapter;
  }
  return nullptr;
}

LoraAdapter& LinearImpl::adapter_at(const std::string& name) {
  auto* adapter = adapter_find(name);
  TORCH_CHECK(adapter != nullptr, "no adapter '", name, "' on this layer");
  return *adapter;
}

void LinearImpl::adapter_remove(const std::string& name) {
  adapter_at(name);
  adapters_.erase(
      std::remove_if(adapters_.begin(), adapters_.end(), [&](const LoraAdapter& a) { return a.name == name; }),
      adapters_.end());
}

torch::Tensor LinearImpl::adapter_delta(const LoraAdapter& adapter) const {
  // In fp32 whatever the storage dtype, so merge followed by subtract returns W up to one rounding.
  auto B = adapter.B.to(torch::kFloat);
  if (adapter.middle.defined()) B = B * adapter.middle.to(torch::kFloat);
  auto delta = torch::matmul(B, adapter.A.to(torch::kFloat)) * adapter.scale;
  return options_.fan_in_fan_out ? delta.t() : delta;
}

void LinearImpl::weight_add(const torch::Tensor& delta, double sign) {
  // A tied weight is also the token embedding: changing it here would change the model's input too.
  TORCH_CHECK(!tied_, "cannot merge an adapter into a weight tied to the embeddings; keep it unmerged");
  torch::NoGradGuard no_grad;
  weight.copy_(weight.to(torch::kFloat) + sign * delta.to(weight.device()));
}

void LinearImpl::adapter_merge(const std::string& name) {
  auto& adapter = adapter_at(name);
  TORCH_CHECK(!adapter.merged, "adapter '", name, "' is already merged");
  weight_add(adapter_delta(adapter), +1);
  adapter.merged = true;
}

void LinearImpl::adapter_unmerge(const std::string& name) {
  auto& adapter = adapter_at(name);
  TORCH_CHECK(adapter.merged, "adapter '", name, "' is not merged");
  weight_add(adapter_delta(adapter), -1);
  adapter.merged = false;
}

void LinearImpl::adapter_subtract(const std::string& name) {
  auto& adapter = adapter_at(name);
  TORCH_CHECK(!adapter.merged, "adapter '", name, "' is merged: unmerge it instead");
  weight_add(adapter_delta(adapter), -1);
}

}  // namespace retain::nn
