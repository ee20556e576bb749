#include "model/adapter.h"

#include <functional>
#include <map>

#include "error.h"
#include "io/peft.h"

namespace retain::model {

namespace {

std::string task_type(const Model& model) {
  switch (model.kind()) {
    case ModelKind::CausalLM: return "CAUSAL_LM";
    case ModelKind::Seq2SeqLM: return "SEQ_2_SEQ_LM";
    case ModelKind::ImageClassifier: return "";
  }
  return "";
}

int for_each_layer_with(Model& model, const std::string& name, const std::function<void(nn::LinearImpl&)>& fn) {
  int changed = 0;
  for (auto& [layer_name, layer] : model.linear_layers()) {
    if (layer->adapter_find(name) == nullptr) continue;
    fn(*layer);
    ++changed;
  }
  return changed;
}

}  // namespace

void adapter_load(Model& model, const std::string& dir, const std::string& name) {
  auto adapter = io::peft_adapter_read(dir);
  std::map<std::string, nn::Linear> layers;
  for (auto& [layer_name, layer] : model.linear_layers()) layers.emplace(layer_name, layer);
  for (auto& [module, weights] : adapter.layers) {
    auto it = layers.find(module);
    if (it == layers.end()) {
      fail("peft", dir, ": module '", module, "' is not a linear layer of the '", model.config().model_type(),
           "' model");
    }
    auto& layer = it->second;
    const auto& options = layer->options();
    if (weights.A.size(1) != options.in_features || weights.B.size(0) != options.out_features) {
      fail("peft", dir, ": module '", module, "': lora_A ", weights.A.sizes(), " / lora_B ", weights.B.sizes(),
           " do not fit the layer's ", options.in_features, " -> ", options.out_features);
    }
    if (layer->adapter_find(name) != nullptr)
      fail("peft", dir, ": module '", module, "' already has an adapter '", name, "'");
    auto tensor_options = layer->weight.options();
    layer->adapter_add(name, weights.A.to(tensor_options), weights.B.to(tensor_options), weights.scale);
  }
}

void adapter_save(Model& model, const std::string& dir, const std::string& name) {
  io::PeftAdapter adapter;
  adapter.base_model_name_or_path = model.source();
  adapter.task_type = task_type(model);
  for (auto& [layer_name, layer] : model.linear_layers()) {
    const auto* lora = layer->adapter_find(name);
    if (lora == nullptr) continue;
    adapter.fan_in_fan_out = adapter.fan_in_fan_out || layer->options().fan_in_fan_out;
    // PEFT's LoRA has no per-component scales: they go into B.
    const auto B = lora->middle.defined() ? lora->B * lora->middle : lora->B;
    adapter.layers[layer_name] = io::LoraWeights{lora->A, B, lora->scale};
  }
  if (adapter.layers.empty()) fail("peft", dir, ": the model has no adapter named '", name, "' to save");
  io::peft_adapter_write(dir, adapter);
}

int adapter_merge(Model& model, const std::string& name) {
  return for_each_layer_with(model, name, [&](nn::LinearImpl& layer) { layer.adapter_merge(name); });
}

int adapter_unmerge(Model& model, const std::string& name) {
  return for_each_layer_with(model, name, [&](nn::LinearImpl& layer) { layer.adapter_unmerge(name); });
}

int adapter_subtract(Model& model, const std::string& name) {
  return for_each_layer_with(model, name, [&](nn::LinearImpl& layer) { layer.adapter_subtract(name); });
}

}  // namespace retain::model
