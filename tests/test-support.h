// test-support.h - what the tests share: where their inputs are, scratch and temporary folders, and
// small helpers (expected errors). Every input location can be overridden by an environment
// variable, so the same tests run unchanged on another fixture set of the same layout. No libtorch
// here (tests/base uses it).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace retain::test {

inline std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// One sub-folder per model (llama/, qwen2/, ...), each with config.json, weights, golden.safetensors.
inline std::string fixtures_dir() { return env_or("RETAIN_FIXTURES", RETAIN_SOURCE_DIR "/tests/fixtures/hf"); }

inline std::string fixture_path(const std::string& name) { return fixtures_dir() + "/" + name; }

// GGUF fixtures (tools/make-gguf-fixtures.py): block-type goldens, tiny models with transformers'
// logits, tokenizers with transformers' ids.
inline std::string gguf_fixtures_dir() {
  return env_or("RETAIN_GGUF_FIXTURES", RETAIN_SOURCE_DIR "/tests/fixtures/gguf");
}

// Tokenizer strings with reference ids, and the tokenizer files they name (<key>-tokenizer.json,
// gpt2-encoder.json + gpt2-vocab.bpe), fetched by scripts/fetch-tokenizers.sh.
inline std::string cases_path() {
  return env_or("RETAIN_TOKENIZER_CASES", RETAIN_SOURCE_DIR "/tests/fixtures/tokenizers/cases.json");
}
inline std::string tokenizer_dir() { return env_or("RETAIN_TOKENIZER_DIR", RETAIN_BINARY_DIR "/tokenizers"); }

// The fixture sub-folders that hold reference outputs (golden.safetensors), sorted by name.
inline std::vector<std::string> fixture_names() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(fixtures_dir())) {
    if (std::filesystem::exists(entry.path() / "golden.safetensors")) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Those that also hold `file`: "config.json" for models, "adapter_config.json" for adapters.
inline std::vector<std::string> fixtures_with(const char* file) {
  std::vector<std::string> names;
  for (const auto& name : fixture_names()) {
    if (std::filesystem::exists(std::filesystem::path(fixture_path(name)) / file)) names.push_back(name);
  }
  return names;
}

inline std::vector<std::string> model_fixtures() { return fixtures_with("config.json"); }

// A fresh empty folder under the build tree for one test's outputs, inside a folder of the running
// test's own (ctest runs tests in parallel, each in its own process).
inline std::string scratch_dir(const std::string& name) {
  std::string test = "outside-a-test";
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
    test = std::string(info->test_suite_name()) + "." + info->name();
    std::replace(test.begin(), test.end(), '/', '_');
  }
  auto dir = std::filesystem::path(RETAIN_BINARY_DIR) / "test-scratch" / test / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

inline std::string bytes_of(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The message of the exception `fn` throws, or "" when it throws none.
inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// A fresh empty folder under the system temp folder, named PREFIX-XXXXXX, removed with everything in
// it when the object goes.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix = "retain-test") {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// Runs `body`, which must throw an exception (a retain::Error, say) whose message starts with
// `prefix` and holds every one of `parts`; each miss is a test failure. Callers add context with
// SCOPED_TRACE.
inline void expect_error_with(const std::function<void()>& body, const std::string& prefix,
                              const std::vector<std::string>& parts) {
  try {
    body();
  } catch (const std::exception& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(prefix, 0), 0u) << message;
    for (const auto& part : parts)
      EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
    return;
  }
  ADD_FAILURE() << "no error (expected one starting with '" << prefix << "')";
}

// gtest parameter names must be alphanumeric: "llama3-rope" -> "llama3_rope".
template <typename Info>
std::string param_name(const Info& info) {
  std::string name = info.param;
  for (auto& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

}  // namespace retain::test
