// gguf-vocab.cpp - tokenizer.ggml.* <-> tokenizer.json.
#include "tok/gguf-vocab.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <unordered_map>

#include "error.h"
#include "tok/json-node.h"
#include "tok/unicode.h"

namespace retain::tok {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// token_type values (llama.cpp's llama_token_type).
constexpr int64_t kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kByte = 6;

// The pre-tokenizer regexes of llama.cpp's pre types, as the models' tokenizer.json files write
// them (llama.cpp runs the same expressions).
const char* const kGpt2Regex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
const char* const kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

json byte_level(bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", use_regex}};
}
json split(const char* regex) {
  return {{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}};
}

struct PreType {
  std::vector<std::string> names;  // tokenizer.ggml.pre values
  json normalizer;
  json pre_tokenizer;
  bool ignore_merges;
};

const std::vector<PreType>& pre_types() {
  static const std::vector<PreType> types = {
      {{"default", "gpt-2", "gpt2", "mpt", "olmo", "jais"}, nullptr, byte_level(true), false},
      {{"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone"},
       nullptr,
       {{"type", "Sequence"}, {"pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}}, byte_level(true)}}},
       false},
      {{"llama-bpe", "llama3", "llama-v3", "falcon3", "pixtral"},
       nullptr,
       {{"type", "Sequence"}, {"pretokenizers", {split(kLlama3Regex), byte_level(false)}}},
       true},
      {{"qwen2", "stablelm2", "deepseek-r1-qwen"},
       {{"type", "NFC"}},
       {{"type", "Sequence"}, {"pretokenizers", {split(kQwen2Regex), byte_level(false)}}},
       false},
  };
  return types;
}

std::string pre_type_names() {
  std::string out;
  for (const auto& t : pre_types()) {
    for (const auto& n : t.names) out += (out.empty() ? "" : ", ") + n;
  }
  return out;
}

// Python's len() of a UTF-8 string: code points.
size_t code_points(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// transformers' generate_merges(vocab, vocab_scores): every split of every token into two
// tokens of the vocabulary, ordered by the token's score, longer left and right parts first.
json merges_from_scores(const std::vector<std::string>& tokens, const std::vector<double>& scores) {
  std::unordered_map<std::string, int64_t> vocab;
  for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = static_cast<int64_t>(i);  // a dict: the last id wins
  struct Merge {
    std::string left, right;
    double score;
    size_t left_len, right_len;
  };
  std::vector<Merge> merges;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    std::vector<Merge> local;
    for (size_t cut = 1; cut < t.size(); ++cut) {
      if ((static_cast<unsigned char>(t[cut]) & 0xC0) == 0x80) continue;  // inside a code point
      std::string l = t.substr(0, cut), r = t.substr(cut);
      if (vocab.count(l) && vocab.count(r)) local.push_back({l, r, scores[i], code_points(l), code_points(r)});
    }
    std::sort(local.begin(), local.end(), [&](const Merge& a, const Merge& b) {
      return std::make_pair(vocab[a.left], vocab[a.right]) < std::make_pair(vocab[b.left], vocab[b.right]);
    });
    merges.insert(merges.end(), local.begin(), local.end());
  }
  // sorted(..., key=(score, len(left), len(right)), reverse=True) is stable: equal keys keep
  // their order.
  std::stable_sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) {
    return std::make_tuple(a.score, a.left_len, a.right_len) > std::make_tuple(b.score, b.left_len, b.right_len);
  });
  json out = json::array();
  for (const auto& m : merges) out.push_back(json::array({m.left, m.right}));
  return out;
}

json template_post(const std::vector<std::string>& tokens, bool add_bos, int64_t bos, bool add_eos, int64_t eos) {
  json single = json::array();
  json special = json::object();
  auto add = [&](int64_t id) {
    const std::string& t = tokens[static_cast<size_t>(id)];
    single.push_back({{"SpecialToken", {{"id", t}, {"type_id", 0}}}});
    special[t] = {{"id", t}, {"ids", {id}}, {"tokens", {t}}};
  };
  if (add_bos) add(bos);
  single.push_back({{"Sequence", {{"id", "A"}, {"type_id", 0}}}});
  if (add_eos) add(eos);
  return {{"type", "TemplateProcessing"}, {"single", single}, {"pair", single}, {"special_tokens", special}};
}

}  // namespace

