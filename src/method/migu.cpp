// migu.cpp - MIGU (see migu.h).
#include "method/migu.h"

#include "error.h"

namespace retain::method {

std::string Migu::name() const { return inner().name() == "seqft" ? "migu" : "migu+" + inner().name(); }

void Migu::attach(model::Model& model) {
  ForwardingMethod::attach(model);
  layers_ = model.linear_layers();
}

void Migu::observe() {
  stop_observing();
  for (auto& [layer_name, layer] : layers_) {
    LayerStats stats{layer, {}, {}};
    bool trains = layer->weight.requires_grad();
    for (const auto& adapter : layer->adapters()) {
      if (adapter.B.requires_grad()) trains = true;
      if (adapter.A.requires_grad())
        stats.lora[adapter.name] = torch::zeros({adapter.A.size(0)}, adapter.A.options().dtype(torch::kFloat));
    }
    if (!trains) continue;
    stats.output = torch::zeros({layer->options().out_features}, layer->weight.options().dtype(torch::kFloat));
    stats_.push_back(std::move(stats));
  }
  for (size_t i = 0; i < stats_.size(); ++i) {
    stats_[i].layer->observer_set([this, i](const torch::Tensor& x, const torch::Tensor& y) {
      auto& stats = stats_[i];
      const auto out = stats.output.size(0);
      // Σ_tokens |y| in one pass (no |y| temporary: the LM head's output is tokens × vocabulary).
      stats.output += torch::linalg_vector_norm(y.reshape({-1, out}), 1, {0}, false, torch::kFloat);
      for (auto& [adapter_name, sums] : stats.lora) {
        const auto* adapter = stats.layer->adapter_find(adapter_name);
        auto xa = torch::matmul(x.to(adapter->A.scalar_type()), adapter->A.t());
        sums += xa.abs().reshape({-1, sums.size(0)}).sum(0, false, torch::kFloat);
      }
    });
  }
}

void Migu::stop_observing() {
  for (auto& stats : stats_) stats.layer->observer_clear();
  stats_.clear();
}

torch::Tensor Migu::keep_mask(const torch::Tensor& magnitudes) const {
  const auto cut = torch::quantile(magnitudes, threshold_);
  return magnitudes >= cut;
}

void Migu::begin_task(model::Model& model, const TaskContext& task) {
  stop_observing();
  ForwardingMethod::begin_task(model, task);
  masking_ = task.index >= 1;
  if (masking_) observe();
}

std::vector<torch::Tensor> Migu::step_statistics() {
  auto tensors = ForwardingMethod::step_statistics();
  for (auto& stats : stats_) {
    tensors.push_back(stats.output);
    for (auto& [adapter_name, sums] : stats.lora) tensors.push_back(sums);
  }
  return tensors;
}

void Migu::after_backward(model::Model& model) {
  ForwardingMethod::after_backward(model);
  if (!masking_) return;
  torch::NoGradGuard no_grad;
  for (auto& stats : stats_) {
    auto& layer = *stats.layer;
    const auto rows = keep_mask(stats.output);
    auto& weight_grad = layer.weight.mutable_grad();
    if (layer.weight.requires_grad() && weight_grad.defined()) {
      const auto mask = rows.to(weight_grad.scalar_type());
      weight_grad.mul_(layer.options().fan_in_fan_out ? mask.unsqueeze(0) : mask.unsqueeze(1));
    }
    for (auto& adapter : layer.adapters()) {
      auto& grad_B = adapter.B.mutable_grad();
      if (adapter.B.requires_grad() && grad_B.defined()) grad_B.mul_(rows.to(grad_B.scalar_type()).unsqueeze(1));
      auto it = stats.lora.find(adapter.name);
      auto& grad_A = adapter.A.mutable_grad();
      if (it != stats.lora.end() && grad_A.defined())
        grad_A.mul_(keep_mask(it->second).to(grad_A.scalar_type()).unsqueeze(1));
    }
    stats.output.zero_();
    for (auto& [adapter_name, sums] : stats.lora) sums.zero_();
  }
}

void Migu::end_task(model::Model& model, const TaskContext& task) {
  stop_observing();
  ForwardingMethod::end_task(model, task);
}

MethodState Migu::state() const {
  auto state = ForwardingMethod::state();
  state.meta["migu_masking"] = masking_;
  return state;
}

void Migu::load_state(const MethodState& state) {
  ForwardingMethod::load_state(state);
  masking_ = state.meta.value("migu_masking", false);
  if (masking_) observe();
}

std::unique_ptr<Method> migu_create(config::Options& options) {
  // T = the fraction of each layer's output rows whose gradient is zeroed (0.7 in the paper for
  // full fine-tuning and LoRA; it recommends less on top of replay or O-LoRA).
  const double threshold = options.get_double("threshold", 0.7);
  const auto on = options.get_string("on", "seqft");
  if (!(threshold >= 0 && threshold < 1)) fail("method", "migu: threshold must be in [0, 1), got ", threshold);
  if (on == "migu") fail("method", "migu: 'on' names the method MIGU masks; it cannot be migu itself");
  // OSFT projects the masked gradient and the weight onto the complement of its frozen subspace,
  // which mixes the rows MIGU zeroed; a row-sparse update in that subspace is another method.
  if (on == "osft") {
    fail("method", "migu: on = \"osft\" cannot keep both: OSFT's projections change the rows MIGU's mask keeps fixed");
  }
  return std::make_unique<Migu>(method_create(on, options), threshold);
}

}  // namespace retain::method
