// LoRA adapters: PEFT files round-trip byte for byte, merge equals the unmerged forward, unmerge
// and subtract undo it up to float rounding, and bad adapter files are refused by name.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <tuple>
#include <vector>

#include "io/peft.h"
#include "io/safetensors.h"
#include "model/adapter.h"
#include "model/checkpoint.h"
#include "model/golden.h"
#include "test-support.h"

namespace {

namespace fs = std::filesystem;
using namespace retain;

using test::bytes_of;
using test::error_of;
using test::fixtures_with;
const auto test_name = test::param_name<::testing::TestParamInfo<std::string>>;

class PeftFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(PeftFixture, SaveReproducesTheAdapterAndReloads) {
  const auto dir = test::fixture_path(GetParam());
  auto model = model::model_load(model::golden_adapter_base(dir));
  model::adapter_load(*model, dir);
  const auto out = test::scratch_dir("adapter-save-" + GetParam());
  model::adapter_save(*model, out);
  EXPECT_TRUE(bytes_of(fs::path(dir) / "adapter_model.safetensors") ==
              bytes_of(fs::path(out) / "adapter_model.safetensors"));

  auto original = io::peft_adapter_read(dir), saved = io::peft_adapter_read(out);
  ASSERT_EQ(original.layers.size(), saved.layers.size());
  for (const auto& [module, weights] : original.layers) {
    ASSERT_TRUE(saved.layers.count(module)) << module;
    EXPECT_DOUBLE_EQ(saved.layers.at(module).scale, weights.scale) << module;
  }
  auto fresh = model::model_load(model::golden_adapter_base(dir));
  model::adapter_load(*fresh, out);
  torch::NoGradGuard no_grad;
  auto batch = model::golden_batch(test::fixture_path(GetParam()));
  EXPECT_TRUE(torch::equal(model->forward(batch).logits, fresh->forward(batch).logits));
}

TEST_P(PeftFixture, MergeUnmergeAndSubtract) {
  const auto dir = test::fixture_path(GetParam());
  auto model = model::model_load(model::golden_adapter_base(dir));
  model::adapter_load(*model, dir);
  torch::NoGradGuard no_grad;
  auto batch = model::golden_batch(test::fixture_path(GetParam()));
  auto unmerged = model->forward(batch).logits;
  // Float rounding in W moves the logits by a few ulps of their own size.
  const double tolerance = 1e-5 * std::max(1.0, unmerged.abs().max().item<double>());
  std::map<std::string, torch::Tensor> before;
  for (auto& [name, layer] : model->linear_layers()) before[name] = layer->weight.clone();

  const int merged_layers = model::adapter_merge(*model);
  EXPECT_EQ(merged_layers, static_cast<int>(io::peft_adapter_read(dir).layers.size()));
  EXPECT_LT((model->forward(batch).logits - unmerged).abs().max().item<double>(), tolerance);

  model::adapter_unmerge(*model);
  for (auto& [name, layer] : model->linear_layers()) {
    EXPECT_LT((layer->weight - before[name]).abs().max().item<double>(), 1e-6) << name;
  }
  EXPECT_LT((model->forward(batch).logits - unmerged).abs().max().item<double>(), tolerance);

  // Subtracting moves the weight by exactly -ΔW: merge after subtract restores the base.
  model::adapter_subtract(*model);
  for (auto& [name, layer] : model->linear_layers()) {
    auto* adapter = layer->adapter_find("default");
    if (adapter == nullptr) continue;
    auto expected = before[name] - layer->adapter_delta(*adapter);
    EXPECT_LT((layer->weight - expected).abs().max().item<double>(), 1e-6) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PeftFixture, ::testing::ValuesIn(fixtures_with("adapter_config.json")), test_name);

// Random adapters on every linear layer of every model fixture (GPT-2's Conv1D layout included):
// the merged weights compute what the unmerged adapters compute. A head tied to the embeddings
// keeps its adapter unmerged: merging would change the embeddings too, so it is refused.
class AdapterOnModel : public ::testing::TestWithParam<std::string> {};

TEST_P(AdapterOnModel, MergedEqualsUnmerged) {
  auto model = model::model_load(test::fixture_path(GetParam()));
  torch::manual_seed(0);
  for (auto& [name, layer] : model->linear_layers()) {
    const auto& o = layer->options();
    auto A = torch::randn({4, o.in_features}) * 0.05, B = torch::randn({o.out_features, 4}) * 0.05;
    if (layer->weight_tied()) {
      layer->adapter_add("head", A, B, 2.0);
      EXPECT_THROW(layer->adapter_merge("head"), c10::Error) << name;
      layer->adapter_remove("head");
      continue;
    }
    layer->adapter_add("task", A, B, 2.0);
  }
  torch::NoGradGuard no_grad;
  auto batch = model::golden_batch(test::fixture_path(GetParam()));
  auto unmerged = model->forward(batch).logits;
  model::adapter_merge(*model, "task");
  auto merged = model->forward(batch).logits;
  EXPECT_LT((merged - unmerged).abs().max().item<double>(), 1e-4 * std::max(1.0, unmerged.abs().max().item<double>()));
  model::adapter_unmerge(*model, "task");
  auto restored = model->forward(batch).logits;
  EXPECT_LT((restored - unmerged).abs().max().item<double>(), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, AdapterOnModel, ::testing::ValuesIn(fixtures_with("config.json")), test_name);

// A small valid adapter folder for the first llama-family fixture, to be broken by the tests below.
struct AdapterFiles {
  std::string base, dir;
  nlohmann::json config;
  io::TensorMap tensors;
};

AdapterFiles adapter_files(const std::string& tag) {
  for (const auto& name : fixtures_with("config.json")) {
    auto model = model::model_load(test::fixture_path(name));
    if (model->base_model_prefix() != "model") continue;
    auto layer = model->linear_layer("model.layers.0.self_attn.q_proj");
    AdapterFiles files;
    files.base = test::fixture_path(name);
    files.dir = test::scratch_dir(tag);
    files.config = {{"peft_type", "LORA"}, {"r", 2}, {"lora_alpha", 4}, {"target_modules", {"q_proj"}}};
    files.tensors["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"] =
        torch::ones({2, layer->options().in_features});
    files.tensors["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"] =
        torch::ones({layer->options().out_features, 2});
    return files;
  }
  return {};
}

void write(const AdapterFiles& files) {
  std::ofstream(files.dir + "/adapter_config.json") << files.config.dump();
  io::safetensors_save(files.dir + "/adapter_model.safetensors", files.tensors);
}

TEST(AdapterErrors, BadAdaptersAreRefusedByName) {
  auto files = adapter_files("bad-adapter");
  if (files.dir.empty()) GTEST_SKIP() << "no llama-family fixture";
  write(files);
  auto model = model::model_load(files.base);
  EXPECT_EQ(error_of([&] { model::adapter_load(*model, files.dir, "ok"); }), "");

  auto dora = files;
  dora.config["use_dora"] = true;
  write(dora);
  auto message = error_of([&] { model::adapter_load(*model, files.dir, "dora"); });
  EXPECT_NE(message.find("use_dora"), std::string::npos) << message;

  auto unknown = files;
  unknown.config["layer_replication"] = {{0, 1}};
  write(unknown);
  message = error_of([&] { model::adapter_load(*model, files.dir, "unknown"); });
  EXPECT_NE(message.find("layer_replication"), std::string::npos) << message;

  auto half = files;
  half.tensors.erase("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight");
  write(half);
  message = error_of([&] { model::adapter_load(*model, files.dir, "half"); });
  EXPECT_NE(message.find("model.layers.0.self_attn.q_proj"), std::string::npos) << message;
  EXPECT_NE(message.find("lora_B"), std::string::npos) << message;

  auto stranger = files;
  stranger.tensors["base_model.model.model.layers.0.nonexistent.lora_A.weight"] = torch::ones({2, 3});
  stranger.tensors["base_model.model.model.layers.0.nonexistent.lora_B.weight"] = torch::ones({3, 2});
  write(stranger);
  message = error_of([&] { model::adapter_load(*model, files.dir, "stranger"); });
  EXPECT_NE(message.find("'model.layers.0.nonexistent'"), std::string::npos) << message;

  // target_modules that do not name a module with weights (PEFT would drop its weights), as a list or
  // as a regular expression; a pattern or "all-linear" that names it loads.
  for (const auto& targets : {nlohmann::json{"o_proj"}, nlohmann::json("foo"), nlohmann::json{"proj"}}) {
    auto untargeted = files;
    untargeted.config["target_modules"] = targets;
    write(untargeted);
    message = error_of([&] { model::adapter_load(*model, files.dir, "untargeted"); });
    EXPECT_NE(message.find("does not name module 'model.layers.0.self_attn.q_proj'"), std::string::npos) << message;
    EXPECT_NE(message.find("adapter_config.json"), std::string::npos) << message;
  }
  for (const auto& targets :
       {nlohmann::json(".*self_attn\\.q_proj"), nlohmann::json("all-linear"), nlohmann::json{"self_attn.q_proj"}}) {
    auto pattern = files;
    pattern.config["target_modules"] = targets;
    write(pattern);
    EXPECT_EQ(error_of([&] { model::adapter_load(*model, files.dir, "pattern-" + targets.dump()); }), "");
  }

  auto rank = files;
  rank.config["r"] = 3;
  write(rank);
  message = error_of([&] { model::adapter_load(*model, files.dir, "rank"); });
  EXPECT_NE(message.find("rank 2"), std::string::npos) << message;

  // Values PEFT could not have written, each named with the file and the key (std::regex_error and
  // nlohmann's number overflow escaped as library text before).
  // key, its value as JSON text, what the error says
  const std::vector<std::tuple<std::string, std::string, std::string>> values = {
      {"target_modules", R"("q_proj(")", "target_modules 'q_proj(' is not a regular expression"},
      {"rank_pattern", R"({"[": 2})", "rank_pattern key '[' is not a regular expression"},
      {"rank_pattern", R"({"q_proj": 0})", "rank_pattern 'q_proj' = 0 is not a valid value"},
      {"r", "0", "'r' must be a whole number of 1 or more, got 0"},
      {"lora_alpha", R"("16")", "'lora_alpha' must be a finite number"},
      {"lora_alpha", "1e999", "invalid JSON"},
      {"target_modules", "[1]", "holds a non-string entry"},
      {"target_modules", R"("q_proj{6666666666666666666}")",
       "target_modules 'q_proj{6666666666666666666}' is not a "
       "regular expression (number too big in {} quantifier"}};
  for (const auto& [key, value, expected] : values) {
    auto bad = files.config;
    bad.erase(key);
    auto text = bad.dump();
    text.insert(1, "\"" + key + "\": " + value + ",");
    write(files);
    std::ofstream(files.dir + "/adapter_config.json") << text;
    message = error_of([&] { model::adapter_load(*model, files.dir, "values"); });
    EXPECT_EQ(message.rfind("[peft] " + files.dir + "/adapter_config.json: ", 0), 0u) << message;
    EXPECT_NE(message.find(expected), std::string::npos) << expected << " in " << message;
  }
}

}  // namespace

namespace {

// LoRA dropout (PEFT's lora_dropout) acts on the adapter's input while the layer trains: in eval mode
// the output is the dropout-free one; in training the draws differ, the base path is untouched (with
// B = 0 the output is the base output exactly), and the mean adapter delta over many draws is the
// dropout-free delta (inverted dropout scales the kept inputs by 1 / (1 − p)).
TEST(LoraDropout, DropsTheAdapterInputOnlyAndOnlyWhileTraining) {
  torch::manual_seed(0);
  retain::nn::Linear layer(retain::nn::LinearOptions{16, 8, true}, torch::TensorOptions());
  {
    torch::NoGradGuard no_grad;
    layer->weight.normal_();
    layer->bias.normal_();
  }
  const auto x = torch::randn({4, 16});
  const auto base = layer->forward(x).detach();
  layer->adapter_add("a", torch::randn({2, 16}), torch::randn({8, 2}), 0.5).dropout = 0.5;
  layer->eval();
  const auto clean_delta = layer->forward(x).detach() - base;
  ASSERT_GT(clean_delta.abs().max().item<double>(), 0);
  layer->train();
  EXPECT_FALSE(torch::allclose(layer->forward(x), layer->forward(x)));
  const int draws = 4000;
  auto sum = torch::zeros_like(clean_delta);
  for (int i = 0; i < draws; ++i) sum += layer->forward(x).detach() - base;
  EXPECT_LT(((sum / draws - clean_delta).norm() / clean_delta.norm()).item<double>(), 0.06);
  layer->adapter_find("a")->B.zero_();
  EXPECT_TRUE(torch::equal(layer->forward(x).detach(), base));
}

}  // namespace
