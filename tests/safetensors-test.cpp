// safetensors files and checkpoint folders on libtorch: every fixture file loads as zero-copy views
// of its mapping and saves back byte for byte; every dtype round-trips bit-exactly; sharded
// checkpoints round-trip and a corrupt index is a clear error. The fixture folder is
// $RETAIN_FIXTURES (default tests/fixtures/hf); the tests use whatever files it holds.
#include <stdlib.h>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "error.h"
#include "io/safetensors-header.h"
#include "io/safetensors.h"
#include "test-support.h"

namespace retain::io {
namespace {

namespace fs = std::filesystem;

fs::path fixture_dir() { return test::fixtures_dir(); }

std::vector<fs::path> fixture_files() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(fixture_dir())) {
    if (entry.is_regular_file() && entry.path().extension() == ".safetensors") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

SafetensorsHeader header_of(const std::string& bytes, const std::string& name) {
  return safetensors_header_parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), name);
}

// Whether `p` lies inside a mapping of `path`, by /proc/self/maps (Linux).
bool in_mapping_of(const void* p, const fs::path& path) {
  const std::string target = fs::canonical(path).string();
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.size() < target.size() || line.compare(line.size() - target.size(), target.size(), target) != 0) continue;
    uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream(line) >> std::hex >> begin >> dash >> end;
    const auto address = reinterpret_cast<uintptr_t>(p);
    if (address >= begin && address < end) return true;
  }
  return false;
}

bool mapped(const fs::path& path) {
  const std::string target = fs::canonical(path).string();
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.size() >= target.size() && line.compare(line.size() - target.size(), target.size(), target) == 0) {
      return true;
    }
  }
  return false;
}

using test::TempDir;

// The message of the retain::Error that `f` throws, or "" (with a test failure) when none.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no retain::Error";
  return "";
}

#define EXPECT_HAS(message, part) EXPECT_NE((message).find(part), std::string::npos) << (message)

std::string le64(uint64_t n) {
  std::string bytes(8, '\0');
  std::memcpy(bytes.data(), &n, 8);
  return bytes;
}

