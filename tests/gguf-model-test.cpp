// Models from GGUF files: logits equal those transformers computes loading the same file
// (from_pretrained(..., gguf_file=...)), the writer gives back llama.cpp's layout (Q/K permutation,
// names, tied output) exactly, and GGUF -> Hugging Face folder -> model changes nothing.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/gguf-quants.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "model/checkpoint.h"
#include "model/gguf-model.h"
#include "model/golden.h"
#include "test-support.h"
#include "tok/tokenizer.h"

namespace retain::model {
namespace {

namespace fs = std::filesystem;

std::string gguf_fixtures() { return test::gguf_fixtures_dir(); }

// Model files that have reference logits beside them: <stem>.gguf + <stem>.golden.safetensors.
std::vector<std::string> golden_models() {
  std::vector<std::string> stems;
  for (const auto& entry : fs::directory_iterator(gguf_fixtures())) {
    const std::string name = entry.path().filename().string();
    const std::string suffix = ".golden.safetensors";
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      const std::string stem = name.substr(0, name.size() - suffix.size());
      if (fs::exists(fs::path(gguf_fixtures()) / (stem + ".gguf"))) stems.push_back(stem);
    }
  }
  std::sort(stems.begin(), stems.end());
  return stems;
}

std::string gguf_path(const std::string& stem) { return gguf_fixtures() + "/" + stem + ".gguf"; }

torch::Tensor logits_of(Model& model, const torch::Tensor& ids) {
  torch::NoGradGuard no_grad;
  Batch batch;
  batch.input_ids = ids;
  return model.forward(batch).logits;
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

class GgufModel : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufModel, LogitsEqualTransformersLoadingTheSameFile) {
  const auto golden = io::safetensors_load(gguf_fixtures() + "/" + GetParam() + ".golden.safetensors").tensors;
  auto model = model_load(gguf_path(GetParam()));
  const auto logits = logits_of(*model, golden.at("input_ids"));
  // transformers drops rope_freqs.weight (Llama 3 RoPE scaling) and computes default RoPE; llama.cpp
  // applies it. Such a file is compared with the Hugging Face checkpoint it was converted from.
  const bool scaled = io::GgufFile::open(gguf_path(GetParam()))->find_tensor("rope_freqs.weight") != nullptr;
  const auto& reference = golden.at(scaled ? "logits.hf" : "logits");
  ASSERT_EQ(logits.sizes(), reference.sizes());
  EXPECT_LE(max_abs_diff(logits, reference), kGoldenLogitsTolerance);
}

// GGUF -> retain -> GGUF with the same type: every tensor's bytes and every metadata value come
// back (quantized types too: a block that dequantizes and quantizes again is not guaranteed to be
// the same block, so the lossless rewrite is checked on F32 / F16 / BF16 tensors only).
TEST_P(GgufModel, WritingBackGivesTheSameTensors) {
  const auto source = io::GgufFile::open(gguf_path(GetParam()));
  auto model = model_load(gguf_path(GetParam()));
  const auto out = test::scratch_dir("gguf-rewrite-" + GetParam()) + "/out.gguf";
  model::GgufSaveOptions options;
  options.type = io::GgmlType::F32;
  gguf_model_save(*model, out, options);
  const auto written = io::GgufFile::open(out);
  ASSERT_EQ(written->tensors().size(), source->tensors().size());
  for (const auto& t : source->tensors()) {
    const auto* w = written->find_tensor(t.name);
    ASSERT_NE(w, nullptr) << t.name;
    EXPECT_EQ(w->ne, t.ne) << t.name;
    std::vector<float> a(t.elements()), b(t.elements());
    io::ggml_dequantize(t.type, source->tensor_data(t), a.data(), t.elements());
    io::ggml_dequantize(w->type, written->tensor_data(*w), b.data(), t.elements());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0) << t.name << ": the values changed";
    if (t.type == io::GgmlType::F32) {
      EXPECT_EQ(std::memcmp(source->tensor_data(t), written->tensor_data(*w), t.bytes), 0) << t.name;
    }
  }
  for (const auto& [key, value] : source->metadata()) {
    if (key == "general.file_type" || key == "general.quantization_version") continue;
    const auto* v = written->find(key);
    ASSERT_NE(v, nullptr) << key;
    EXPECT_EQ(v->type, value.type) << key;
    EXPECT_EQ(v->array.size(), value.array.size()) << key;
  }
}

