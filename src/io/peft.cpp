#include "io/peft.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <regex>
#include <set>

#include "error.h"
#include "io/atomic-file.h"
#include "io/file-read.h"
#include "io/peft-config.h"
#include "io/safetensors.h"

namespace retain::io {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kPrefix = "base_model.model.";

}  // namespace

PeftAdapter peft_adapter_read(const std::string& dir) {
  const auto config_path = (fs::path(dir) / "adapter_config.json").string();
  const auto weights_path = (fs::path(dir) / "adapter_model.safetensors").string();
  const auto config = peft_adapter_config_parse(file_read(config_path, "peft"), config_path);

  PeftAdapter adapter;
  adapter.base_model_name_or_path = config.base_model_name_or_path;
  adapter.task_type = config.task_type;
  adapter.fan_in_fan_out = config.fan_in_fan_out;

  auto file = safetensors_load(weights_path);
  for (const auto& [name, tensor] : file.tensors) {
    static const std::regex kLora(R"(base_model\.model\.(.+)\.lora_([AB])\.weight)");
    std::smatch match;
    if (!std::regex_match(name, match, kLora)) {
      fail("peft", weights_path, ": tensor '", name, "' is not a LoRA A/B weight of a linear layer (",
           "embedding LoRA, DoRA magnitudes and saved modules are not supported)");
    }
    auto& layer = adapter.layers[match[1]];
    (match[2] == "A" ? layer.A : layer.B) = tensor.clone();
  }
  // PEFT adapts the modules target_modules names and drops weights of any other (a warning), so a
  // weight it would drop, or a target_modules that names none of the modules, is refused.
  for (auto& [module, layer] : adapter.layers) {
    if (!config.targets(module)) {
      fail("peft", config_path, ": target_modules ", config.target_modules.dump(), " does not name module '", module,
           "', which has LoRA weights in ", weights_path);
    }
    if (!layer.A.defined() || !layer.B.defined()) {
      fail("peft", weights_path, ": module '", module, "' has lora_", layer.A.defined() ? "A" : "B", " but no lora_",
           layer.A.defined() ? "B" : "A");
    }
    if (layer.A.dim() != 2 || layer.B.dim() != 2 || layer.A.size(0) != layer.B.size(1)) {
      fail("peft", weights_path, ": module '", module, "': lora_A ", layer.A.sizes(), " and lora_B ", layer.B.sizes(),
           " do not have a common rank");
    }
    const int64_t r = layer.A.size(0);
    const int64_t expected_r = config.rank_of(module);
    if (r != expected_r) {
      fail("peft", weights_path, ": module '", module, "' has rank ", r, " but ", config_path, " says ", expected_r);
    }
    const double alpha = config.alpha_of(module);
    layer.scale = config.use_rslora ? alpha / std::sqrt(double(r)) : alpha / double(r);
  }
  if (adapter.layers.empty()) fail("peft", weights_path, ": no LoRA weights in the file");
  return adapter;
}

void peft_adapter_write(const std::string& dir, const PeftAdapter& adapter) {
  TORCH_CHECK(!adapter.layers.empty(), "peft_adapter_write: the adapter has no layers");
  fs::create_directories(dir);
  // The most common rank and alpha become r / lora_alpha; the others go to the patterns. Modules
  // are named in full (PEFT matches a target or pattern key equal to the name), so PEFT adapts
  // exactly the layers that have weights.
  std::map<int64_t, int> rank_votes;
  std::map<double, int> alpha_votes;
  auto alpha_of = [](const LoraWeights& w) { return w.scale * double(w.A.size(0)); };
  for (const auto& entry : adapter.layers) {
    rank_votes[entry.second.A.size(0)]++;
    alpha_votes[alpha_of(entry.second)]++;
  }
  auto most = [](const auto& votes) {
    return std::max_element(votes.begin(), votes.end(), [](auto& a, auto& b) { return a.second < b.second; })->first;
  };
  const int64_t r = most(rank_votes);
  const double alpha = most(alpha_votes);
  json rank_pattern = json::object(), alpha_pattern = json::object();
  std::set<std::string> targets;
  TensorMap tensors;
  for (const auto& [module, w] : adapter.layers) {
    if (w.A.size(0) != r) rank_pattern[module] = w.A.size(0);
    if (alpha_of(w) != alpha) alpha_pattern[module] = alpha_of(w);
    targets.insert(module);
    tensors[kPrefix + module + ".lora_A.weight"] = w.A.detach().to(torch::kCPU).contiguous();
    tensors[kPrefix + module + ".lora_B.weight"] = w.B.detach().to(torch::kCPU).contiguous();
  }
  json config = {
      {"peft_type", "LORA"},
      {"base_model_name_or_path", adapter.base_model_name_or_path},
      {"task_type", adapter.task_type.empty() ? json(nullptr) : json(adapter.task_type)},
      {"r", r},
      {"lora_alpha", alpha},
      {"rank_pattern", rank_pattern},
      {"alpha_pattern", alpha_pattern},
      {"target_modules", std::vector<std::string>(targets.begin(), targets.end())},
      {"fan_in_fan_out", adapter.fan_in_fan_out},
      {"bias", "none"},
      {"lora_dropout", 0.0},
      {"use_rslora", false},
      {"use_dora", false},
      {"modules_to_save", nullptr},
      {"inference_mode", true},
  };
  safetensors_save((fs::path(dir) / "adapter_model.safetensors").string(), tensors);
  write_file_atomic((fs::path(dir) / "adapter_config.json").string(), config.dump(2) + "\n");
}

}  // namespace retain::io
