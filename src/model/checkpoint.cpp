#include "model/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "error.h"
#include "io/atomic-file.h"
#include "io/gguf.h"
#include "model/gguf-model.h"
#include "model/registry.h"
#include "tok/gguf-vocab.h"

namespace retain::model {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string shape_text(torch::IntArrayRef shape) {
  std::ostringstream os;
  os << shape;
  return os.str();
}

// Checkpoints saved from the bare base model (e.g. GPT2Model) lack the head's prefix
// ("transformer."): add it back when no tensor has it, as transformers does.
io::TensorMap with_base_prefix(const io::TensorMap& tensors, const std::string& prefix) {
  if (prefix.empty()) return tensors;
  for (const auto& entry : tensors) {
    if (entry.first.rfind(prefix + ".", 0) == 0) return tensors;
  }
  io::TensorMap out;
  for (const auto& [name, tensor] : tensors) out.emplace(prefix + "." + name, tensor);
  return out;
}

// tokenizer.json and tokenizer_config.json (chat template, special tokens) of a GGUF's tokenizer.
void write_gguf_tokenizer_files(const io::GgufFile& file, const std::string& dir) {
  if (!file.has("tokenizer.ggml.model")) return;
  io::write_file_atomic((fs::path(dir) / "tokenizer.json").string(), tok::gguf_tokenizer_json(file).dump(2) + "\n");
  nlohmann::json config = {{"tokenizer_class", "PreTrainedTokenizerFast"}};
  const auto tokens = file.get_string_array("tokenizer.ggml.tokens");
  for (const auto& [key, field] :
       std::map<std::string, std::string>{{"tokenizer.ggml.bos_token_id", "bos_token"},
                                          {"tokenizer.ggml.eos_token_id", "eos_token"},
                                          {"tokenizer.ggml.padding_token_id", "pad_token"},
                                          {"tokenizer.ggml.unknown_token_id", "unk_token"}}) {
    const int64_t id = file.get_int(key, -1);
    if (id >= 0 && id < static_cast<int64_t>(tokens.size())) config[field] = tokens[static_cast<size_t>(id)];
  }
  if (file.has("tokenizer.chat_template")) config["chat_template"] = file.get_string("tokenizer.chat_template");
  io::write_file_atomic((fs::path(dir) / "tokenizer_config.json").string(), config.dump(2) + "\n");
}

}  // namespace

std::shared_ptr<Model> model_load(const std::string& dir, const LoadOptions& options) {
  const std::string gguf = io::gguf_model_file(dir);
  if (!gguf.empty()) return gguf_model_load(gguf, options);
  auto config = io::HfConfig::read((fs::path(dir) / "config.json").string());
  auto model = model_create(config, torch::TensorOptions().dtype(options.dtype).device(options.device));
  model_load_state(*model, io::checkpoint_load(dir), dir);
  model->set_source(dir);
  model->eval();
  return model;
}

io::TensorMap model_tensors_check(Model& model, const io::TensorMap& checkpoint, const std::string& source) {
  auto tensors = with_base_prefix(checkpoint, model.base_model_prefix());
  std::set<std::string> used;
  for (const auto& item : model.named_parameters()) {
    const auto& name = item.key();
    auto it = tensors.find(name);
    if (it == tensors.end()) {
      fail("model", source, ": checkpoint has no tensor '", name, "' (model_type '", model.config().model_type(), "')");
    }
    if (it->second.sizes() != item.value().sizes()) {
      fail("model", source, ": tensor '", name, "' has shape ", shape_text(it->second.sizes()), " but ",
           model.config().path(), " implies ", shape_text(item.value().sizes()));
    }
    used.insert(name);
  }
  std::vector<std::string> unexpected;
  const auto ignored = model.ignored_checkpoint_suffixes();
  for (const auto& entry : tensors) {
    if (used.count(entry.first)) continue;
    bool ignore = false;
    for (const auto& suffix : ignored) ignore = ignore || ends_with(entry.first, suffix);
    if (!ignore) unexpected.push_back(entry.first);
  }
  if (!unexpected.empty()) {
    std::string list;
    for (size_t i = 0; i < unexpected.size() && i < 5; ++i) list += (i ? ", '" : "'") + unexpected[i] + "'";
    fail("model", source, ": ", unexpected.size(), " tensor(s) the '", model.config().model_type(),
         "' architecture of ", model.config().path(), " does not have: ", list, unexpected.size() > 5 ? ", ..." : "");
  }
  return tensors;
}

void model_load_state(Model& model, const io::TensorMap& checkpoint, const std::string& source) {
  const auto tensors = model_tensors_check(model, checkpoint, source);
  torch::NoGradGuard no_grad;
  for (auto& item : model.named_parameters()) {
    const auto& name = item.key();
    const auto& tensor = tensors.at(name);
    auto& param = item.value();
    param.copy_(tensor);
    // A NaN or infinite weight (or one past the range of the model's dtype) would only show later as
    // NaN logits or a NaN loss.
    if (!torch::isfinite(param).all().item<bool>()) {
      fail("model", source, ": tensor '", name, "' holds NaN or infinite values",
           tensor.scalar_type() != param.scalar_type() ? " (in the model's dtype)" : "");
    }
  }
}

io::TensorMap model_state(Model& model) {
  io::TensorMap out;
  for (const auto& item : model.named_parameters()) {
    out.emplace(item.key(), item.value().detach().to(torch::kCPU).contiguous());
  }
  return out;
}

int64_t model_parameter_count(Model& model) {
  int64_t count = 0;
  for (const auto& item : model.named_parameters()) count += item.value().numel();
  return count;
}

void model_save(Model& model, const std::string& dir) {
  fs::create_directories(dir);
  io::checkpoint_save(dir, model_state(model));
  io::write_file_atomic((fs::path(dir) / "config.json").string(), model.config().json().dump(2) + "\n");
  if (model.source().empty() || fs::equivalent(model.source(), dir)) return;
  if (const std::string gguf = io::gguf_model_file(model.source()); !gguf.empty()) {
    write_gguf_tokenizer_files(*io::GgufFile::open(gguf), dir);
    return;
  }
  for (const char* name : {"generation_config.json", "tokenizer.json", "tokenizer_config.json",
                           "special_tokens_map.json", "tokenizer.model", "vocab.json", "merges.txt"}) {
    const auto from = fs::path(model.source()) / name;
    if (fs::exists(from)) fs::copy_file(from, fs::path(dir) / name, fs::copy_options::overwrite_existing);
  }
}

}  // namespace retain::model
