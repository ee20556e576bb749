// GGUF reader, writer and block types. Hostile files are built here byte by byte and must each give
// one retain::Error naming the file and the thing; the block types must give exactly (bit for bit)
// what the `gguf` Python package gives on the fixtures tools/make-gguf-fixtures.py wrote.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../test-support.h"
#include "error.h"
#include "io/gguf-quants.h"
#include "io/gguf-writer.h"
#include "io/gguf.h"
#include "io/safetensors-header.h"
#include "tok/gguf-vocab.h"
#include "tok/tokenizer.h"

namespace retain::io {
namespace {

namespace fs = std::filesystem;

std::string gguf_fixtures() { return test::gguf_fixtures_dir(); }

// ---- building files by hand -------------------------------------------------------------------

struct Builder {
  std::string bytes;
  template <typename T>
  Builder& put(T v) {
    bytes.append(reinterpret_cast<const char*>(&v), sizeof(T));
    return *this;
  }
  Builder& str(const std::string& s) {
    put<uint64_t>(s.size());
    bytes += s;
    return *this;
  }
  Builder& header(uint32_t version, uint64_t tensors, uint64_t kvs) {
    bytes += "GGUF";
    return put<uint32_t>(version).put<uint64_t>(tensors).put<uint64_t>(kvs);
  }
  // A tensor entry: name, dims, type, offset.
  Builder& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name).put<uint32_t>(static_cast<uint32_t>(ne.size()));
    for (auto n : ne) put<uint64_t>(n);
    return put<uint32_t>(type).put<uint64_t>(offset);
  }
  Builder& pad(size_t alignment = 32) {
    bytes.resize((bytes.size() + alignment - 1) / alignment * alignment, '\0');
    return *this;
  }
  Builder& data(size_t n) {
    bytes.append(n, '\0');
    return *this;
  }
};

const std::string kFile = "hostile.gguf";

std::shared_ptr<GgufFile> parse(const std::string& bytes) {
  return GgufFile::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), kFile);
}

// The parse must fail with a message that starts with the component and file and has each of `parts`.
void expect_error(const std::string& bytes, std::initializer_list<std::string> parts) {
  SCOPED_TRACE("a file of " + std::to_string(bytes.size()) + " bytes");
  test::expect_error_with([&] { parse(bytes); }, "[gguf] " + kFile + ": ", parts);
}

// A valid file: one u32 key and one F32 tensor [2, 3] holding 0..5.
std::string valid_file() {
  Builder b;
  b.header(3, 1, 1).str("answer").put<uint32_t>(4).put<uint32_t>(42);
  b.tensor("t", {3, 2}, 0, 0).pad();
  for (int i = 0; i < 6; ++i) b.put<float>(static_cast<float>(i));
  return b.pad().bytes;
}

TEST(GgufReader, ReadsAValidFile) {
  const auto bytes = valid_file();
  auto file = parse(bytes);
  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->get_int("answer"), 42);
  ASSERT_EQ(file->tensors().size(), 1u);
  const auto& t = file->tensors()[0];
  EXPECT_EQ(t.shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t.bytes, 24u);
  float v[6];
  std::memcpy(v, file->tensor_data(t), 24);
  EXPECT_EQ(v[5], 5.0f);
}