template <typename T>
std::string raw(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

const std::map<std::string, std::string> kTorchNames = {
    {"F64", "Double"}, {"F32", "Float"}, {"F16", "Half"}, {"BF16", "BFloat16"}, {"I64", "Long"},
    {"I32", "Int"},    {"I16", "Short"}, {"I8", "Char"},  {"U8", "Byte"},       {"BOOL", "Bool"}};

TEST(Safetensors, FixtureFolderHasFiles) {
  ASSERT_FALSE(fixture_files().empty()) << "no .safetensors under " << fixture_dir();
}

// Each tensor holds exactly the bytes its header entry points at, and the views share the mapping.
TEST(Safetensors, EveryFixtureLoadsAsViewsOfTheFile) {
  for (const auto& path : fixture_files()) {
    SCOPED_TRACE(path.string());
    const std::string bytes = read_bytes(path);
    const SafetensorsHeader header = header_of(bytes, path.string());
    const SafetensorsFile file = safetensors_load(path.string());
    EXPECT_EQ(file.metadata, header.metadata);
    ASSERT_EQ(file.tensors.size(), header.tensors.size());
    for (const auto& entry : header.tensors) {
      SCOPED_TRACE(entry.name);
      const torch::Tensor& t = file.tensors.at(entry.name);
      EXPECT_EQ(t.sizes().vec(), entry.shape);
      EXPECT_EQ(std::string(c10::toString(t.scalar_type())), kTorchNames.at(dtype_name(entry.dtype)));
      EXPECT_TRUE(t.is_contiguous());
      ASSERT_EQ(static_cast<uint64_t>(t.nbytes()), entry.end - entry.begin);
      if (t.numel() == 0) continue;
      EXPECT_EQ(std::memcmp(t.data_ptr(), bytes.data() + header.data_start + entry.begin, t.nbytes()), 0);
      const bool aligned = (header.data_start + entry.begin) % dtype_size(entry.dtype) == 0;
      EXPECT_EQ(in_mapping_of(t.data_ptr(), path), aligned)
          << (aligned ? "aligned but copied" : "unaligned but viewed");
    }
  }
}

TEST(Safetensors, MappingLivesWhileATensorUsesIt) {
  TempDir dir;
  const std::string path = dir / "w.safetensors";
  safetensors_save(path, {{"a", torch::arange(6, torch::kFloat)}, {"b", torch::ones({2}, torch::kLong)}});
  torch::Tensor a;
  {
    SafetensorsFile file = safetensors_load(path);
    a = file.tensors.at("a");
    EXPECT_TRUE(in_mapping_of(a.data_ptr(), path));
  }
  EXPECT_TRUE(mapped(path));
  EXPECT_TRUE(torch::equal(a, torch::arange(6, torch::kFloat)));
  a = torch::Tensor();
  EXPECT_FALSE(mapped(path));
}

TEST(Safetensors, WritingALoadedTensorLeavesTheFileAlone) {
  TempDir dir;
  const std::string path = dir / "w.safetensors";
  safetensors_save(path, {{"a", torch::full({4}, 2.5f)}});
  const std::string before = read_bytes(path);
  torch::Tensor a = safetensors_load(path).tensors.at("a");
  a.add_(1);  // copy-on-write pages: no segfault, no change on disk
  EXPECT_TRUE(torch::equal(a, torch::full({4}, 3.5f)));
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_TRUE(torch::equal(safetensors_load(path).tensors.at("a"), torch::full({4}, 2.5f)));
}

// A writer that does not pad its header (MLX does not) leaves data unaligned: loaded by copy.
TEST(Safetensors, UnalignedDataLoadsByCopy) {
  const std::vector<float> f32 = {1.5f, -2.25f, 3.0e-3f, std::numeric_limits<float>::infinity()};
  const std::vector<int16_t> i16 = {-32768, 32767, 7};
  const std::vector<double> f64 = {0.1, -1e300};
  const std::vector<uint8_t> u8 = {255, 0, 9};
  // u8 first and no padding, so every other tensor starts at an odd offset.
  const std::string json = R"({"u8":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},)"
                           R"("i16":{"dtype":"I16","shape":[3],"data_offsets":[3,9]},)"
                           R"("f32":{"dtype":"F32","shape":[2,2],"data_offsets":[9,25]},)"
                           R"("f64":{"dtype":"F64","shape":[2],"data_offsets":[25,41]}})";
  TempDir dir;
  const std::string path = dir / "unaligned.safetensors";
  write_bytes(path, le64(json.size()) + json + raw(u8) + raw(i16) + raw(f32) + raw(f64));
  ASSERT_NE((8 + json.size() + 3) % 2, 0u);

  const TensorMap tensors = safetensors_load(path).tensors;
  const torch::Tensor& t_i16 = tensors.at("i16");
  const torch::Tensor& t_f32 = tensors.at("f32");
  const torch::Tensor& t_f64 = tensors.at("f64");
  EXPECT_FALSE(in_mapping_of(t_i16.data_ptr(), path));
  EXPECT_FALSE(in_mapping_of(t_f32.data_ptr(), path));
  EXPECT_FALSE(in_mapping_of(t_f64.data_ptr(), path));
  EXPECT_TRUE(in_mapping_of(tensors.at("u8").data_ptr(), path));  // bytes are always aligned
  EXPECT_EQ(t_f32.sizes().vec(), (std::vector<int64_t>{2, 2}));
  for (size_t i = 0; i < f32.size(); ++i) EXPECT_EQ(t_f32.view(-1)[i].item<float>(), f32[i]);
  for (size_t i = 0; i < i16.size(); ++i) EXPECT_EQ(t_i16[i].item<int16_t>(), i16[i]);
  for (size_t i = 0; i < f64.size(); ++i) EXPECT_EQ(t_f64[i].item<double>(), f64[i]);
  for (size_t i = 0; i < u8.size(); ++i) EXPECT_EQ(tensors.at("u8")[i].item<uint8_t>(), u8[i]);
}

TEST(Safetensors, EveryDtypeRoundTripsExactly) {
  // 16-bit floats as bit patterns: 1, -2, +inf, a NaN with payload, the smallest subnormal, -0.
  const std::vector<int16_t> bf16_bits = {0x3f80, int16_t(0xc000), 0x7f80, 0x7fc1, 0x0001, int16_t(0x8000)};
  const std::vector<int16_t> f16_bits = {0x3c00, int16_t(0xc000), 0x7c00, 0x7e01, 0x0001, int16_t(0x8000)};
  const auto i16 = torch::kShort;
  const TensorMap tensors = {
      {"f64", torch::tensor({0.1, -1e300, 5e-324}, torch::kDouble)},
      {"f32", torch::tensor({1.0f / 3, -0.0f, 1e-45f}, torch::kFloat).reshape({3, 1})},
      {"f16", torch::tensor(f16_bits, i16).view(torch::kHalf)},
      {"bf16", torch::tensor(bf16_bits, i16).view(torch::kBFloat16).reshape({2, 3})},
      {"i64", torch::tensor({std::numeric_limits<int64_t>::min(), int64_t(0), std::numeric_limits<int64_t>::max()},
                            torch::kLong)},
      {"i32",
       torch::tensor({std::numeric_limits<int32_t>::min(), -1, std::numeric_limits<int32_t>::max()}, torch::kInt)},
      {"i16", torch::tensor({-32768, 1, 32767}, i16)},
      {"i8", torch::tensor({-128, 0, 127}, torch::kChar)},
      {"u8", torch::tensor({0, 128, 255}, torch::kByte)},
      {"bool", torch::tensor({true, false, true})},
      {"scalar", torch::tensor(42.5, torch::kDouble)},
      {"empty", torch::zeros({0, 3})},
  };
  TempDir dir;
  const std::string path = dir / "dtypes.safetensors";
  safetensors_save(path, tensors, {{"format", "pt"}, {"note", "every dtype"}});

  const SafetensorsFile file = safetensors_load(path);
  EXPECT_EQ(file.metadata, (std::map<std::string, std::string>{{"format", "pt"}, {"note", "every dtype"}}));
  ASSERT_EQ(file.tensors.size(), tensors.size());
  for (const auto& [name, expected] : tensors) {
    const torch::Tensor& got = file.tensors.at(name);
    EXPECT_EQ(got.scalar_type(), expected.scalar_type()) << name;
    EXPECT_EQ(got.sizes(), expected.sizes()) << name;
    EXPECT_EQ(got.nbytes(), expected.nbytes()) << name;
    EXPECT_EQ(std::memcmp(got.data_ptr(), expected.data_ptr(), got.nbytes()), 0) << name;
  }
  const torch::Tensor bf16 = file.tensors.at("bf16").view(i16).view(-1);
  const torch::Tensor f16 = file.tensors.at("f16").view(i16);
  for (size_t i = 0; i < bf16_bits.size(); ++i) EXPECT_EQ(bf16[i].item<int16_t>(), bf16_bits[i]) << i;
  for (size_t i = 0; i < f16_bits.size(); ++i) EXPECT_EQ(f16[i].item<int16_t>(), f16_bits[i]) << i;
  EXPECT_EQ(file.tensors.at("bf16").view(-1)[0].item<float>(), 1.0f);
  EXPECT_EQ(file.tensors.at("f16")[1].item<float>(), -2.0f);
  EXPECT_EQ(file.tensors.at("i64")[0].item<int64_t>(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(file.tensors.at("bool")[1].item<bool>(), false);
  EXPECT_EQ(file.tensors.at("scalar").dim(), 0);
  EXPECT_EQ(file.tensors.at("scalar").item<double>(), 42.5);

  // The Rust writer's order: I64, F64, F32, I32, BF16, F16, I16, I8, U8, BOOL; then by name.
  std::vector<std::string> order;
  for (const auto& entry : header_of(read_bytes(path), path).tensors) order.push_back(entry.name);
  EXPECT_EQ(order, (std::vector<std::string>{"i64", "f64", "scalar", "empty", "f32", "i32", "bf16", "f16", "i16", "i8",
                                             "u8", "bool"}));
}

TEST(Safetensors, SavesNonContiguousTensors) {
  const torch::Tensor base = torch::arange(12, torch::kFloat).reshape({3, 4});
  const TensorMap tensors = {{"t", base.t()}, {"s", base.index({torch::indexing::Slice(), 1})}};
  TempDir dir;
  safetensors_save(dir / "v.safetensors", tensors);
  const TensorMap loaded = safetensors_load(dir / "v.safetensors").tensors;
  EXPECT_TRUE(torch::equal(loaded.at("t"), base.t()));
  EXPECT_TRUE(torch::equal(loaded.at("s"), torch::tensor({1.0f, 5.0f, 9.0f})));
}

TEST(Safetensors, SavesGpuTensors) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const torch::Tensor cpu = torch::randn({5, 7}).to(torch::kBFloat16);
  TempDir dir;
  safetensors_save(dir / "gpu.safetensors", {{"w", cpu.to(torch::kCUDA).t()}});
  EXPECT_TRUE(torch::equal(safetensors_load(dir / "gpu.safetensors").tensors.at("w"), cpu.t()));
}

TEST(Safetensors, SaveIsAtomic) {
  TempDir dir;
  const std::string path = dir / "w.safetensors";
  safetensors_save(path, {{"a", torch::ones({2})}});
  const std::string before = read_bytes(path);
  // An unsupported dtype fails before anything is written; the old file stays, no temp file is left.
  EXPECT_HAS(error_of([&] {
               safetensors_save(path, {{"z", torch::ones({2}, torch::kComplexFloat)}});
             }),
             "tensor 'z' has dtype ComplexFloat");
  EXPECT_HAS(error_of([&] { safetensors_save(path, {{"__metadata__", torch::ones({2})}}); }), "'__metadata__'");
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_HAS(error_of([&] { safetensors_save(dir / "missing/w.safetensors", {}); }), "cannot create");
}

// Saving what was loaded, with its metadata, reproduces a Hugging Face (Rust-written) file exactly.
TEST(Safetensors, EveryFixtureSavesBackByteForByte) {
  TempDir dir;
  for (const auto& path : fixture_files()) {
    SCOPED_TRACE(path.string());
    const SafetensorsFile file = safetensors_load(path.string());
    const std::string copy = dir / "copy.safetensors";
    safetensors_save(copy, file.tensors, file.metadata);
    const std::string original = read_bytes(path), saved = read_bytes(copy);
    ASSERT_EQ(saved.size(), original.size());
    EXPECT_TRUE(saved == original) << "first difference at byte "
                                   << std::mismatch(saved.begin(), saved.end(), original.begin()).first - saved.begin();
  }
}

TEST(Safetensors, HostileFilesAreErrorsNamingFileAndTensor) {
  TempDir dir;
  const std::string path = dir / "bad.safetensors";
  const std::string json = R"({"flags":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]},)"
                           R"("w":{"dtype":"F32","shape":[2],"data_offsets":[2,10]}})";
  write_bytes(path, le64(json.size()) + json + std::string("\x01\x02", 2) + std::string(8, '\0'));
  std::string message = error_of([&] { safetensors_load(path); });
  EXPECT_HAS(message, "[safetensors] " + path + ": tensor 'flags' is BOOL but holds bytes other than 0 and 1");

  write_bytes(path, le64(json.size()) + json + std::string(6, '\0'));  // truncated
  message = error_of([&] { safetensors_load(path); });
  EXPECT_HAS(message, "[safetensors] " + path + ": tensor 'w' ends at byte 10 of the data, past its 6 bytes");

  write_bytes(path, "");
  EXPECT_HAS(error_of([&] { safetensors_load(path); }), path + ": the file has 0 bytes");
  EXPECT_HAS(error_of([&] { safetensors_load(dir / "absent.safetensors"); }), "absent.safetensors: cannot open");
  EXPECT_HAS(error_of([&] { safetensors_load(dir.path.string()); }), "not a regular file");
}

TEST(Checkpoint, EveryFixtureFolderLoads) {
  for (const auto& entry : fs::directory_iterator(fixture_dir())) {
    if (!fs::exists(entry.path() / "model.safetensors")) continue;
    SCOPED_TRACE(entry.path().string());
    const TensorMap tensors = checkpoint_load(entry.path().string());
    const TensorMap direct = safetensors_load((entry.path() / "model.safetensors").string()).tensors;
    ASSERT_EQ(tensors.size(), direct.size());
    for (const auto& [name, t] : direct) EXPECT_TRUE(torch::equal(tensors.at(name), t)) << name;
  }
}

TensorMap small_model() {
  TensorMap tensors;
  for (int i = 0; i < 5; ++i) {
    // 100 floats = 400 bytes each, plus one 1000-byte tensor that must get a shard of its own.
    tensors["layer." + std::to_string(i) + ".weight"] = torch::arange(100, torch::kFloat) + i;
  }
  tensors["embed"] = torch::arange(250, torch::kFloat);
  tensors["ids"] = torch::arange(3, torch::kLong);
  return tensors;
}

TEST(Checkpoint, ShardedSaveLoadsTheSameTensors) {
  TempDir dir;
  const TensorMap tensors = small_model();
  checkpoint_save(dir.path.string(), tensors, /*max_shard_bytes=*/900);

  // In name order: embed (1000 bytes > 900) alone; ids + layer.0 + layer.1 (824); layer.2 + layer.3
  // (800); layer.4.
  const std::map<std::string, std::string> expected = {
      {"embed", "model-00001-of-00004.safetensors"},          {"ids", "model-00002-of-00004.safetensors"},
      {"layer.0.weight", "model-00002-of-00004.safetensors"}, {"layer.1.weight", "model-00002-of-00004.safetensors"},
      {"layer.2.weight", "model-00003-of-00004.safetensors"}, {"layer.3.weight", "model-00003-of-00004.safetensors"},
      {"layer.4.weight", "model-00004-of-00004.safetensors"}};
  const auto index = nlohmann::json::parse(read_bytes(dir.path / "model.safetensors.index.json"));
  EXPECT_EQ(index["metadata"]["total_size"].get<uint64_t>(), 1000u + 24u + 5 * 400u);
  EXPECT_EQ((index["weight_map"].get<std::map<std::string, std::string>>()), expected);
  EXPECT_FALSE(fs::exists(dir.path / "model.safetensors"));
  for (const auto& [name, shard] : expected) {
    EXPECT_EQ(safetensors_load(dir / shard).metadata.at("format"), "pt");
  }

  const TensorMap loaded = checkpoint_load(dir.path.string());
  ASSERT_EQ(loaded.size(), tensors.size());
  for (const auto& [name, t] : tensors) EXPECT_TRUE(torch::equal(loaded.at(name), t)) << name;

  // Saved again under the limit: one file, and the shards and index of the earlier save are gone.
  checkpoint_save(dir.path.string(), tensors);
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir.path)) files.push_back(entry.path().filename().string());
  EXPECT_EQ(files, std::vector<std::string>{"model.safetensors"});
  EXPECT_EQ(checkpoint_load(dir.path.string()).size(), tensors.size());
}

