#include "io/peft.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "error.h"
#include "io/atomic-file.h"
#include "io/safetensors.h"

namespace retain::io {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kPrefix = "base_model.model.";

// adapter_config.json keys that change nothing at inference once the weights exist (bookkeeping,
// initialisation recipes, training-only settings), or that are checked explicitly below.
const std::set<std::string> kUnderstoodKeys = {"peft_type",          "r",
                                               "lora_alpha",         "use_rslora",
                                               "use_dora",           "fan_in_fan_out",
                                               "target_modules",     "bias",
                                               "rank_pattern",       "alpha_pattern",
                                               "modules_to_save",    "base_model_name_or_path",
                                               "revision",           "task_type",
                                               "inference_mode",     "peft_version",
                                               "auto_mapping",       "init_lora_weights",
                                               "lora_dropout",       "layers_to_transform",
                                               "layers_pattern",     "exclude_modules",
                                               "loftq_config",       "eva_config",
                                               "corda_config",       "megatron_core",
                                               "megatron_config",    "qalora_group_size",
                                               "use_qalora",         "lora_bias",
                                               "ensure_weight_tying"};

bool truthy(const json& value) {
  if (value.is_null()) return false;
  if (value.is_boolean()) return value.get<bool>();
  if (value.is_object() || value.is_array() || value.is_string()) return !value.empty() && value != "";
  return true;
}

// PEFT matches rank_pattern / alpha_pattern keys against module names as `(.*\.)?key$`.
const json* pattern_match(const json& patterns, const std::string& module) {
  if (!patterns.is_object()) return nullptr;
  for (const auto& [key, value] : patterns.items()) {
    if (module == key || std::regex_match(module, std::regex("(.*\\.)?" + key))) return &value;
  }
  return nullptr;
}

// Whether PEFT would put a LoRA layer on `module` for this target_modules: a string is a regular
// expression the whole name must match ("all-linear": every linear layer), a list names modules by
// their full name or last parts ("q_proj" names "model.layers.0.self_attn.q_proj").
bool targeted(const json& targets, const std::string& module) {
  if (targets.is_string()) {
    const auto pattern = targets.get<std::string>();
    return pattern == "all-linear" || std::regex_match(module, std::regex(pattern));
  }
  for (const auto& target : targets) {
    if (!target.is_string()) continue;
    const auto name = target.get<std::string>();
    if (module == name ||
        (module.size() > name.size() && module.compare(module.size() - name.size(), name.size(), name) == 0 &&
         module[module.size() - name.size() - 1] == '.')) {
      return true;
    }
  }
  return false;
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("peft", path, ": cannot open the file");
  try {
    return json::parse(in);
  } catch (const json::parse_error& e) {
    fail("peft", path, ": invalid JSON (", e.what(), ")");
  }
}

}  // namespace

PeftAdapter peft_adapter_read(const std::string& dir) {
  const auto config_path = (fs::path(dir) / "adapter_config.json").string();
  const auto weights_path = (fs::path(dir) / "adapter_model.safetensors").string();
  const auto config = read_json(config_path);
  if (!config.is_object()) fail("peft", config_path, ": expected a JSON object");
  auto field = [&](const char* key) -> const json& {
    static const json null_value;
    auto it = config.find(key);
    return it == config.end() ? null_value : *it;
  };
  const auto peft_type = field("peft_type").is_string() ? field("peft_type").get<std::string>() : std::string("?");
  if (peft_type != "LORA")
    fail("peft", config_path, ": peft_type '", peft_type, "' is not supported (supported: LORA)");
  for (const auto& [key, value] : config.items()) {
    if (!kUnderstoodKeys.count(key) && truthy(value)) {
      fail("peft", config_path, ": option '", key, "' = ", value.dump(), " is not supported");
    }
  }
  if (truthy(field("use_dora"))) fail("peft", config_path, ": option 'use_dora' = true (DoRA) is not supported");
  if (truthy(field("lora_bias"))) fail("peft", config_path, ": option 'lora_bias' = true is not supported");
  if (truthy(field("use_qalora"))) fail("peft", config_path, ": option 'use_qalora' = true is not supported");
  if (field("bias").is_string() && field("bias") != "none") {
    fail("peft", config_path, ": option 'bias' = ", field("bias").dump(), " is not supported (supported: \"none\")");
  }
  if (truthy(field("modules_to_save"))) {
    fail("peft", config_path, ": option 'modules_to_save' = ", field("modules_to_save").dump(), " is not supported");
  }
  if (!field("r").is_number_integer() || !field("lora_alpha").is_number()) {
    fail("peft", config_path, ": 'r' must be an integer and 'lora_alpha' a number");
  }

  PeftAdapter adapter;
  adapter.base_model_name_or_path =
      field("base_model_name_or_path").is_string() ? field("base_model_name_or_path").get<std::string>() : "";
  adapter.task_type = field("task_type").is_string() ? field("task_type").get<std::string>() : "";
  adapter.fan_in_fan_out = truthy(field("fan_in_fan_out"));
  const bool rslora = truthy(field("use_rslora"));

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
  const auto& targets = field("target_modules");
  for (auto& [module, layer] : adapter.layers) {
    if ((targets.is_string() || targets.is_array()) && !targeted(targets, module)) {
      fail("peft", config_path, ": target_modules ", targets.dump(), " does not name module '", module,
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
    const json* rank = pattern_match(field("rank_pattern"), module);
    const int64_t expected_r =
        rank != nullptr && rank->is_number_integer() ? rank->get<int64_t>() : field("r").get<int64_t>();
    if (r != expected_r) {
      fail("peft", weights_path, ": module '", module, "' has rank ", r, " but ", config_path, " says ", expected_r);
    }
    const json* alpha_value = pattern_match(field("alpha_pattern"), module);
    const double alpha = alpha_value != nullptr && alpha_value->is_number() ? alpha_value->get<double>()
                                                                            : field("lora_alpha").get<double>();
    layer.scale = rslora ? alpha / std::sqrt(double(r)) : alpha / double(r);
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
