// run-outputs.cpp - see run-outputs.h.
#include "train/run-outputs.h"

#include <algorithm>
#include <filesystem>

#include "error.h"
#include "io/atomic-folder.h"
#include "io/gguf-quants.h"
#include "model/adapter.h"
#include "model/checkpoint.h"
#include "model/gguf-model.h"

namespace retain::train {

namespace fs = std::filesystem;

namespace {

// The names of the LoRA adapters the method attached, in first-seen order.
std::vector<std::string> adapter_names(model::Model& model) {
  std::vector<std::string> names;
  for (auto& [layer_name, layer] : model.linear_layers()) {
    for (const auto& adapter : layer->adapters()) {
      if (std::find(names.begin(), names.end(), adapter.name) == names.end()) names.push_back(adapter.name);
    }
  }
  return names;
}

}  // namespace

void run_outputs_check(const config::StreamConfig& config, model::Model& model, const method::Method& method) {
  const auto save = config.model.save;
  if (save == config::SaveFormat::Gguf) {
    const auto type = model.config().model_type();
    if (type != "llama" && type != "mistral" && type != "qwen2" && type != "qwen3") {
      fail("config", config.source, ": [model] save = \"gguf\" writes llama, mistral, qwen2 and qwen3 models, not '",
           type, "'");
    }
    if (config.model.tokenizer.empty() && config.model.path.empty()) {
      fail("config", config.source, ": [model] save = \"gguf\" needs a tokenizer for the file ([model] tokenizer)");
    }
  }
  if (save == config::SaveFormat::Adapters && !method.trains_adapters()) {
    fail("config", config.source, ": [model] save = \"adapters\", but method '", method.name(), "' trains no adapters");
  }
  if (save == config::SaveFormat::Adapters && model.kind() == model::ModelKind::ImageClassifier) {
    fail("config", config.source,
         ": [model] save = \"adapters\": an image classifier's head trains beside the adapters "
         "and a PEFT adapter folder does not hold it; use save = \"full\"");
  }
}

void run_outputs_write(const config::StreamConfig& config, model::Model& model, const std::string& run_dir) {
  const auto save = config.model.save;
  const auto adapters = adapter_names(model);
  if (save == config::SaveFormat::Gguf) {
    // As for "full": the adapters folded in, then one file llama.cpp loads.
    for (const auto& name : adapters) model::adapter_merge(model, name);
    model::GgufSaveOptions options;
    options.type = *io::ggml_type_from_name(config.model.gguf_type);
    options.tokenizer_source = config.model.tokenizer;
    model::gguf_model_save(model, (fs::path(run_dir) / "model.gguf").string(), options);
  }
  if (save == config::SaveFormat::Full) {
    // A full model has the adapters folded in, so transformers loads what was evaluated.
    for (const auto& name : adapters) model::adapter_merge(model, name);
    const auto staged = fs::path(run_dir) / "model.tmp";
    fs::remove_all(staged);
    model::model_save(model, staged.string());
    // A model built from `init` gets the run's tokenizer.json, so the folder is complete for transformers.
    const auto tokenizer_file = fs::path(config.model.tokenizer);
    if (tokenizer_file.extension() == ".json" && tokenizer_file.filename() != "encoder.json" &&
        !fs::exists(staged / "tokenizer.json")) {
      fs::copy_file(tokenizer_file, staged / "tokenizer.json");
    }
    io::replace_folder(staged.string(), (fs::path(run_dir) / "model").string());
  }
  if (save == config::SaveFormat::Adapters) {
    for (const auto& name : adapters) {
      const auto target = fs::path(run_dir) / "adapters" / name, staged = fs::path(target.string() + ".tmp");
      fs::remove_all(staged);
      model::adapter_save(model, staged.string(), name);
      io::replace_folder(staged.string(), target.string());
    }
  }
}

}  // namespace retain::train