TEST(GgufReader, RefusesHostileHeaders) {
  expect_error("GGU", {"not a GGUF file"});
  expect_error("GGML" + std::string(20, '\0'), {"not a GGUF file"});
  expect_error(Builder().header(1, 0, 0).bytes, {"version 1"});
  expect_error(Builder().header(4, 0, 0).bytes, {"version 4"});
  expect_error(Builder().header(3, 0, 1u << 30).bytes, {"metadata entries"});
  expect_error(Builder().header(3, 1ull << 40, 0).bytes, {"tensors, more than the file can hold"});
  // A key whose length runs past the end.
  expect_error(Builder().header(3, 0, 1).put<uint64_t>(1000).data(40).bytes, {"1000 bytes long", "past the end"});
  expect_error(Builder().header(3, 0, 1).str("k").put<uint32_t>(13).bytes, {"'k'", "unknown value type 13"});
  expect_error(Builder().header(3, 0, 1).str("k").put<uint32_t>(7).put<uint8_t>(2).bytes, {"'k'", "bool"});
  expect_error(Builder().header(3, 0, 1).str("k").put<uint32_t>(6).bytes, {"'k'", "needs 4 bytes"});
  // An array claiming more elements than the file holds, and arrays nested too deep.
  expect_error(Builder().header(3, 0, 1).str("a").put<uint32_t>(9).put<uint32_t>(4).put<uint64_t>(1ull << 60).bytes,
               {"'a'", "array of", "remaining"});
  Builder deep;
  deep.header(3, 0, 1).str("a").put<uint32_t>(9);
  for (int i = 0; i < 20; ++i) deep.put<uint32_t>(9).put<uint64_t>(1);  // an array of one array of ...
  expect_error(deep.bytes, {"'a'", "deep"});
  expect_error(Builder()
                   .header(3, 0, 2)
                   .str("k")
                   .put<uint32_t>(0)
                   .put<uint8_t>(1)
                   .str("k")
                   .put<uint32_t>(0)
                   .put<uint8_t>(1)
                   .bytes,
               {"'k'", "twice"});
  expect_error(Builder().header(3, 0, 1).str("general.alignment").put<uint32_t>(4).put<uint32_t>(48).bytes,
               {"general.alignment", "power of two"});
  expect_error(Builder().header(3, 0, 1).str("general.alignment").put<uint32_t>(8).str("x").bytes,
               {"general.alignment", "u32"});
}

TEST(GgufReader, RefusesHostileTensorTables) {
  auto one = [](std::vector<uint64_t> ne, uint32_t type, uint64_t offset, size_t data) {
    return Builder().header(3, 1, 0).tensor("w", ne, type, offset).pad().data(data).bytes;
  };
  expect_error(one({}, 0, 0, 32), {"'w'", "0 dimensions"});
  expect_error(one({1, 1, 1, 1, 1}, 0, 0, 32), {"'w'", "5 dimensions"});
  expect_error(one({0, 4}, 0, 0, 32), {"'w'", "dimension 0 of size 0"});
  expect_error(one({1ull << 40, 1ull << 40}, 0, 0, 32), {"'w'", "not a valid size"});
  expect_error(one({4}, 99, 0, 32), {"'w'", "unknown ggml type 99"});
  expect_error(one({33}, 8, 0, 64), {"'w'", "not a multiple of Q8_0's block of 32"});
  expect_error(one({4}, 0, 8, 32), {"'w'", "offset 8", "alignment"});
  expect_error(one({16}, 0, 0, 32), {"'w'", "ends at byte 64 of the data, past its 32 bytes"});
  expect_error(one({16}, 0, 1ull << 63, 64), {"'w'", "past its"});
  Builder twice;
  twice.header(3, 2, 0).tensor("w", {8}, 0, 0).tensor("w", {8}, 0, 32).pad().data(64);
  expect_error(twice.bytes, {"'w'", "twice"});
  Builder overlap;
  overlap.header(3, 2, 0).tensor("a", {16}, 0, 0).tensor("b", {8}, 0, 32).pad().data(64);
  expect_error(overlap.bytes, {"'a'", "'b'", "overlap"});
}

// Every prefix of a valid file is refused with an Error, never a crash or a read past the end
// (the sanitizer build checks the latter).
TEST(GgufReader, EveryTruncationIsAnError) {
  const auto bytes = valid_file();
  for (size_t n = 0; n < bytes.size() - 24; ++n) {
    const std::string prefix = bytes.substr(0, n);
    EXPECT_THROW(parse(prefix), Error) << n << " bytes";
  }
}

TEST(GgufReader, TypedReadsNameTheKey) {
  const auto bytes = valid_file();
  auto file = parse(bytes);
  EXPECT_NE(test::error_of([&] { file->get_string("answer"); }).find("'answer' must be a string, found a u32"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { file->get_int("missing"); }).find("has no metadata 'missing'"), std::string::npos);
  EXPECT_EQ(file->get_int("missing", 7), 7);
}