// GGUF -> Hugging Face folder -> model: the same logits to the bit, and the same tokenizer.
TEST_P(GgufModel, ConvertedFolderComputesTheSame) {
  auto model = model_load(gguf_path(GetParam()));
  const auto dir = test::scratch_dir("gguf-convert-" + GetParam());
  model_save(*model, dir);
  ASSERT_TRUE(fs::exists(fs::path(dir) / "config.json"));
  auto again = model_load(dir);
  const auto ids = torch::arange(0, 12, torch::kLong).reshape({1, 12});
  EXPECT_TRUE(torch::equal(logits_of(*model, ids), logits_of(*again, ids)));
  if (io::GgufFile::open(gguf_path(GetParam()))->has("tokenizer.ggml.model")) {
    const auto a = tok::Tokenizer::load(gguf_path(GetParam()));
    const auto b = tok::Tokenizer::load(dir);
    const std::string text = "Hello world, 123 tokens!\n  twice";
    EXPECT_EQ(a->encode(text, true), b->encode(text, true));
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GgufModel, ::testing::ValuesIn(golden_models()),
                         test::param_name<::testing::TestParamInfo<std::string>>);

// Hugging Face folder -> GGUF gives what llama.cpp's converter wrote from the same weights: the
// Q/K rows permuted for the llama architecture, output.weight left out when tied.
TEST(GgufWriter, FolderToGgufMatchesLlamaCppsConverter) {
  int compared = 0;
  for (const std::string name : {"llama", "qwen2", "qwen3"}) {
    const auto reference_path = gguf_path(name + "-f32");
    if (!fs::exists(test::fixture_path(name)) || !fs::exists(reference_path)) continue;
    auto model = model_load(test::fixture_path(name));
    const auto out = test::scratch_dir("gguf-from-folder-" + name) + "/out.gguf";
    model::GgufSaveOptions options;
    options.tokenizer_source = reference_path;
    gguf_model_save(*model, out, options);
    const auto reference = io::GgufFile::open(reference_path);
    const auto written = io::GgufFile::open(out);
    EXPECT_EQ(written->tensors().size(), reference->tensors().size()) << name;
    for (const auto& t : reference->tensors()) {
      const auto* w = written->find_tensor(t.name);
      ASSERT_NE(w, nullptr) << name << ": " << t.name;
      ASSERT_EQ(w->bytes, t.bytes) << name << ": " << t.name;
      EXPECT_EQ(std::memcmp(written->tensor_data(*w), reference->tensor_data(t), t.bytes), 0) << name << ": " << t.name;
    }
    ++compared;
  }
  EXPECT_GT(compared, 0);
}

uint64_t fnv1a64(const std::string& bytes) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char b : bytes) h = (h ^ b) * 0x100000001B3ull;
  return h;
}

