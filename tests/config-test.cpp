// config.json: both rope layouts, clear refusals, errors that name the file and the key.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "io/hf-config.h"
#include "model/checkpoint.h"
#include "model/registry.h"
#include "test-support.h"

namespace {

namespace fs = std::filesystem;
using retain::io::HfConfig;

using retain::test::error_of;

TEST(HfConfig, BothRopeLayoutsReadTheSame) {
  auto v5 = HfConfig::parse(R"({"model_type":"llama","rope_parameters":{"rope_type":"llama3","rope_theta":500000.0,
      "factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192}})",
                            "v5.json");
  auto v4 = HfConfig::parse(R"({"model_type":"llama","rope_theta":500000.0,"rope_scaling":{"rope_type":"llama3",
      "factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192}})",
                            "v4.json");
  auto old = HfConfig::parse(R"({"model_type":"llama","rope_theta":500000.0,"rope_scaling":{"type":"llama3",
      "factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192}})",
                             "old.json");
  for (const auto* config : {&v5, &v4, &old}) {
    auto rope = config->rope();
    EXPECT_EQ(rope.type, "llama3");
    EXPECT_EQ(rope.theta, 500000.0);
    EXPECT_EQ(rope.factor, 8.0);
    EXPECT_EQ(rope.low_freq_factor, 1.0);
    EXPECT_EQ(rope.high_freq_factor, 4.0);
    EXPECT_EQ(rope.original_max_position_embeddings, 8192);
  }
  auto plain = HfConfig::parse(R"({"model_type":"llama","rope_theta":1000000.0,"rope_scaling":null})", "plain.json");
  EXPECT_EQ(plain.rope().type, "default");
  EXPECT_EQ(plain.rope().theta, 1e6);
}

TEST(HfConfig, UnsupportedRopeTypeIsRefusedByName) {
  auto yarn =
      HfConfig::parse(R"({"model_type":"qwen2","rope_scaling":{"rope_type":"yarn","factor":4.0}})", "dir/config.json");
  auto message = error_of([&] { yarn.rope(); });
  EXPECT_NE(message.find("dir/config.json"), std::string::npos) << message;
  EXPECT_NE(message.find("'yarn'"), std::string::npos) << message;
  EXPECT_NE(message.find("llama3"), std::string::npos) << "should list what is supported: " << message;
  auto incomplete =
      HfConfig::parse(R"({"model_type":"llama","rope_scaling":{"rope_type":"llama3","factor":8.0}})", "c.json");
  message = error_of([&] { incomplete.rope(); });
  EXPECT_NE(message.find("low_freq_factor"), std::string::npos) << message;
}

TEST(HfConfig, ErrorsNameTheFileAndTheKey) {
  auto config =
      HfConfig::parse(R"({"model_type":"llama","hidden_size":"64","num_hidden_layers":2.5})", "m/config.json");
  auto message = error_of([&] { config.get_int("hidden_size"); });
  EXPECT_NE(message.find("m/config.json"), std::string::npos) << message;
  EXPECT_NE(message.find("'hidden_size'"), std::string::npos) << message;
  message = error_of([&] { config.get_int("num_hidden_layers"); });
  EXPECT_NE(message.find("'num_hidden_layers'"), std::string::npos) << message;
  message = error_of([&] { config.get_int("vocab_size"); });
  EXPECT_NE(message.find("missing required field 'vocab_size'"), std::string::npos) << message;
  EXPECT_EQ(config.get_int("vocab_size", 7), 7);
  message = error_of([] { HfConfig::parse("{not json", "bad/config.json"); });
  EXPECT_NE(message.find("bad/config.json"), std::string::npos) << message;
  // Integers past int64, as an unsigned or a float (found by fuzz/hf-config-fuzz.cpp: the float was cast,
  // undefined behaviour; the unsigned wrapped to -1).
  const auto huge =
      HfConfig::parse(R"({"a": 6.4e122, "b": 18446744073709551615, "c": [1, 9223372036854775808]})", "h/config.json");
  for (const char* key : {"a", "b"}) {
    message = error_of([&] { huge.get_int(key); });
    EXPECT_NE(message.find(std::string("field '") + key + "' must be an integer"), std::string::npos) << message;
  }
  message = error_of([&] { huge.get_int_list("c"); });
  EXPECT_NE(message.find("field 'c' must be an integer or a list of integers"), std::string::npos) << message;
  // A number JSON can write but a double cannot hold (found by fuzz/hf-config-fuzz.cpp).
  message = error_of([] { HfConfig::parse(R"({"rms_norm_eps": 1e999})", "huge/config.json"); });
  EXPECT_EQ(message.rfind("[config] huge/config.json: invalid JSON", 0), 0u) << message;
  message = error_of([] { HfConfig::parse(R"({"hidden_size": 4})", "x/config.json").model_type(); });
  EXPECT_NE(message.find("'model_type'"), std::string::npos) << message;
}

TEST(HfConfig, UnknownModelTypeAndHeadAreRefusedByName) {
  auto bert = HfConfig::parse(R"({"model_type":"bert"})", "b/config.json");
  auto message = error_of([&] { retain::model::model_create(bert, torch::TensorOptions()); });
  EXPECT_NE(message.find("model_type 'bert' is not supported"), std::string::npos) << message;
  EXPECT_NE(message.find("llama"), std::string::npos) << message;
  auto classifier = HfConfig::parse(R"({"model_type":"llama","architectures":["LlamaForSequenceClassification"],
      "vocab_size":8,"hidden_size":8,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":2})",
                                    "s/config.json");
  message = error_of([&] { retain::model::model_create(classifier, torch::TensorOptions()); });
  EXPECT_NE(message.find("LlamaForSequenceClassification"), std::string::npos) << message;
}

TEST(HfConfig, ImpossibleHeadCountsAreRefusedNotCrashed) {
  const std::pair<const char*, const char*> cases[] = {
      {R"("num_attention_heads":0)", "'num_attention_heads'"},
      {R"("num_attention_heads":-2)", "'num_attention_heads'"},
      {R"("num_attention_heads":4,"num_key_value_heads":3)", "num_key_value_heads"}};
  for (const auto& [heads, blamed] : cases) {
    auto config = HfConfig::parse(std::string(R"({"model_type":"llama","vocab_size":8,"hidden_size":8,)") +
                                      R"("intermediate_size":8,"num_hidden_layers":1,)" + heads + "}",
                                  "h/config.json");
    auto message = error_of([&] { retain::model::model_create(config, torch::TensorOptions()); });
    EXPECT_NE(message.find(blamed), std::string::npos) << message;
  }
}

// Every size, count, epsilon and rope number a fixture's config.json holds, set to 0 and to -1, is
// refused with the file and the key (before: negative rms_norm_eps, max_position_embeddings 0,
// rope_theta 0 and a rope factor of -1 built a model).
TEST(HfConfig, ValuesThatCannotBeRightAreRefusedOnEveryFixture) {
  const char* keys[] = {"vocab_size",
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
                        "num_channels",
                        "rms_norm_eps",
                        "layer_norm_epsilon",
                        "layer_norm_eps",
                        "rope_theta",
                        "relative_attention_num_buckets",
                        "relative_attention_max_distance"};
  int refused = 0;
  for (const auto& name : retain::test::model_fixtures()) {
    const auto original = HfConfig::read(retain::test::fixture_path(name) + "/config.json").json();
    auto expect_refused = [&](const nlohmann::json& json, const std::string& key) {
      const auto path = name + "/config.json";
      auto message = error_of([&] { retain::model::model_create(HfConfig::parse(json.dump(), path), {}); });
      EXPECT_EQ(message.rfind("[config] " + path, 0), 0u) << name << " " << key << ": " << message;
      EXPECT_NE(message.find(key), std::string::npos) << name << " " << key << ": " << message;
      ++refused;
    };
    for (const char* key : keys) {
      if (!original.contains(key) || !original[key].is_number()) continue;
      for (double bad : {0.0, -1.0}) {
        auto json = original;
        json[key] = bad;
        expect_refused(json, key);
      }
    }
    for (const char* group : {"rope_parameters", "rope_scaling"}) {
      if (!original.contains(group) || !original[group].is_object()) continue;
      for (const auto& [key, value] : original[group].items()) {
        if (!value.is_number()) continue;
        auto json = original;
        json[group][key] = -1.0;
        expect_refused(json, std::string(group) + "." + key);
      }
    }
  }
  EXPECT_GT(refused, 0) << "no fixture has any of the keys";
}

// Rewrites every fixture whose config uses the transformers-5 layout ("rope_parameters") into the
// transformers-4 layout (top-level "rope_theta" + "rope_scaling") and checks the logits are equal.
TEST(HfConfig, Transformers4LayoutLoadsTheSameModel) {
  int converted = 0;
  for (const auto& name : retain::test::fixture_names()) {
    const auto dir = retain::test::fixture_path(name);
    if (!fs::exists(dir + "/config.json")) continue;
    auto json = HfConfig::read(dir + "/config.json").json();
    if (!json.contains("rope_parameters")) continue;
    auto rope = json["rope_parameters"];
    json.erase("rope_parameters");
    json["rope_theta"] = rope["rope_theta"];
    rope.erase("rope_theta");
    json["rope_scaling"] = rope["rope_type"] == "default" ? nlohmann::json(nullptr) : rope;
    const auto out = retain::test::scratch_dir("v4-layout-" + name);
    fs::copy_file(dir + "/model.safetensors", out + "/model.safetensors");
    std::ofstream(out + "/config.json") << json.dump(2);

    auto a = retain::model::model_load(dir), b = retain::model::model_load(out);
    retain::model::Batch batch;
    batch.input_ids = torch::arange(1, 9, torch::kLong).unsqueeze(0);
    EXPECT_TRUE(torch::equal(a->forward(batch).logits, b->forward(batch).logits)) << name;
    ++converted;
  }
  if (converted == 0) GTEST_SKIP() << "no fixture in the transformers-5 layout";
}

}  // namespace
