#include "io/peft-config.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cmath>
#include <set>

#include "error.h"

namespace retain::io {

using nlohmann::json;

namespace {

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

// A key's pattern as PEFT matches it against module names.
std::string pattern_regex(const std::string& key) { return "(.*\\.)?" + key; }

// A regular expression of the config, matched against whole module names as Python's re.fullmatch
// (what PEFT calls) does, on PCRE2: its syntax is Python's nearly everywhere, and its limits are
// errors (std::regex overflowed a signed integer on "a{6666666666666666666}", found by
// fuzz/adapter-config-fuzz.cpp). `what` names the value in messages ("target_modules 'q_proj('").
class FullMatch {
 public:
  FullMatch(const std::string& pattern, const std::string& what, const std::string& path)
      : pattern_(pattern), path_(path) {
    int code = 0;
    PCRE2_SIZE offset = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                          PCRE2_ANCHORED | PCRE2_ENDANCHORED, &code, &offset, nullptr);
    if (code_ == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(code, message, sizeof message);
      fail("peft", path, ": ", what, " is not a regular expression (", reinterpret_cast<const char*>(message),
           " at offset ", offset, ")");
    }
  }
  ~FullMatch() { pcre2_code_free(code_); }
  FullMatch(const FullMatch&) = delete;
  FullMatch& operator=(const FullMatch&) = delete;

  bool operator()(const std::string& text) const {
    pcre2_match_data* data = pcre2_match_data_create_from_pattern(code_, nullptr);
    const int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0, 0, data, nullptr);
    pcre2_match_data_free(data);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
      fail("peft", path_, ": the regular expression '", pattern_, "' cannot be matched against '", text,
           "' (PCRE2 error ", rc, ")");
    }
    return rc >= 0;
  }

 private:
  std::string pattern_, path_;
  pcre2_code* code_ = nullptr;
};

bool regex_matches(const std::string& module, const std::string& pattern, const std::string& path) {
  return FullMatch(pattern, "'" + pattern + "'", path)(module);
}

void check_regex(const std::string& pattern, const std::string& what, const std::string& path) {
  FullMatch(pattern, what, path);
}

const json* pattern_match(const json& patterns, const std::string& module, const std::string& path) {
  if (!patterns.is_object()) return nullptr;
  for (const auto& [key, value] : patterns.items()) {
    if (module == key || regex_matches(module, pattern_regex(key), path)) return &value;
  }
  return nullptr;
}

}  // namespace

bool PeftAdapterConfig::targets(const std::string& module) const {
  if (target_modules.is_null()) return true;
  if (target_modules.is_string()) {
    const auto pattern = target_modules.get<std::string>();
    return pattern == "all-linear" || regex_matches(module, pattern, path);
  }
  for (const auto& target : target_modules) {
    const auto name = target.get<std::string>();
    if (module == name ||
        (module.size() > name.size() && module.compare(module.size() - name.size(), name.size(), name) == 0 &&
         module[module.size() - name.size() - 1] == '.')) {
      return true;
    }
  }
  return false;
}

int64_t PeftAdapterConfig::rank_of(const std::string& module) const {
  const json* rank = pattern_match(rank_pattern, module, path);
  return rank != nullptr ? rank->get<int64_t>() : r;
}

double PeftAdapterConfig::alpha_of(const std::string& module) const {
  const json* alpha = pattern_match(alpha_pattern, module, path);
  return alpha != nullptr ? alpha->get<double>() : lora_alpha;
}

PeftAdapterConfig peft_adapter_config_parse(const std::string& text, const std::string& path) {
  json config;
  try {
    config = json::parse(text);
  } catch (const json::exception& e) {
    fail("peft", path, ": invalid JSON (", e.what(), ")");
  }
  if (!config.is_object()) fail("peft", path, ": expected a JSON object");
  auto field = [&](const char* key) -> const json& {
    static const json null_value;
    auto it = config.find(key);
    return it == config.end() ? null_value : *it;
  };
  const auto peft_type = field("peft_type").is_string() ? field("peft_type").get<std::string>() : std::string("?");
  if (peft_type != "LORA") fail("peft", path, ": peft_type '", peft_type, "' is not supported (supported: LORA)");
  for (const auto& [key, value] : config.items()) {
    if (!kUnderstoodKeys.count(key) && truthy(value)) {
      fail("peft", path, ": option '", key, "' = ", value.dump(), " is not supported");
    }
  }
  if (truthy(field("use_dora"))) fail("peft", path, ": option 'use_dora' = true (DoRA) is not supported");
  if (truthy(field("lora_bias"))) fail("peft", path, ": option 'lora_bias' = true is not supported");
  if (truthy(field("use_qalora"))) fail("peft", path, ": option 'use_qalora' = true is not supported");
  if (field("bias").is_string() && field("bias") != "none") {
    fail("peft", path, ": option 'bias' = ", field("bias").dump(), " is not supported (supported: \"none\")");
  }
  if (truthy(field("modules_to_save"))) {
    fail("peft", path, ": option 'modules_to_save' = ", field("modules_to_save").dump(), " is not supported");
  }
  auto rank_ok = [](const json& value) { return value.is_number_integer() && value.get<int64_t>() >= 1; };
  auto alpha_ok = [](const json& value) { return value.is_number() && std::isfinite(value.get<double>()); };
  if (!rank_ok(field("r"))) fail("peft", path, ": 'r' must be a whole number of 1 or more, got ", field("r").dump());
  if (!alpha_ok(field("lora_alpha"))) {
    fail("peft", path, ": 'lora_alpha' must be a finite number, got ", field("lora_alpha").dump());
  }

  PeftAdapterConfig out;
  out.path = path;
  out.base_model_name_or_path =
      field("base_model_name_or_path").is_string() ? field("base_model_name_or_path").get<std::string>() : "";
  out.task_type = field("task_type").is_string() ? field("task_type").get<std::string>() : "";
  out.fan_in_fan_out = truthy(field("fan_in_fan_out"));
  out.use_rslora = truthy(field("use_rslora"));
  out.r = field("r").get<int64_t>();
  out.lora_alpha = field("lora_alpha").get<double>();

  const auto& targets = field("target_modules");
  if (targets.is_string()) {
    const auto pattern = targets.get<std::string>();
    if (pattern != "all-linear") check_regex(pattern, "target_modules '" + pattern + "'", path);
  } else if (targets.is_array()) {
    for (const auto& target : targets) {
      if (!target.is_string()) fail("peft", path, ": target_modules ", targets.dump(), " holds a non-string entry");
    }
  } else if (!targets.is_null()) {
    fail("peft", path, ": target_modules must be a regular expression or a list of names, got ", targets.dump());
  }
  out.target_modules = targets;
  for (const auto& [name, check] : {std::pair<const char*, bool (*)(const json&)>{"rank_pattern", +rank_ok},
                                    std::pair<const char*, bool (*)(const json&)>{"alpha_pattern", +alpha_ok}}) {
    const auto& patterns = field(name);
    if (patterns.is_null()) continue;
    if (!patterns.is_object()) fail("peft", path, ": ", name, " must be an object, got ", patterns.dump());
    for (const auto& [key, value] : patterns.items()) {
      check_regex(pattern_regex(key), std::string(name) + " key '" + key + "'", path);
      if (!check(value)) fail("peft", path, ": ", name, " '", key, "' = ", value.dump(), " is not a valid value");
    }
  }
  out.rank_pattern = field("rank_pattern");
  out.alpha_pattern = field("alpha_pattern");
  return out;
}

}  // namespace retain::io
