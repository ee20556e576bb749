// retain info MODEL_DIR: what a Hugging Face model folder holds, read from config.json and the
// safetensors headers (the weights are mapped, not read or copied), and whether it would load.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cli/commands.h"
#include "io/gguf.h"
#include "io/hf-config.h"
#include "io/safetensors.h"
#include "model/checkpoint.h"
#include "model/gguf-model.h"
#include "model/registry.h"

namespace retain::cli {

namespace {

// The size fields of the supported architectures, under their various config names.
const char* kSizeKeys[] = {"vocab_size",
                           "hidden_size",
                           "n_embd",
                           "d_model",
                           "intermediate_size",
                           "n_inner",
                           "d_ff",
                           "num_hidden_layers",
                           "n_layer",
                           "num_layers",
                           "num_decoder_layers",
                           "num_attention_heads",
                           "n_head",
                           "num_heads",
                           "num_key_value_heads",
                           "head_dim",
                           "d_kv",
                           "max_position_embeddings",
                           "n_positions",
                           "image_size",
                           "patch_size",
                           "num_channels"};

// Tensor count, parameters and element counts by storage type.
struct TensorSummary {
  int64_t parameters = 0;
  size_t tensors = 0;
  std::map<std::string, int64_t> by_dtype;
  bool has_lm_head = false;
};

TensorSummary safetensors_summary(const io::TensorMap& tensors) {
  TensorSummary s;
  for (const auto& [name, tensor] : tensors) {
    s.parameters += tensor.numel();
    std::ostringstream dtype;
    dtype << tensor.scalar_type();
    s.by_dtype[dtype.str()] += tensor.numel();
  }
  s.tensors = tensors.size();
  s.has_lm_head = tensors.count("lm_head.weight") > 0;
  return s;
}

TensorSummary gguf_summary(const io::GgufFile& file) {
  TensorSummary s;
  for (const auto& t : file.tensors()) {
    if (t.name == "rope_freqs.weight") continue;  // RoPE scaling, not a parameter
    s.parameters += static_cast<int64_t>(t.elements());
    s.by_dtype[io::ggml_type_name(static_cast<uint32_t>(t.type))] += static_cast<int64_t>(t.elements());
  }
  s.tensors = file.tensors().size() - (file.find_tensor("rope_freqs.weight") ? 1 : 0);
  s.has_lm_head = file.find_tensor("output.weight") != nullptr;
  return s;
}

nlohmann::json model_info(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string gguf_path = io::gguf_model_file(dir);
  std::shared_ptr<io::GgufFile> gguf = gguf_path.empty() ? nullptr : io::GgufFile::open(gguf_path);
  auto config = gguf ? model::gguf_config(*gguf) : io::HfConfig::read((fs::path(dir) / "config.json").string());
  auto supported = model::supported_model_types();
  nlohmann::json info;
  info["model_dir"] = dir;
  info["model_type"] = config.model_type();
  info["supported"] = std::find(supported.begin(), supported.end(), config.model_type()) != supported.end();
  if (config.has("architectures")) info["architectures"] = config.json().at("architectures");
  for (const char* key : kSizeKeys) {
    if (config.has(key)) info["config"][key] = config.json().at(key);
  }
  if (config.model_type() != "gpt2" && config.model_type() != "t5" && config.model_type() != "vit") {
    auto rope = config.rope();
    info["rope"] = {{"type", rope.type}, {"theta", rope.theta}};
    if (rope.type != "default") info["rope"]["factor"] = rope.factor;
  }
  TensorSummary summary;
  if (gguf) {
    summary = gguf_summary(*gguf);
  } else {
    const auto tensors = io::checkpoint_load(dir);
    summary = safetensors_summary(tensors);
    // What loading would refuse (a missing, extra or misshapen tensor; a config value that cannot be
    // right), found without reading the weights: the model is built on the meta device.
    if (info["supported"].get<bool>()) {
      auto model = model::model_create(config, torch::TensorOptions().device(torch::kMeta));
      model::model_tensors_check(*model, tensors, dir);
    }
  }
  info["parameters"] = summary.parameters;
  info["tensors"] = summary.tensors;
  info["dtypes"] = summary.by_dtype;
  if (gguf) {
    info["gguf"] = {{"file", gguf_path},
                    {"version", gguf->version()},
                    {"name", gguf->get_string("general.name", "")},
                    {"tokenizer", gguf->get_string("tokenizer.ggml.model", "")},
                    {"pre_tokenizer", gguf->get_string("tokenizer.ggml.pre", "")},
                    {"chat_template", gguf->has("tokenizer.chat_template")}};
  }
  const bool default_tied = config.model_type() == "gpt2" || config.model_type() == "t5";
  const bool tied = config.get_bool("tie_word_embeddings", default_tied);
  info["tied_word_embeddings"] = tied;
  info["checkpoint_has_lm_head"] = summary.has_lm_head;
  return info;
}

std::string with_commas(int64_t n) {
  auto digits = std::to_string(n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return digits;
}

void print_info(const nlohmann::json& info) {
  std::printf("%s\n", info["model_dir"].get<std::string>().c_str());
  std::string arch = info.contains("architectures") ? info["architectures"].dump() : "";
  std::printf("  model_type     %s %s%s\n", info["model_type"].get<std::string>().c_str(), arch.c_str(),
              info["supported"].get<bool>() ? "" : "  (not supported by retain)");
  std::printf("  parameters     %s in %d tensors\n", with_commas(info["parameters"].get<int64_t>()).c_str(),
              info["tensors"].get<int>());
  for (const auto& [dtype, count] : info["dtypes"].items()) {
    std::printf("  dtype          %s: %s\n", dtype.c_str(), with_commas(count.get<int64_t>()).c_str());
  }
  std::printf("  tied embedding %s\n",
              info["tied_word_embeddings"].get<bool>() ? "yes (lm_head shares the input embedding)" : "no");
  if (info.contains("gguf")) std::printf("  gguf           %s\n", info["gguf"].dump().c_str());
  if (info.contains("rope")) std::printf("  rope           %s\n", info["rope"].dump().c_str());
  for (const auto& [key, value] : info["config"].items())
    std::printf("  %-14s %s\n", key.c_str(), value.dump().c_str());
}

}  // namespace

Command add_info(CLI::App& app) {
  struct Options {
    std::string dir;
    bool json = false;
  };
  auto options = std::make_shared<Options>();
  auto* sub = app.add_subcommand("info", "architecture, parameter count, dtypes and tied weights of a model folder");
  sub->add_option("MODEL_DIR", options->dir, "a Hugging Face model folder (config.json + safetensors), or a .gguf file")
      ->required();
  sub->add_flag("--json", options->json, "print JSON instead of text");
  return {sub, [options] {
            auto info = model_info(options->dir);
            if (options->json) {
              std::printf("%s\n", info.dump(2).c_str());
            } else {
              print_info(info);
            }
            return 0;
          }};
}

}  // namespace retain::cli