TEST(Checkpoint, CorruptIndexIsAClearError) {
  TempDir dir;
  checkpoint_save(dir.path.string(), small_model(), 900);
  const std::string index_path = dir / "model.safetensors.index.json";
  const std::string shard1 = dir / "model-00001-of-00004.safetensors";
  const std::string shard2 = dir / "model-00002-of-00004.safetensors";
  auto index = nlohmann::json::parse(read_bytes(index_path));
  auto with_index = [&](const nlohmann::json& edited) {
    write_bytes(index_path, edited.dump());
    return error_of([&] { checkpoint_load(dir.path.string()); });
  };

  write_bytes(index_path, "{\"weight_map\": {");
  EXPECT_HAS(error_of([&] { checkpoint_load(dir.path.string()); }), "[checkpoint] " + index_path + ": not valid JSON");
  EXPECT_HAS(with_index({{"metadata", {}}}), index_path + ": has no \"weight_map\" object");
  EXPECT_HAS(with_index({{"weight_map", nlohmann::json::object()}}), "lists no tensor");

  auto edited = index;
  edited["weight_map"]["ghost"] = "model-00001-of-00004.safetensors";
  EXPECT_HAS(with_index(edited), "tensor 'ghost' is listed in the index but missing from " + shard1);

  edited = index;
  edited["weight_map"]["ids"] = "model-00001-of-00004.safetensors";  // it is in shard 2
  EXPECT_HAS(with_index(edited), "tensor 'ids' is listed under " + shard1 + " but is in " + shard2);

  edited = index;
  edited["weight_map"]["ids"] = "../model-00002-of-00004.safetensors";
  EXPECT_HAS(with_index(edited), "tensor 'ids' is mapped to \"../model-00002-of-00004.safetensors\", not a file name");

  edited = index;
  edited["weight_map"]["ids"] = "model-00009-of-00004.safetensors";
  EXPECT_HAS(with_index(edited), "model-00009-of-00004.safetensors: cannot open");

  // The same tensor in two shards.
  write_bytes(index_path, index.dump());
  safetensors_save(shard1, {{"embed", torch::arange(250, torch::kFloat)}, {"ids", torch::arange(3, torch::kLong)}});
  EXPECT_HAS(error_of([&] { checkpoint_load(dir.path.string()); }),
             "tensor 'ids' is in both " + shard1 + " and " + shard2);

  fs::remove(index_path);
  EXPECT_HAS(error_of([&] { checkpoint_load(dir.path.string()); }),
             "[checkpoint] " + dir.path.string() + ": has neither model.safetensors nor model.safetensors.index.json");
}

}  // namespace
}  // namespace retain::io
