#include "model/registry.h"

#include <map>

#include "model/gpt2.h"
#include "model/llama.h"
#include "model/t5.h"
#include "model/vit.h"

namespace retain::model {

namespace {

using Factory = std::shared_ptr<Model> (*)(const io::HfConfig&, const torch::TensorOptions&);

const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> table = {
      {"llama", llama_create}, {"mistral", llama_create}, {"qwen2", llama_create}, {"qwen3", llama_create},
      {"gpt2", gpt2_create},   {"t5", t5_create},         {"vit", vit_create},
  };
  return table;
}

}  // namespace

std::vector<std::string> supported_model_types() {
  std::vector<std::string> names;
  for (const auto& entry : factories()) names.push_back(entry.first);
  return names;
}

std::shared_ptr<Model> model_create(const io::HfConfig& config, const torch::TensorOptions& options) {
  auto it = factories().find(config.model_type());
  if (it == factories().end()) {
    std::string supported;
    for (const auto& name : supported_model_types()) supported += (supported.empty() ? "" : ", ") + name;
    config.refuse("model_type", config.model_type(), supported);
  }
  return it->second(config, options);
}

}  // namespace retain::model
