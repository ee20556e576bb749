// method.cpp - the interface's defaults.
#include "method/method.h"

#include <algorithm>

namespace retain::method {

std::vector<ParamGroup> Method::trainable(model::Model& model, double weight_decay) {
  ParamGroup decayed{{}, {}, weight_decay, 1}, plain{{}, {}, 0, 1};
  for (const auto& item : model.named_parameters()) {
    if (!item.value().requires_grad()) continue;
    auto& group = item.value().dim() >= 2 ? decayed : plain;
    group.names.push_back(item.key());
    group.params.push_back(item.value());
  }
  std::vector<ParamGroup> groups;
  for (auto* group : {&decayed, &plain}) {
    if (!group->params.empty()) groups.push_back(std::move(*group));
  }
  return groups;
}

std::vector<ExampleRef> Method::training_examples(int64_t index, const std::vector<int64_t>& train_sizes) {
  std::vector<ExampleRef> refs;
  const int64_t n = train_sizes.at(index);
  refs.reserve(n);
  for (int64_t i = 0; i < n; ++i) refs.push_back({index, i});
  return refs;
}

std::string module_leaf(const std::string& module_name) {
  const auto dot = module_name.rfind('.');
  return dot == std::string::npos ? module_name : module_name.substr(dot + 1);
}

std::vector<std::pair<std::string, nn::Linear>> linear_layers_matching(model::Model& model,
                                                                       const std::vector<std::string>& leaves) {
  std::vector<std::pair<std::string, nn::Linear>> layers;
  for (auto& [name, layer] : model.linear_layers()) {
    if (std::find(leaves.begin(), leaves.end(), module_leaf(name)) != leaves.end()) layers.emplace_back(name, layer);
  }
  return layers;
}

}  // namespace retain::method
