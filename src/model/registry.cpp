#include "model/registry.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "error.h"
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

// The parameters and buffers of the model `config` describes, without building it: built on the meta
// device with one block per stack and with two, it gives the size of a block (every stack is uniform),
// so a config of 2,000,000,000 layers costs two tiny builds.
double element_count(const io::HfConfig& config, Factory factory) {
  auto build = [&](const std::map<std::string, int64_t>& blocks) {
    auto json = config.json();
    for (const auto& [key, count] : blocks) {
      // Lists with one entry per layer ("layer_types") take as many of their entries, the last repeated.
      const auto layers = json[key].get<int64_t>();
      for (auto& item : json.items()) {
        auto& value = item.value();
        if (layers < 1 || !value.is_array() || static_cast<int64_t>(value.size()) != layers) continue;
        auto entries = nlohmann::json::array();
        for (int64_t i = 0; i < count; ++i) entries.push_back(value[static_cast<size_t>(std::min(i, layers - 1))]);
        value = std::move(entries);
      }
      json[key] = count;
    }
    const auto model =
        factory(io::HfConfig::parse(json.dump(), config.path()), torch::TensorOptions().device(torch::kMeta));
    double count = 0;
    for (const auto& tensor : model->parameters()) count += double(tensor.numel());
    for (const auto& tensor : model->buffers()) count += double(tensor.numel());
    return count;
  };
  std::map<std::string, int64_t> one_block;
  for (const char* key : {"num_hidden_layers", "n_layer", "num_layers", "num_decoder_layers"}) {
    if (config.json().contains(key) && config.json()[key].is_number_integer()) one_block[key] = 1;
  }
  const double base = build(one_block);
  double total = base;
  for (const auto& entry : one_block) {
    auto two_blocks = one_block;
    two_blocks[entry.first] = 2;
    total += (build(two_blocks) - base) * double(config.get_positive_int(entry.first) - 1);
  }
  return total;
}

// A model larger than the machine's memory is refused before anything is allocated (the allocator
// would fail with its byte count, or a config of two billion layers would take minutes to build).
void memory_check(const io::HfConfig& config, Factory factory, const torch::TensorOptions& options) {
  if (!options.device().is_cpu()) return;
  const double memory = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGESIZE));
  const double elements = element_count(config, factory);
  const double bytes = elements * double(torch::elementSize(torch::typeMetaToScalarType(options.dtype())));
  if (memory > 0 && bytes > memory) {
    auto gib = [](double b) { return std::to_string(static_cast<int64_t>(std::ceil(b / double(1 << 30)))); };
    fail("model", config.path(), ": the model it describes has ", static_cast<int64_t>(elements), " parameters, ",
         gib(bytes), " GiB in ", options.dtype().name(), ", more than this machine's memory (", gib(memory),
         " GiB); check its sizes (hidden_size, intermediate_size, layers, vocab_size)");
  }
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
  memory_check(config, it->second, options);
  return it->second(config, options);
}

}  // namespace retain::model
