// test-paths.h - where the tests find their inputs. Every fixture location can be overridden by an
// environment variable, so the same tests run unchanged on another fixture set of the same layout.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace retain::test {

inline std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// One sub-folder per model (llama/, qwen2/, ...), each with config.json, weights, golden.safetensors.
inline std::string fixtures_dir() { return env_or("RETAIN_FIXTURES", RETAIN_SOURCE_DIR "/tests/fixtures/hf"); }

// The fixture sub-folders that hold a golden.safetensors, sorted by name.
inline std::vector<std::string> fixture_names() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(fixtures_dir())) {
    if (std::filesystem::exists(entry.path() / "golden.safetensors")) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

inline std::string fixture_path(const std::string& name) { return fixtures_dir() + "/" + name; }

// A fresh empty folder under the build tree for one test's outputs.
inline std::string scratch_dir(const std::string& name) {
  auto dir = std::filesystem::path(RETAIN_BINARY_DIR) / "test-scratch" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace retain::test