TEST(GgufWriter, RoundTripsEveryValueTypeAndTheTensors) {
  const auto dir = test::scratch_dir("gguf-writer");
  const std::string path = dir + "/x.gguf";
  GgufWriter w(64);
  GgufValue nested = gguf_string_array({"a", "bc"});
  GgufValue outer;
  outer.type = GgufValueType::ARRAY;
  outer.element_type = GgufValueType::ARRAY;
  outer.array = {nested, gguf_string_array({})};
  GgufValue big;
  big.type = GgufValueType::U64;
  big.u = 1ull << 40;
  GgufValue neg;
  neg.type = GgufValueType::I8;
  neg.i = -5;
  w.set("s", gguf_string("text with ünïcode"));
  w.set("f", gguf_f32(0.25f));
  w.set("b", gguf_bool(true));
  w.set("big", big);
  w.set("neg", neg);
  w.set("nested", outer);
  w.set("ints", gguf_i32_array({1, -2, 3}));
  std::vector<float> values(64);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.5f - 3.0f;
  w.add_tensor("f32", {16, 4}, GgmlType::F32, [&](uint8_t* dst) { std::memcpy(dst, values.data(), 256); });
  w.add_tensor("q8", {32, 2}, GgmlType::Q8_0,
               [&](uint8_t* dst) { ggml_quantize(GgmlType::Q8_0, values.data(), dst, 64); });
  w.write(path);

  auto file = GgufFile::open(path);
  EXPECT_EQ(file->alignment(), 64u);
  EXPECT_EQ(file->get_string("s"), "text with ünïcode");
  EXPECT_EQ(file->get_float("f"), 0.25);
  EXPECT_TRUE(file->get_bool("b", false));
  EXPECT_EQ(file->get_int("big"), 1ll << 40);
  EXPECT_EQ(file->get_int("neg"), -5);
  EXPECT_EQ(file->get_int_array("ints"), (std::vector<int64_t>{1, -2, 3}));
  const auto* n = file->find("nested");
  ASSERT_TRUE(n && n->array.size() == 2);
  EXPECT_EQ(n->array[0].array[1].s, "bc");
  EXPECT_TRUE(n->array[1].array.empty());
  ASSERT_EQ(file->tensors().size(), 2u);
  EXPECT_EQ(file->data_start() % 64, 0u);
  for (const auto& t : file->tensors()) EXPECT_EQ(t.offset % 64, 0u);
  std::vector<float> back(64);
  ggml_dequantize(GgmlType::F32, file->tensor_data(*file->find_tensor("f32")), back.data(), 64);
  EXPECT_EQ(back, values);
  ggml_dequantize(GgmlType::Q8_0, file->tensor_data(*file->find_tensor("q8")), back.data(), 64);
  for (size_t i = 0; i < 64; ++i)
    EXPECT_NEAR(back[i], values[i], 28.5f / 127 * 0.6f) << i;  // half a step, and d rounded to float16
}

TEST(GgufQuants, HalfAndBfloat16ConversionsRoundToNearestEven) {
  EXPECT_EQ(float_to_half(1.0f), 0x3C00);
  EXPECT_EQ(float_to_half(65504.0f), 0x7BFF);
  EXPECT_EQ(float_to_half(65520.0f), 0x7C00);                      // rounds up to infinity
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);         // smallest subnormal
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);         // halfway to zero: even
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // halfway: even
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  for (uint32_t h = 0; h < 0x7C00; ++h) ASSERT_EQ(float_to_half(half_to_float(static_cast<uint16_t>(h))), h) << h;
  EXPECT_EQ(float_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(bf16_to_float(0x3F80), 1.0f);
  EXPECT_EQ(float_to_bf16(std::nanf("")) & 0x7FC0, 0x7FC0);
}

// ---- against the reference package ------------------------------------------------------------

struct Safetensors {
  std::string bytes;
  SafetensorsHeader header;
  std::vector<float> f32(const std::string& name) const {
    for (const auto& t : header.tensors) {
      if (t.name != name) continue;
      std::vector<float> out((t.end - t.begin) / 4);
      std::memcpy(out.data(), bytes.data() + header.data_start + t.begin, t.end - t.begin);
      return out;
    }
    ADD_FAILURE() << "no tensor " << name;
    return {};
  }
};

