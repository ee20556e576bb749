// lora-minus.cpp - LoRA⁻ (see lora-minus.h).
#include "method/lora-minus.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "compat.h"
#include "data/shuffle.h"
#include "error.h"

namespace retain::method {

namespace {

// Euclidean distances [n, m] between the rows of a and b, clamped at 1e-12 before the root.
torch::Tensor distances(const torch::Tensor& a, const torch::Tensor& b) {
  auto squared = a.pow(2).sum(1, true) + b.pow(2).sum(1).unsqueeze(0) - 2 * torch::matmul(a, b.t());
  return squared.clamp_min(1e-12).sqrt();
}

}  // namespace

torch::Tensor augmented_triplet_loss(const torch::Tensor& f, const torch::Tensor& labels,
                                     const torch::Tensor& prototypes, double margin) {
  const auto inf = std::numeric_limits<float>::infinity();
  auto d = distances(f, f);
  auto same = labels.unsqueeze(1).eq(labels.unsqueeze(0));
  auto d_ap = d.masked_fill(same.logical_not(), -inf).amax(1);
  auto d_an = d.masked_fill(same, inf).amin(1);
  if (prototypes.defined() && prototypes.size(0) > 0) {
    d_an = torch::minimum(d_an, distances(f, prototypes.to(f.dtype())).amin(1));
  }
  d_an = torch::where(torch::isinf(d_an), d_ap + margin, d_an);
  return (d_ap - d_an + margin).clamp_min(0).mean();
}

void LoraMinus::attach(model::Model& model) {
  if (settings_.targets.empty()) settings_.targets = lora_key_value_targets(model);
  LoraMethod::attach(model);
}

std::vector<ParamGroup> LoraMinus::trainable(model::Model& model, double weight_decay) {
  auto groups = LoraMethod::trainable(model, weight_decay);
  for (auto& group : groups) {
    if (!group.names.empty() && model.is_classifier_head_parameter(group.names.front()))
      group.lr_scale = minus_.head_lr_scale;
  }
  return groups;
}

std::map<std::string, torch::Tensor> LoraMinus::subtracted_second_moments(model::Model& model,
                                                                          const TaskContext& task) {
  // Flip every earlier adapter to −ΔW and switch the new one off, then restore both exactly.
  for (auto& [layer_name, layer] : layers_) {
    for (auto& adapter : layer->adapters()) {
      if (adapter.name == trainable_)
        adapter.active = false;
      else
        adapter.scale = -adapter.scale;
    }
  }
  auto moments = input_second_moments(model, task, minus_.calibration_batches);
  for (auto& [layer_name, layer] : layers_) {
    for (auto& adapter : layer->adapters()) {
      if (adapter.name == trainable_)
        adapter.active = true;
      else
        adapter.scale = -adapter.scale;
    }
  }
  return moments;
}

void LoraMinus::begin_task(model::Model& model, const TaskContext& task) {
  const bool images = model.kind() == model::ModelKind::ImageClassifier;
  if (images && !prototypes_) {
    fail("method",
         "lora-minus: image streams need [train] head = \"prototype\" (it predicts by the nearest class "
         "mean)");
  }
  const auto prototypes = prototypes_ ? prototypes_() : torch::Tensor();
  old_prototypes_ = prototypes.defined() ? prototypes.clone() : torch::Tensor();
  const auto name = task.name;
  const auto seed = data::derive_seed(task.seed, "lora-minus " + name);
  adapter_add_everywhere(name, [&](const std::string& layer_name, nn::LinearImpl& layer) {
    return kaiming_uniform_A(layer_name, layer, seed);
  });
  // torch.nn.init.sparse_(B, 1 − 1/out, std 0.01): one N(0, 0.01²) entry per column, at a random row.
  for (auto& [layer_name, layer] : layers_) {
    auto& B = layer->adapter_find(name)->B;
    auto generator = at::detail::createCPUGenerator(data::derive_seed(seed, layer_name + " B"));
    auto rows = at::randint(B.size(0), {B.size(1)}, generator, torch::TensorOptions(torch::kLong));
    auto values = at::normal(0.0, 0.01, {B.size(1)}, generator);
    torch::NoGradGuard no_grad;
    B.zero_();
    const auto columns = torch::arange(B.size(1), torch::TensorOptions(torch::kLong));
    B.index_put_({rows.to(B.device()), columns.to(B.device())}, values.to(B.options()));
  }
  projectors_.clear();
  if (adapter_names_.size() < 2) return;  // task 0: plain Adam
  auto moments = subtracted_second_moments(model, task);
  for (auto& [layer_name, layer] : layers_) {
    const auto& C = moments.at(layer_name);
    auto [values, vectors] = compat::eigh_descending(C);
    auto energy = values.clamp_min(0).cumsum(0);
    const double total = energy[-1].item<double>();
    int64_t m = 1;
    if (total > 0) {
      while (m < values.size(0) && energy[m - 1].item<double>() / total < minus_.energy) ++m;
    }
    auto P = vectors.narrow(1, 0, m);
    auto T = torch::matmul(P, P.t());
    if (minus_.projector_scaling == ProjectorScaling::SqrtM) T = T / T.norm();
    projectors_[layer_name] = T;
  }
}

torch::Tensor LoraMinus::projector(const std::string& layer_name) const {
  auto it = projectors_.find(layer_name);
  return it == projectors_.end() ? torch::Tensor() : it->second;
}

torch::Tensor LoraMinus::penalty(model::Model& /*model*/, const model::Batch& batch, const model::Output& out) {
  if (minus_.atl_weight == 0 || !out.features.defined() || !batch.labels.defined()) return {};
  auto f = out.features.to(torch::kFloat);
  f = f / (f.norm(2, 1, true) + 1e-12);
  return augmented_triplet_loss(f, batch.labels.to(f.device()),
                                old_prototypes_.defined() ? old_prototypes_.to(f.device()) : old_prototypes_,
                                minus_.margin) *
         minus_.atl_weight;
}

void LoraMinus::before_step(model::Model& /*model*/) {
  before_.clear();
  if (projectors_.empty()) return;
  for (auto& [layer_name, layer] : layers_) {
    auto* adapter = layer->adapter_find(trainable_);
    if (adapter != nullptr) before_[layer_name] = {adapter->A.detach().clone(), adapter->B.detach().clone()};
  }
}

void LoraMinus::after_step(model::Model& /*model*/) {
  if (before_.empty()) return;
  torch::NoGradGuard no_grad;
  for (auto& [layer_name, layer] : layers_) {
    auto it = before_.find(layer_name);
    if (it == before_.end()) continue;
    auto* adapter = layer->adapter_find(trainable_);
    const auto& T = projectors_.at(layer_name);
    const auto& [A0, B0] = it->second;
    adapter->A.copy_(A0 + torch::matmul(adapter->A - A0, T));
    if (T.size(0) == adapter->B.size(0)) adapter->B.copy_(B0 + torch::matmul(T, adapter->B - B0));
  }
  before_.clear();
}

void LoraMinus::state_extra(MethodState& state) const {
  for (const auto& [layer_name, T] : projectors_) state.tensors["projector/" + layer_name] = T.cpu().contiguous();
  if (old_prototypes_.defined()) state.tensors["old_prototypes"] = old_prototypes_.cpu().contiguous();
}

void LoraMinus::load_state_extra(const MethodState& state) {
  projectors_.clear();
  for (auto& [layer_name, layer] : layers_) {
    auto it = state.tensors.find("projector/" + layer_name);
    if (it != state.tensors.end()) projectors_[layer_name] = it->second.to(layer->weight.device()).clone();
  }
  auto it = state.tensors.find("old_prototypes");
  old_prototypes_ = it == state.tensors.end() ? torch::Tensor() : it->second.clone();
}

std::unique_ptr<Method> lora_minus_create(config::Options& options) {
  // rank 10 and ΔW = B·A unscaled (alpha = rank), as the official configs.
  LoraSettings defaults;
  defaults.rank = 10;
  defaults.alpha = 10;
  auto lora = lora_settings_read(options, "lora-minus", defaults);
  LoraMinusSettings settings;
  settings.energy = options.get_double("energy", settings.energy);
  settings.atl_weight = options.get_double("atl_weight", settings.atl_weight);
  settings.margin = options.get_double("margin", settings.margin);
  settings.projector_scaling = options.get_word("projector_scaling", settings.projector_scaling);
  settings.calibration_batches = options.get_int("calibration_batches", 0);
  settings.head_lr_scale = options.get_double("head_lr_scale", settings.head_lr_scale);
  if (!(settings.head_lr_scale > 0))
    fail("method", "lora-minus: head_lr_scale must be > 0, got ", settings.head_lr_scale);
  if (!(settings.energy > 0 && settings.energy <= 1))
    fail("method", "lora-minus: energy must be in (0, 1], got ", settings.energy);
  if (!(settings.atl_weight >= 0)) fail("method", "lora-minus: atl_weight must be >= 0");
  if (!(settings.margin >= 0)) fail("method", "lora-minus: margin must be >= 0");
  if (settings.calibration_batches < 0) fail("method", "lora-minus: calibration_batches must be >= 0 (0 = all)");
  options.reject_unused("lora-minus");
  return std::make_unique<LoraMinus>(std::move(lora), settings);
}

}  // namespace retain::method
