// Properties of the architectures that hold for any checkpoint of the fixture layout: the KV cache
// changes nothing, padding changes nothing for the real tokens, and load → save is byte-identical.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include "io/safetensors.h"
#include "model/checkpoint.h"
#include "model/generate.h"
#include "test-support.h"

namespace {

namespace fs = std::filesystem;
using namespace retain;

// A prompt of in-vocabulary ids taken from the fixture's golden inputs.
torch::Tensor prompt_of(const std::string& name, int64_t length) {
  auto golden = io::safetensors_load(test::fixture_path(name) + "/golden.safetensors").tensors;
  auto ids = golden.count("generate.prompt") ? golden.at("generate.prompt") : golden.at("input_ids").narrow(0, 0, 1);
  return ids.narrow(1, 0, std::min(length, ids.size(1))).clone();
}

class ModelFixture : public ::testing::TestWithParam<std::string> {
 protected:
  std::shared_ptr<model::Model> load() { return model::model_load(test::fixture_path(GetParam())); }
};

TEST_P(ModelFixture, SaveReproducesTheCheckpointBytes) {
  auto model = load();
  const auto out = test::scratch_dir("save-" + GetParam());
  model::model_save(*model, out);
  const auto original = fs::path(test::fixture_path(GetParam())) / "model.safetensors";
  ASSERT_TRUE(fs::exists(original));
  EXPECT_TRUE(test::bytes_of(original) == test::bytes_of(fs::path(out) / "model.safetensors"))
      << "re-saved weights differ from " << original;
  auto reloaded = model::model_load(out);
  EXPECT_EQ(model::model_parameter_count(*reloaded), model::model_parameter_count(*model));
}

TEST_P(ModelFixture, KvCacheGivesTheSameGeneration) {
  auto model = load();
  if (model->kind() == model::ModelKind::ImageClassifier) GTEST_SKIP() << "image classifiers do not generate";
  auto prompt = prompt_of(GetParam(), 5);
  model::GenerateOptions options;
  options.max_new_tokens = 10;
  auto cached = model::generate_greedy(*model, prompt, {}, options);
  options.use_cache = false;
  auto recomputed = model::generate_greedy(*model, prompt, {}, options);
  EXPECT_TRUE(torch::equal(cached, recomputed)) << cached << recomputed;
}

TEST_P(ModelFixture, LeftPaddingDoesNotChangeTheGeneration) {
  auto model = load();
  if (model->kind() != model::ModelKind::CausalLM) GTEST_SKIP() << "decoder-only models only";
  auto prompt = prompt_of(GetParam(), 5);
  model::GenerateOptions options;
  options.max_new_tokens = 6;
  auto alone = model::generate_greedy(*model, prompt, {}, options);
  // The same prompt left-padded by 3 next to a longer row.
  const int64_t pad = 3, t = prompt.size(1);
  auto padded = torch::cat({torch::zeros({1, pad}, prompt.options()), prompt}, 1);
  auto other = prompt_of(GetParam(), t).repeat({1, 2}).narrow(1, 0, t + pad);
  auto batch = torch::cat({padded, other}, 0);
  auto mask = torch::ones_like(batch);
  mask.index_put_({0, torch::indexing::Slice(0, pad)}, 0);
  auto together = model::generate_greedy(*model, batch, mask, options);
  EXPECT_TRUE(torch::equal(together.select(0, 0).narrow(0, pad, t + options.max_new_tokens), alone.select(0, 0)))
      << together << alone;
}

TEST_P(ModelFixture, RightPaddingDoesNotChangeRealPositions) {
  auto model = load();
  if (model->kind() != model::ModelKind::CausalLM) GTEST_SKIP() << "decoder-only models only";
  torch::NoGradGuard no_grad;
  auto prompt = prompt_of(GetParam(), 5);
  model::Batch alone;
  alone.input_ids = prompt;
  auto expected = model->forward(alone).logits;
  model::Batch padded;
  padded.input_ids = torch::cat({prompt, torch::zeros({1, 4}, prompt.options())}, 1);
  padded.attention_mask = torch::cat({torch::ones_like(prompt), torch::zeros({1, 4}, prompt.options())}, 1);
  auto got = model->forward(padded).logits.narrow(1, 0, prompt.size(1));
  EXPECT_LT((got - expected).abs().max().item<double>(), 1e-5);
}

TEST_P(ModelFixture, LinearLayersAreTheCheckpointsProjections) {
  auto model = load();
  auto state = model::model_state(*model);
  auto layers = model->linear_layers();
  ASSERT_FALSE(layers.empty());
  for (auto& [name, layer] : layers) {
    if (layer->weight_tied()) continue;
    ASSERT_TRUE(state.count(name + ".weight")) << name;
    EXPECT_TRUE(state.at(name + ".weight").is_same_size(layer->weight)) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ModelFixture, ::testing::ValuesIn(test::model_fixtures()),
                         test::param_name<::testing::TestParamInfo<std::string>>);

// A copy of a fixture with one thing changed, for the error tests below.
std::string fixture_copy(const std::string& name, const std::string& tag) {
  const auto out = test::scratch_dir(tag);
  for (const auto& entry : fs::directory_iterator(test::fixture_path(name))) {
    fs::copy_file(entry.path(), fs::path(out) / entry.path().filename());
  }
  return out;
}

std::string first_causal_fixture() {
  for (const auto& name : test::model_fixtures()) {
    auto config = io::HfConfig::read(test::fixture_path(name) + "/config.json");
    if (config.model_type() == "llama" || config.model_type() == "qwen2" || config.model_type() == "qwen3" ||
        config.model_type() == "mistral") {
      return name;
    }
  }
  return "";
}

TEST(ModelErrors, MissingExtraAndMisshapenTensorsAreNamed) {
  const auto name = first_causal_fixture();
  if (name.empty()) GTEST_SKIP() << "no llama-family fixture";
  auto tensors = io::safetensors_load(test::fixture_path(name) + "/model.safetensors").tensors;
  const std::string victim = "model.norm.weight";
  ASSERT_TRUE(tensors.count(victim));

  auto missing = fixture_copy(name, "missing-tensor");
  auto without = tensors;
  without.erase(victim);
  io::safetensors_save(missing + "/model.safetensors", without);
  auto message = test::error_of([&] { model::model_load(missing); });
  EXPECT_NE(message.find("no tensor '" + victim + "'"), std::string::npos) << message;

  auto extra = fixture_copy(name, "extra-tensor");
  auto with_extra = tensors;
  with_extra["model.layers.0.mystery.weight"] = torch::zeros({2});
  io::safetensors_save(extra + "/model.safetensors", with_extra);
  message = test::error_of([&] { model::model_load(extra); });
  EXPECT_NE(message.find("'model.layers.0.mystery.weight'"), std::string::npos) << message;

  auto misshapen = fixture_copy(name, "misshapen-tensor");
  auto resized = tensors;
  resized[victim] = torch::zeros({tensors.at(victim).size(0) + 1});
  io::safetensors_save(misshapen + "/model.safetensors", resized);
  message = test::error_of([&] { model::model_load(misshapen); });
  EXPECT_NE(message.find("'" + victim + "' has shape"), std::string::npos) << message;
  EXPECT_NE(message.find("config.json"), std::string::npos) << message;
}

// A NaN or infinite weight is refused at load, naming the folder and the tensor, on every fixture
// (before: it loaded, and generation printed [0, 0, 0]).
TEST(ModelErrors, NonFiniteWeightsAreRefusedByName) {
  for (const auto& name : test::model_fixtures()) {
    const auto weights = test::fixture_path(name) + "/model.safetensors";
    if (!fs::exists(weights)) continue;
    auto tensors = io::safetensors_load(weights).tensors;
    // The last floating-point tensor in name order.
    std::string victim;
    for (const auto& [tensor_name, tensor] : tensors) {
      if (tensor.is_floating_point()) victim = tensor_name;
    }
    ASSERT_FALSE(victim.empty()) << name;
    for (double bad : {std::nan(""), std::numeric_limits<double>::infinity()}) {
      auto changed = tensors;
      changed[victim] = tensors.at(victim).clone();
      changed[victim].view({-1})[0] = bad;
      const auto dir = fixture_copy(name, "non-finite-" + name);
      io::safetensors_save(dir + "/model.safetensors", changed);
      test::expect_error_with([&] { model::model_load(dir); }, "[model] " + dir,
                              {victim + "' holds NaN or infinite values"});
    }
  }
}

}  // namespace