Safetensors read_safetensors(const std::string& path) {
  Safetensors s;
  s.bytes = test::bytes_of(path);
  s.header = safetensors_header_parse(reinterpret_cast<const uint8_t*>(s.bytes.data()), s.bytes.size(), path);
  return s;
}

uint32_t bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// Every tensor of quants.gguf dequantizes to exactly the package's float32 values.
TEST(GgufQuants, DequantizationEqualsTheReferenceBitForBit) {
  auto file = GgufFile::open(gguf_fixtures() + "/quants.gguf");
  const auto expected = read_safetensors(gguf_fixtures() + "/quants-expected.safetensors");
  std::map<std::string, int> types_seen;
  for (const auto& t : file->tensors()) {
    ASSERT_TRUE(ggml_can_dequantize(t.type)) << t.name;
    std::vector<float> got(t.elements());
    ggml_dequantize(t.type, file->tensor_data(t), got.data(), t.elements());
    const auto want = expected.f32(t.name);
    ASSERT_EQ(got.size(), want.size()) << t.name;
    size_t mismatches = 0;
    for (size_t i = 0; i < got.size(); ++i) mismatches += bits(got[i]) != bits(want[i]);
    EXPECT_EQ(mismatches, 0u) << t.name << " (" << ggml_type_name(static_cast<uint32_t>(t.type)) << ")";
    ++types_seen[ggml_type_name(static_cast<uint32_t>(t.type))];
  }
  // The fixture covers every type retain claims to read.
  for (const char* name :
       {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"}) {
    EXPECT_GT(types_seen[name], 0) << name;
  }
}

// Quantizing the same floats gives the package's bytes exactly.
TEST(GgufQuants, QuantizationEqualsTheReferenceBytes) {
  auto file = GgufFile::open(gguf_fixtures() + "/quantized.gguf");
  const auto input = read_safetensors(gguf_fixtures() + "/quantize-input.safetensors").f32("x");
  ASSERT_FALSE(input.empty());
  int checked = 0;
  for (const auto& t : file->tensors()) {
    if (!ggml_can_quantize(t.type)) continue;
    ASSERT_EQ(t.elements(), input.size()) << t.name;
    std::vector<uint8_t> got(t.bytes);
    ggml_quantize(t.type, input.data(), got.data(), input.size());
    EXPECT_EQ(std::memcmp(got.data(), file->tensor_data(t), t.bytes), 0) << t.name;
    ++checked;
  }
  EXPECT_GE(checked, 7);
}

TEST(GgufQuants, UnsupportedTypesAreRefusedByName) {
  EXPECT_NE(test::error_of([] {
              float out[256];
              uint8_t in[66] = {};
              ggml_dequantize(GgmlType::IQ2_XXS, in, out, 256);
            }).find("IQ2_XXS"),
            std::string::npos);
  EXPECT_FALSE(ggml_can_quantize(GgmlType::Q4_K));
}

}  // namespace
}  // namespace retain::io