// llama.cpp itself runs what retain writes: tools/make-llamacpp-logits.sh stored llama.cpp's logits
// on the files `retain convert` writes from the tiny fixtures (with their checksums). The file
// written now must be that very file, and retain's logits on it must agree with llama.cpp's. The
// tolerance comes from what llama.cpp's CPU matrix products round: nothing more for F32 weights
// (the golden tolerance), the activations to float16 for F16 weights (2^-11 relative) and to Q8_0
// blocks for quantized weights (half a step of 1/127 of the block's largest value); four such
// roundings, relative to the largest logit, cover the two layers and the head.
TEST(GgufWriter, LlamaCppComputesWhatRetainComputesOnTheFilesItWrites) {
  const auto dir = fs::path(gguf_fixtures()) / "llamacpp";
  if (!fs::exists(dir)) GTEST_SKIP() << dir << " is missing (tools/make-llamacpp-logits.sh)";
  int compared = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    const auto golden = nlohmann::json::parse(in);
    const std::string name = entry.path().stem().string();
    const std::string type_name = golden["type"];
    const auto type = *io::ggml_type_from_name(type_name);
    auto model = model_load(RETAIN_SOURCE_DIR "/tests/fixtures/hf/" + golden["hf_fixture"].get<std::string>());
    const auto out = test::scratch_dir("gguf-llamacpp-" + name) + "/out.gguf";
    GgufSaveOptions options;
    options.type = type;
    options.tokenizer_source = RETAIN_SOURCE_DIR "/tests/fixtures/gguf/llama-f32.gguf";
    gguf_model_save(*model, out, options);
    const auto bytes = test::bytes_of(out);
    ASSERT_EQ(bytes.size(), golden["file_bytes"].get<size_t>()) << name;
    char hex[17];
    std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(fnv1a64(bytes)));
    ASSERT_EQ(std::string(hex), golden["fnv1a64"].get<std::string>()) << name << ": not the file llama.cpp ran";

    const auto ids = torch::tensor(golden["ids"].get<std::vector<int64_t>>()).reshape({1, -1});
    auto reloaded = model_load(out);
    auto logits = logits_of(*reloaded, ids);
    std::vector<torch::Tensor> rows;
    for (const auto& row : golden["logits"]) rows.push_back(torch::tensor(row.get<std::vector<float>>()));
    const auto want = torch::stack(rows).unsqueeze(0);
    const double scale = want.abs().max().item<double>();
    const double rounding = type == io::GgmlType::F32                                 ? 0
                            : type == io::GgmlType::F16 || type == io::GgmlType::BF16 ? std::ldexp(1.0, -11)
                                                                                      : 1.0 / 254;
    const double tolerance = type == io::GgmlType::F32 ? kGoldenLogitsTolerance : 4 * rounding * scale;
    EXPECT_LE(max_abs_diff(logits, want), tolerance) << name;
    ++compared;
  }
  EXPECT_GE(compared, 4);
}

// Writing a quantized type stores each matrix as the quantizer's blocks: reading them back gives
// quantize-then-dequantize of the original, and 1-D tensors stay F32.
TEST(GgufWriter, QuantizedOutputHoldsTheQuantizedWeights) {
  const auto stems = golden_models();
  ASSERT_FALSE(stems.empty());
  auto model = model_load(gguf_path(stems.front()));
  const auto state = model_state(*model);
  for (const char* type_name : {"q8_0", "q4_0", "f16", "bf16"}) {
    const auto type = *io::ggml_type_from_name(type_name);
    const auto out = test::scratch_dir(std::string("gguf-quantized-") + type_name) + "/out.gguf";
    model::GgufSaveOptions options;
    options.type = type;
    gguf_model_save(*model, out, options);
    auto again = model_load(out);
    const auto state_again = model_state(*again);
    for (const auto& [name, tensor] : state) {
      const auto& back = state_again.at(name);
      if (tensor.dim() == 1) {
        EXPECT_TRUE(torch::equal(tensor, back)) << type_name << ": " << name;
        continue;
      }
      const auto& w = tensor;
      if (w.size(-1) % io::ggml_type_info(type).block_size != 0) continue;  // stored as F16 instead
      const auto err = (back - w).abs().max().item<double>();
      const auto scale = w.abs().max().item<double>();
      EXPECT_LE(err, scale * (type == io::GgmlType::Q4_0 ? 0.125 : 0.01)) << type_name << ": " << name;
      EXPECT_FALSE(type != io::GgmlType::F32 && torch::equal(back, w) && w.abs().max().item<double>() > 0.1)
          << type_name << ": " << name << " was not quantized";
    }
    EXPECT_EQ(io::GgufFile::open(out)->get_int("general.file_type"), type == io::GgmlType::Q8_0   ? 7
                                                                     : type == io::GgmlType::Q4_0 ? 2
                                                                     : type == io::GgmlType::F16  ? 1
                                                                                                  : 32);
  }
}

}  // namespace
}  // namespace retain::model
