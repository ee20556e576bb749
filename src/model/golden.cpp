#include "model/golden.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "error.h"
#include "io/safetensors.h"
#include "model/adapter.h"
#include "model/checkpoint.h"
#include "model/generate.h"

namespace retain::model {

namespace fs = std::filesystem;

namespace {

torch::Tensor golden_get(const io::TensorMap& golden, const std::string& key) {
  auto it = golden.find(key);
  return it == golden.end() ? torch::Tensor() : it->second;
}

std::vector<int64_t> to_vector(const torch::Tensor& t) {
  auto flat = t.to(torch::kLong).contiguous().view(-1);
  return std::vector<int64_t>(flat.data_ptr<int64_t>(), flat.data_ptr<int64_t>() + flat.numel());
}

}  // namespace

std::string golden_adapter_base(const std::string& fixture_dir) {
  const auto dir = fs::path(fixture_dir).lexically_normal();
  const auto name = (dir.has_filename() ? dir : dir.parent_path()).filename().string();
  const auto parent = (dir.has_filename() ? dir : dir.parent_path()).parent_path();
  std::ifstream manifest(parent / "MANIFEST.json");
  if (manifest) {
    auto json = nlohmann::json::parse(manifest, nullptr, /*allow_exceptions=*/false);
    if (json.is_object() && json.contains("models") && json["models"].contains(name) &&
        json["models"][name].contains("base") && json["models"][name]["base"].is_string()) {
      return (parent / json["models"][name]["base"].get<std::string>()).string();
    }
  }
  std::ifstream config(fs::path(fixture_dir) / "adapter_config.json");
  auto json = nlohmann::json::parse(config, nullptr, false);
  if (!json.is_object() || !json.contains("base_model_name_or_path") || !json["base_model_name_or_path"].is_string()) {
    fail("golden", fixture_dir,
         ": cannot tell the adapter's base model (no MANIFEST.json entry, no base_model_name_or_path)");
  }
  return (parent / fs::path(json["base_model_name_or_path"].get<std::string>()).filename()).string();
}

double GoldenComparison::max_grad_rel_diff() const {
  double worst = -1;
  for (const auto& entry : grad_rel_diff) worst = std::max(worst, entry.second);
  return worst;
}

bool GoldenComparison::matches() const {
  return logits_max_abs_diff >= 0 && logits_max_abs_diff <= kGoldenLogitsTolerance &&
         loss_abs_diff <= kGoldenLossTolerance && max_grad_rel_diff() <= kGoldenGradTolerance &&
         (!generation_checked || generation_equal);
}

Batch golden_batch(const std::string& fixture_dir) {
  const auto golden = io::safetensors_load((fs::path(fixture_dir) / "golden.safetensors").string()).tensors;
  Batch batch;
  batch.input_ids = golden_get(golden, "input_ids");
  batch.attention_mask = golden_get(golden, "attention_mask");
  batch.labels = golden_get(golden, "labels");
  batch.pixel_values = golden_get(golden, "pixel_values");
  return batch;
}

GoldenComparison golden_compare(const std::string& fixture_dir) {
  GoldenComparison result;
  result.fixture = fs::path(fixture_dir).lexically_normal().filename().string();
  const bool is_adapter = fs::exists(fs::path(fixture_dir) / "adapter_config.json");
  auto model = model_load(is_adapter ? golden_adapter_base(fixture_dir) : fixture_dir);
  if (is_adapter) adapter_load(*model, fixture_dir);
  result.model_type = model->config().model_type();
  const auto golden = io::safetensors_load((fs::path(fixture_dir) / "golden.safetensors").string()).tensors;

  auto batch = golden_batch(fixture_dir);
  model->zero_grad();
  auto out = model->forward(batch);

  if (auto logits = golden_get(golden, "logits"); logits.defined()) {
    TORCH_CHECK(logits.sizes() == out.logits.sizes(), "golden logits ", logits.sizes(), " vs ", out.logits.sizes());
    result.logits_max_abs_diff = (out.logits.detach() - logits).abs().max().item<double>();
  }
  if (auto loss = golden_get(golden, "loss"); loss.defined() && out.loss.defined()) {
    result.loss_abs_diff = std::abs(out.loss.item<double>() - loss.item<double>());
  }
  bool backward_done = false;
  const auto parameters = model->named_parameters();
  for (const auto& [key, expected] : golden) {
    if (key.rfind("grad.", 0) != 0) continue;
    const auto name = key.substr(5);
    if (!backward_done) {
      TORCH_CHECK(out.loss.defined(), "golden file has gradients but the batch gave no loss");
      out.loss.backward();
      backward_done = true;
    }
    const auto* param = parameters.find(name);
    if (param == nullptr) fail("golden", fixture_dir, ": golden gradient for '", name, "', which is not a parameter");
    TORCH_CHECK(param->grad().defined(), "no gradient reached ", name);
    result.grad_rel_diff[name] = ((param->grad() - expected).norm() / expected.norm()).item<double>();
  }
  auto prompt = golden_get(golden, "generate.prompt"), expected = golden_get(golden, "generate.output");
  if (prompt.defined() && expected.defined()) {
    GenerateOptions options;
    options.max_new_tokens =
        model->kind() == ModelKind::Seq2SeqLM ? expected.size(1) - 1 : expected.size(1) - prompt.size(1);
    auto generated = generate_greedy(*model, prompt, {}, options);
    result.generation_checked = true;
    result.generated = to_vector(generated);
    result.expected = to_vector(expected);
    result.generation_equal = result.generated == result.expected;
  }
  return result;
}

}  // namespace retain::model