namespace retain::tok {
namespace {

// A tokenizer GGUF the cases name. Qwen2.5's (5.9 MB of metadata) is not committed: it is built here
// from the fetched Qwen3 tokenizer.json, the same 151,643-token vocabulary and merges with the qwen2
// pre-tokenizer (its cases were checked equal to tokenizers/cases.json's qwen3 ids).
std::string tokenizer_gguf(const std::string& file) {
  const auto path = test::gguf_fixtures_dir() + "/" + file;
  if (std::filesystem::exists(path) || file != "tokenizer-qwen2.5.gguf") return path;
  const auto built = test::scratch_dir("gguf-qwen2.5-tokenizer") + "/" + file;
  io::GgufWriter writer;
  writer.set("general.architecture", io::gguf_string("qwen2"));
  gguf_tokenizer_metadata(test::tokenizer_dir() + "/qwen3-tokenizer.json", writer);
  writer.write(built);
  return built;
}

// Every case of tokenizer-cases.json, for every GGUF it names: the ids of the tokenizer
// transformers builds from the same file, with and without special tokens, and the decoded text.
// {"<file>.gguf": [{"text", "ids", "ids_with_special", "decoded"}, ...], ...}
TEST(GgufTokenizer, IdsEqualTheReferenceOnEveryCase) {
  const auto path = test::gguf_fixtures_dir() + "/tokenizer-cases.json";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  const auto cases = nlohmann::json::parse(in);
  ASSERT_FALSE(cases.empty());
  for (const auto& [file, entries] : cases.items()) {
    std::unique_ptr<Tokenizer> tokenizer;
    ASSERT_NO_THROW(tokenizer = Tokenizer::load(tokenizer_gguf(file))) << file;
    size_t mismatched = 0;
    for (const auto& c : entries) {
      const std::string text = c["text"];
      const auto ids = tokenizer->encode(text, false);
      const auto with_special = tokenizer->encode(text, true);
      const bool ok = ids == c["ids"].get<std::vector<int32_t>>() &&
                      with_special == c["ids_with_special"].get<std::vector<int32_t>>() &&
                      tokenizer->decode(with_special, true) == c["decoded"].get<std::string>();
      if (!ok && ++mismatched <= 3) ADD_FAILURE() << file << ": " << nlohmann::json(text).dump();
    }
    EXPECT_EQ(mismatched, 0u) << file << ": " << mismatched << " of " << entries.size() << " cases differ";
  }
}

// llama.cpp's own ids (tools/make-llamacpp-cases.py) on every case it reads without special tokens
// (its plain and special ids agree): digit runs, code, whitespace, scripts. Texts holding special-token
// strings are left to the transformers cases: llama.cpp also treats normal tokens that look like
// control tokens ("</s>" in Qwen2.5's vocabulary) as special, which transformers and retain do not.
TEST(GgufTokenizer, IdsEqualLlamaCppOnPlainText) {
  const auto path = test::gguf_fixtures_dir() + "/tokenizer-cases-llamacpp.json";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  const auto cases = nlohmann::json::parse(in);
  size_t compared = 0;
  for (const auto& [file, entries] : cases.items()) {
    const auto tokenizer = Tokenizer::load(tokenizer_gguf(file));
    for (const auto& c : entries) {
      if (c["ids"] != c["ids_with_special"]) continue;
      const std::string text = c["text"];
      EXPECT_EQ(tokenizer->encode(text, false), c["ids"].get<std::vector<int32_t>>())
          << file << ": " << nlohmann::json(text).dump();
      ++compared;
    }
  }
  EXPECT_GE(compared, 10u);
}

// GGUF -> tokenizer.json -> GGUF metadata -> tokenizer: the same ids (what `retain convert` relies on).
TEST(GgufTokenizer, MetadataRoundTripsThroughTokenizerJson) {
  const auto dir = test::scratch_dir("gguf-tokenizer-roundtrip");
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(test::gguf_fixtures_dir())) {
    const auto name = entry.path().filename().string();
    if (name.rfind("tokenizer-", 0) != 0 || entry.path().extension() != ".gguf") continue;
    const auto file = io::GgufFile::open(entry.path().string());
    const auto json_path = dir + "/" + name + ".tokenizer.json";
    std::ofstream(json_path) << gguf_tokenizer_json(*file).dump();
    io::GgufWriter writer;
    writer.set("general.architecture", io::gguf_string("llama"));
    gguf_tokenizer_metadata(json_path, writer);
    const auto back_path = dir + "/" + name;
    writer.write(back_path);
    const auto a = Tokenizer::load(entry.path().string());
    const auto b = Tokenizer::load(back_path);
    for (const std::string text : {"Hello world, 123 tokens!", "  two  spaces\n\nand lines", "ünïcödé 日本語 🎉"}) {
      EXPECT_EQ(a->encode(text, true), b->encode(text, true)) << name << ": " << text;
    }
    ++checked;
  }
  EXPECT_GE(checked, 2);
}

}  // namespace
}  // namespace retain::tok
