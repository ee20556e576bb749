// lora-family.cpp - the LoRA container the LoRA-based methods share, and SeqLoRA (see lora-family.h).
#include "method/lora-family.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "data/shuffle.h"
#include "error.h"
#include "nn/token-mask.h"

namespace retain::method {

LoraSettings lora_settings_read(config::Options& options, const std::string& method_name,
                                const LoraSettings& defaults) {
  LoraSettings settings;
  settings.targets = options.get_names("targets", "");
  if (settings.targets.empty()) settings.targets = defaults.targets;
  settings.rank = options.get_int("rank", defaults.rank);
  settings.alpha = options.get_double("alpha", defaults.alpha);
  settings.dropout = options.get_double("dropout", defaults.dropout);
  if (settings.rank < 1) fail("method", method_name, ": rank must be at least 1, got ", settings.rank);
  if (!(settings.dropout >= 0 && settings.dropout < 1))
    fail("method", method_name, ": dropout must be in [0, 1), got ", settings.dropout);
  if (!(settings.alpha > 0)) fail("method", method_name, ": alpha must be positive, got ", settings.alpha);
  return settings;
}

std::vector<std::string> lora_default_targets(const model::Model& model) {
  const auto names = model.attention_names();
  if (names.query == names.value) return {names.query};
  return {names.query, names.value};
}

std::vector<std::string> lora_key_value_targets(const model::Model& model) {
  const auto names = model.attention_names();
  if (names.key == names.value) return {names.key};
  return {names.key, names.value};
}

void LoraMethod::attach(model::Model& model) {
  const auto targets = settings_.targets.empty() ? lora_default_targets(model) : settings_.targets;
  layers_ = linear_layers_matching(model, targets);
  for (auto& [layer_name, layer] : layers_) {
    if (settings_.rank > std::min(layer->options().in_features, layer->options().out_features)) {
      fail("method", name(), ": rank ", settings_.rank, " exceeds the size of layer '", layer_name, "' (",
           layer->options().in_features, " -> ", layer->options().out_features, ")");
    }
  }
  if (layers_.empty()) {
    std::string list;
    for (const auto& t : targets) list += (list.empty() ? "" : ",") + t;
    fail("method", name(), ": no linear layer of the '", model.config().model_type(), "' model matches targets '", list,
         "'");
  }
  head_.clear();
  for (auto& item : model.named_parameters()) {
    const bool head = model.is_classifier_head_parameter(item.key());
    item.value().set_requires_grad(head);
    if (head) head_.emplace_back(item.key(), item.value());
  }
}

std::vector<ParamGroup> LoraMethod::trainable(model::Model& /*model*/, double weight_decay) {
  ParamGroup adapters{{}, {}, weight_decay, 1}, head_decayed{{}, {}, weight_decay, 1}, head_plain{{}, {}, 0, 1};
  for (auto& [layer_name, layer] : layers_) {
    auto* adapter = layer->adapter_find(trainable_);
    if (adapter == nullptr) continue;
    if (train_A_) {
      adapters.names.push_back(layer_name + ".lora_A." + trainable_);
      adapters.params.push_back(adapter->A);
    }
    adapters.names.push_back(layer_name + ".lora_B." + trainable_);
    adapters.params.push_back(adapter->B);
  }
  for (auto& [name, param] : head_) {
    auto& group = param.dim() >= 2 ? head_decayed : head_plain;
    group.names.push_back(name);
    group.params.push_back(param);
  }
  std::vector<ParamGroup> groups;
  for (auto* group : {&adapters, &head_decayed, &head_plain}) {
    if (!group->params.empty()) groups.push_back(std::move(*group));
  }
  return groups;
}

torch::Tensor LoraMethod::kaiming_uniform_A(const std::string& layer_name, nn::LinearImpl& layer, uint64_t seed) const {
  const auto in = layer.options().in_features;
  auto generator = at::detail::createCPUGenerator(data::derive_seed(seed, layer_name));
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  return at::empty({settings_.rank, in}, torch::kFloat).uniform_(-bound, bound, generator);
}

void LoraMethod::adapter_add_everywhere(const std::string& name, const AInit& make_A) {
  const double scale = settings_.alpha / static_cast<double>(settings_.rank);
  for (auto& [layer_name, layer] : layers_) {
    auto A = make_A(layer_name, *layer).to(torch::kFloat).to(layer->weight.device());
    auto B = torch::zeros({layer->options().out_features, settings_.rank}, A.options());
    layer->adapter_add(name, A, B, scale).dropout = settings_.dropout;
  }
  adapter_names_.push_back(name);
  set_trainable(name, train_A_);
}

void LoraMethod::set_trainable(const std::string& name, bool train_A) {
  trainable_ = name;
  train_A_ = train_A;
  for (auto& [layer_name, layer] : layers_) {
    for (auto& adapter : layer->adapters()) {
      const bool current = adapter.name == name;
      adapter.A.set_requires_grad(current && train_A);
      adapter.B.set_requires_grad(current);
    }
  }
}

std::map<std::string, torch::Tensor> LoraMethod::input_second_moments(model::Model& model, const TaskContext& task,
                                                                      int64_t batches) {
  std::map<std::string, torch::Tensor> sums;
  std::map<std::string, int64_t> rows;
  for (auto& [layer_name, layer] : layers_) {
    const auto in = layer->options().in_features;
    auto& sum = sums[layer_name] = torch::zeros({in, in}, layer->weight.options().dtype(torch::kFloat));
    auto& count = rows[layer_name] = 0;
    layer->observer_set([&sum, &count](const torch::Tensor& x, const torch::Tensor& /*y*/) {
      auto flat = nn::real_token_rows(x).to(torch::kFloat);
      sum.addmm_(flat.t(), flat);
      count += flat.size(0);
    });
  }
  {
    torch::NoGradGuard no_grad;
    task.for_each_batch([&](const model::Batch& batch) { model.forward(batch); }, batches);
  }
  for (auto& [layer_name, layer] : layers_) {
    layer->observer_clear();
    sums[layer_name] /= static_cast<double>(std::max<int64_t>(1, rows[layer_name]));
  }
  return sums;
}

MethodState LoraMethod::state() const {
  MethodState state;
  for (const auto& [layer_name, layer] : layers_) {
    for (const auto& adapter : layer->adapters()) {
      state.tensors[layer_name + "/" + adapter.name + "/A"] = adapter.A.detach().cpu().contiguous();
      state.tensors[layer_name + "/" + adapter.name + "/B"] = adapter.B.detach().cpu().contiguous();
    }
  }
  state.meta["adapters"] = adapter_names_;
  state.meta["trainable"] = trainable_;
  state.meta["train_A"] = train_A_;
  state_extra(state);
  return state;
}

void LoraMethod::load_state(const MethodState& state) {
  const double scale = settings_.alpha / static_cast<double>(settings_.rank);
  adapter_names_ = state.meta.value("adapters", std::vector<std::string>{});
  for (auto& [layer_name, layer] : layers_) {
    for (const auto& adapter_name : adapter_names_) {
      if (layer->adapter_find(adapter_name) != nullptr) layer->adapter_remove(adapter_name);
      const auto key = layer_name + "/" + adapter_name;
      auto A = state.tensors.find(key + "/A"), B = state.tensors.find(key + "/B");
      if (A == state.tensors.end() || B == state.tensors.end())
        fail("method", name(), ": the saved state lacks adapter '", key, "'");
      const auto device = layer->weight.device();
      layer->adapter_add(adapter_name, A->second.to(device).clone(), B->second.to(device).clone(), scale).dropout =
          settings_.dropout;
    }
  }
  set_trainable(state.meta.value("trainable", std::string()), state.meta.value("train_A", true));
  load_state_extra(state);
}

void SeqLora::begin_task(model::Model& /*model*/, const TaskContext& task) {
  if (!adapter_names_.empty()) return;  // one adapter for the whole stream
  adapter_add_everywhere("default", [&](const std::string& layer_name, nn::LinearImpl& layer) {
    return kaiming_uniform_A(layer_name, layer, data::derive_seed(task.seed, "seqlora"));
  });
}

std::unique_ptr<Method> seqlora_create(config::Options& options) {
  auto settings = lora_settings_read(options, "seqlora", lora_settings_with_dropout());
  options.reject_unused("seqlora");
  return std::make_unique<SeqLora>(std::move(settings));
}

}  // namespace retain::method