json gguf_tokenizer_json(const io::GgufFile& file) {
  const std::string model = file.get_string("tokenizer.ggml.model");
  const auto tokens = file.get_string_array("tokenizer.ggml.tokens");
  const int64_t n = static_cast<int64_t>(tokens.size());
  std::vector<int64_t> types(tokens.size(), kNormal);
  if (file.has("tokenizer.ggml.token_type")) {
    types = file.get_int_array("tokenizer.ggml.token_type");
    if (types.size() != tokens.size()) {
      file.fail("metadata 'tokenizer.ggml.token_type' has ", types.size(), " entries for ", tokens.size(), " tokens");
    }
  }
  auto token_id = [&](const char* key, int64_t fallback) {
    const int64_t id = file.get_int(key, fallback);
    if (id != -1 && (id < 0 || id >= n))
      file.fail("metadata '", key, "' is ", id, ", not one of the ", n, " token ids");
    return id;
  };

  json vocab = json::object();
  for (int64_t i = 0; i < n; ++i) {
    if (vocab.contains(tokens[static_cast<size_t>(i)])) {
      // tokenizers keeps one id per string; llama.cpp files may repeat padding tokens.
      continue;
    }
    vocab[tokens[static_cast<size_t>(i)]] = i;
  }

  json out;
  out["version"] = "1.0";
  out["truncation"] = nullptr;
  out["padding"] = nullptr;
  json added = json::array();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t type = types[static_cast<size_t>(i)];
    if (type != kControl && type != kUserDefined) continue;
    added.push_back({{"id", i},
                     {"content", tokens[static_cast<size_t>(i)]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", type == kUserDefined && model == "llama"},
                     {"special", type == kControl}});
  }
  out["added_tokens"] = added;

  const bool spm = model == "llama";
  const int64_t bos = token_id("tokenizer.ggml.bos_token_id", spm ? 1 : -1);
  const int64_t eos = token_id("tokenizer.ggml.eos_token_id", spm ? 2 : -1);
  const bool add_bos = file.get_bool("tokenizer.ggml.add_bos_token", spm) && bos >= 0;
  const bool add_eos = file.get_bool("tokenizer.ggml.add_eos_token", false) && eos >= 0;

  if (model == "gpt2") {
    const std::string pre = file.get_string("tokenizer.ggml.pre", "default");
    const PreType* found = nullptr;
    for (const auto& t : pre_types()) {
      if (std::find(t.names.begin(), t.names.end(), pre) != t.names.end()) found = &t;
    }
    if (!found) {
      file.fail("metadata 'tokenizer.ggml.pre' is '", pre, "'; retain knows: ", pre_type_names());
    }
    json merges = json::array();
    for (const auto& m : file.get_string_array("tokenizer.ggml.merges")) {
      const auto space = m.find(' ');
      if (space == std::string::npos || m.find(' ', space + 1) != std::string::npos) {
        file.fail("metadata 'tokenizer.ggml.merges' holds \"", m, "\", not \"left right\"");
      }
      merges.push_back(json::array({m.substr(0, space), m.substr(space + 1)}));
    }
    out["normalizer"] = found->normalizer;
    out["pre_tokenizer"] = found->pre_tokenizer;
    out["model"] = {{"type", "BPE"},
                    {"dropout", nullptr},
                    {"unk_token", nullptr},
                    {"continuing_subword_prefix", ""},
                    {"end_of_word_suffix", ""},
                    {"fuse_unk", false},
                    {"byte_fallback", false},
                    {"ignore_merges", found->ignore_merges},
                    {"vocab", vocab},
                    {"merges", merges}};
    out["decoder"] = byte_level(true);
    out["post_processor"] = (add_bos || add_eos) ? template_post(tokens, add_bos, bos, add_eos, eos) : byte_level(true);
  } else if (model == "llama") {
    const auto scores = file.get_float_array("tokenizer.ggml.scores");
    if (scores.size() != tokens.size()) {
      file.fail("metadata 'tokenizer.ggml.scores' has ", scores.size(), " entries for ", tokens.size(), " tokens");
    }
    int64_t unk = token_id("tokenizer.ggml.unknown_token_id", -1);
    if (unk < 0) {
      for (int64_t i = 0; i < n && unk < 0; ++i) {
        if (types[static_cast<size_t>(i)] == kUnknown) unk = i;
      }
    }
    // As transformers builds it (LlamaTokenizer, legacy = false): "▁" for spaces and one before
    // the text's first piece only. llama.cpp also puts one after each special token.
    const bool prefix = file.get_bool("tokenizer.ggml.add_space_prefix", true);
    out["normalizer"] = nullptr;
    out["pre_tokenizer"] = {{"type", "Metaspace"},
                            {"replacement", "\u2581"},
                            {"prepend_scheme", prefix ? "first" : "never"},
                            {"split", false}};
    out["model"] = {{"type", "BPE"},
                    {"dropout", nullptr},
                    {"unk_token", unk >= 0 ? json(tokens[static_cast<size_t>(unk)]) : json(nullptr)},
                    {"continuing_subword_prefix", nullptr},
                    {"end_of_word_suffix", nullptr},
                    {"fuse_unk", true},
                    {"byte_fallback", true},
                    {"ignore_merges", false},
                    {"vocab", vocab},
                    {"merges", merges_from_scores(tokens, scores)}};
    out["decoder"] = {{"type", "Sequence"},
                      {"decoders",
                       {{{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
                        {{"type", "ByteFallback"}},
                        {{"type", "Fuse"}},
                        {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
    out["post_processor"] = (add_bos || add_eos) ? template_post(tokens, add_bos, bos, add_eos, eos) : json(nullptr);
  } else {
    file.fail("metadata 'tokenizer.ggml.model' is '", model,
              "'; retain reads gpt2 (byte-level BPE) and llama (SentencePiece BPE)");
  }
  return out;
}

void gguf_tokenizer_metadata(const std::string& tokenizer_path, io::GgufWriter& out) {
  std::string path = tokenizer_path;
  if (fs::is_directory(path)) path = (fs::path(path) / "tokenizer.json").string();
  const json root = json_file_parse(path);
  const JsonNode node(root, path, "");
  const JsonNode model = node["model"];
  if (model.str_or("type", "BPE") != "BPE") model.fail("only BPE tokenizers can be written to GGUF");
  const bool spm = model.bool_or("byte_fallback", false);

  // Tokens by id: the vocabulary, then the added tokens at their ids.
  std::map<int64_t, std::string> by_id;
  std::map<int64_t, int64_t> type_of;
  for (const auto& [token, id] : root["model"]["vocab"].items()) by_id[id.get<int64_t>()] = token;
  if (node.has("added_tokens")) {
    for (const auto& t : root["added_tokens"]) {
      const int64_t id = t["id"].get<int64_t>();
      by_id[id] = t["content"].get<std::string>();
      type_of[id] = t.value("special", false) ? kControl : kUserDefined;
    }
  }
  const int64_t n = by_id.empty() ? 0 : by_id.rbegin()->first + 1;
  std::vector<std::string> tokens(static_cast<size_t>(n));
  std::vector<int64_t> types(static_cast<size_t>(n), kNormal);
  for (int64_t i = 0; i < n; ++i) {
    auto it = by_id.find(i);
    // Ids no token has (padding rows) get a placeholder, as llama.cpp's converter writes them.
    tokens[static_cast<size_t>(i)] = it != by_id.end() ? it->second : "[PAD" + std::to_string(i) + "]";
    if (it == by_id.end()) types[static_cast<size_t>(i)] = kUserDefined;
    if (type_of.count(i)) types[static_cast<size_t>(i)] = type_of[i];
    const auto& t = tokens[static_cast<size_t>(i)];
    if (spm && t.size() == 6 && t.rfind("<0x", 0) == 0 && t.back() == '>') types[static_cast<size_t>(i)] = kByte;
  }

  std::vector<std::string> merges;
  for (const auto& m : root["model"]["merges"]) {
    merges.push_back(m.is_string() ? m.get<std::string>() : m[0].get<std::string>() + " " + m[1].get<std::string>());
  }

  // Special tokens of the post-processor: bos (first) and eos (last) of a template.
  int64_t bos = -1, eos = -1;
  bool add_bos = false, add_eos = false;
  if (node.has("post_processor") && root["post_processor"].value("type", "") == "TemplateProcessing") {
    const auto& single = root["post_processor"]["single"];
    auto id_of = [&](const json& piece) -> int64_t {
      const std::string name = piece["SpecialToken"]["id"].get<std::string>();
      for (const auto& [id, t] : by_id) {
        if (t == name) return id;
      }
      return -1;
    };
    if (!single.empty() && single.front().contains("SpecialToken")) {
      bos = id_of(single.front());
      add_bos = bos >= 0;
    }
    if (single.size() > 1 && single.back().contains("SpecialToken")) {
      eos = id_of(single.back());
      add_eos = eos >= 0;
    }
  }

  if (spm) {
    // Scores that give llama.cpp's merge-by-score the merges' order: the token a merge makes
    // scores minus its rank; tokens no merge makes score 0.
    std::unordered_map<std::string, size_t> rank;
    for (size_t r = 0; r < merges.size(); ++r) {
      const auto space = merges[r].find(' ');
      rank.emplace(merges[r].substr(0, space) + merges[r].substr(space + 1), r);
    }
    std::vector<double> scores(static_cast<size_t>(n), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      auto it = rank.find(tokens[static_cast<size_t>(i)]);
      if (it != rank.end()) scores[static_cast<size_t>(i)] = -static_cast<double>(it->second) - 1;
    }
    out.set("tokenizer.ggml.model", io::gguf_string("llama"));
    out.set("tokenizer.ggml.pre", io::gguf_string("default"));
    out.set("tokenizer.ggml.tokens", io::gguf_string_array(tokens));
    out.set("tokenizer.ggml.scores", io::gguf_f32_array(scores));
    out.set("tokenizer.ggml.token_type", io::gguf_i32_array(types));
    const std::string unk = model.str_or("unk_token", "");
    for (int64_t i = 0; i < n && !unk.empty(); ++i) {
      if (tokens[static_cast<size_t>(i)] == unk)
        out.set("tokenizer.ggml.unknown_token_id", io::gguf_u32(static_cast<uint32_t>(i)));
    }
  } else {
    // Which llama.cpp pre type this pipeline is: the one whose tokenizer.json parts match.
    std::string pre;
    const json& normalizer = node.has("normalizer") ? root["normalizer"] : json(nullptr);
    const json& pre_tokenizer = node.has("pre_tokenizer") ? root["pre_tokenizer"] : json(nullptr);
    auto same_pipeline = [](const json& a, const json& b) {
      // add_prefix_space and trim_offsets change offsets, not ids; compare the rest.
      std::function<json(json)> strip = [&](json j) {
        if (j.is_object()) {
          j.erase("trim_offsets");
          for (auto& [k, v] : j.items()) v = strip(v);
        } else if (j.is_array()) {
          for (auto& v : j) v = strip(v);
        }
        return j;
      };
      return strip(a) == strip(b);
    };
    for (const auto& t : pre_types()) {
      if (pre.empty() && same_pipeline(t.pre_tokenizer, pre_tokenizer) && t.normalizer == normalizer) pre = t.names[0];
    }
    if (pre.empty()) {
      node.fail("its pre-tokenizer and normalizer match none of llama.cpp's pre types (", pre_type_names(),
                "); convert from a GGUF file of the model instead");
    }
    out.set("tokenizer.ggml.model", io::gguf_string("gpt2"));
    out.set("tokenizer.ggml.pre", io::gguf_string(pre));
    out.set("tokenizer.ggml.tokens", io::gguf_string_array(tokens));
    out.set("tokenizer.ggml.token_type", io::gguf_i32_array(types));
    out.set("tokenizer.ggml.merges", io::gguf_string_array(merges));
  }
  if (bos >= 0) out.set("tokenizer.ggml.bos_token_id", io::gguf_u32(static_cast<uint32_t>(bos)));
  if (eos >= 0) out.set("tokenizer.ggml.eos_token_id", io::gguf_u32(static_cast<uint32_t>(eos)));
  out.set("tokenizer.ggml.add_bos_token", io::gguf_bool(add_bos));
  out.set("tokenizer.ggml.add_eos_token", io::gguf_bool(add_eos));
  // tokenizer_config.json beside tokenizer.json carries the chat template and eos.
  const auto config_path = fs::path(path).parent_path() / "tokenizer_config.json";
  if (fs::exists(config_path)) {
    const json config = json_file_parse(config_path.string());
    if (config.contains("chat_template") && config["chat_template"].is_string()) {
      out.set("tokenizer.chat_template", io::gguf_string(config["chat_template"].get<std::string>()));
    }
  }
}

}  // namespace retain::tok
