// peft-config.h - a PEFT LoRA adapter's adapter_config.json: what it says about each module (is it
// adapted, with which rank and alpha). Needs no libtorch, so the parser a user's file reaches is
// fuzzed on its own (fuzz/); peft.h reads the weights beside it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace retain::io {

struct PeftAdapterConfig {
  std::string path;  // the file, for messages
  std::string base_model_name_or_path;
  std::string task_type;  // CAUSAL_LM, SEQ_2_SEQ_LM, ... ("" for none)
  bool fan_in_fan_out = false;
  bool use_rslora = false;
  int64_t r = 0;
  double lora_alpha = 0;
  nlohmann::json target_modules;  // a regular expression, "all-linear", a list of names, or null
  nlohmann::json rank_pattern, alpha_pattern;

  // Whether PEFT puts a LoRA layer on `module` ("model.layers.0.self_attn.q_proj"): a string is a
  // regular expression the whole name must match ("all-linear": every linear layer); a list names
  // modules by their full name or last parts; null adapts every module that has weights.
  bool targets(const std::string& module) const;
  // The rank and alpha of `module`: its rank_pattern / alpha_pattern entry (PEFT matches a key as
  // `(.*\.)?key$`), else r / lora_alpha.
  int64_t rank_of(const std::string& module) const;
  double alpha_of(const std::string& module) const;
};

// Parses adapter_config.json's text. Options that change what the adapter computes and are not
// implemented (DoRA, LoRA biases, modules_to_save, ...) are refused by name, as are a rank that is
// not a whole number of 1 or more, an alpha that is not a finite number, and regular expressions
// that do not compile.
PeftAdapterConfig peft_adapter_config_parse(const std::string& text, const std::string& path);

}  // namespace retain::io
