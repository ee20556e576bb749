// tokenizer.cpp - the encode / decode pipeline over the parts, and which reader a path needs.
#include "tok/tokenizer.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>

#include "error.h"
#include "io/gguf.h"
#include "tok/added-tokens.h"
#include "tok/decoders.h"
#include "tok/gguf-vocab.h"
#include "tok/gpt2-files.h"
#include "tok/normalizers.h"
#include "tok/post-processors.h"
#include "tok/pre-tokenizers.h"
#include "tok/token-model.h"
#include "tok/tokenizer-json.h"
#include "tok/unicode.h"

namespace retain::tok {

namespace fs = std::filesystem;

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& path) {
  std::error_code error;
  // A .gguf file, or a folder holding one and no tokenizer.json: the tokenizer in its metadata.
  if (!(fs::is_directory(path, error) && fs::exists(fs::path(path) / "tokenizer.json", error))) {
    const std::string gguf = io::gguf_model_file(path);
    if (!gguf.empty()) {
      const auto file = io::GgufFile::open(gguf);
      return std::make_unique<Tokenizer>(tokenizer_json_parts(gguf_tokenizer_json(*file), gguf));
    }
  }
  if (fs::is_directory(path, error)) {
    fs::path file = fs::path(path) / "tokenizer.json";
    if (!fs::exists(file, error)) fail("tokenizer", path, ": this folder holds no tokenizer.json");
    return std::make_unique<Tokenizer>(tokenizer_json_parts(file.string()));
  }
  const std::string name = fs::path(path).filename().string();
  const std::string suffix = "encoder.json";
  if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    std::string prefix = name.substr(0, name.size() - suffix.size());
    fs::path merges = fs::path(path).parent_path() / (prefix + "vocab.bpe");
    return std::make_unique<Tokenizer>(gpt2_files_parts(path, merges.string()));
  }
  return std::make_unique<Tokenizer>(tokenizer_json_parts(path));
}

TokenizerParts::TokenizerParts() = default;
TokenizerParts::~TokenizerParts() = default;
TokenizerParts::TokenizerParts(TokenizerParts&&) noexcept = default;
TokenizerParts& TokenizerParts::operator=(TokenizerParts&&) noexcept = default;

Tokenizer::Tokenizer(TokenizerParts parts) : parts_(std::move(parts)) {}
Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::vector<int32_t> ids;
  encode_into(text, add_special_tokens, ids);
  return ids;
}

void Tokenizer::encode_into(std::string_view text, bool add_special_tokens, std::vector<int32_t>& ids) const {
  const size_t bad = utf8_invalid_at(text);
  if (bad != std::string_view::npos) fail("tokenizer", parts_.path, ": the text to encode is not UTF-8 at byte ", bad);
  const size_t first = ids.size();
  for (const Segment& s : parts_.added->split_raw(text)) {
    if (s.id >= 0) {
      ids.push_back(s.id);
    } else {
      encode_stretch(text.substr(s.begin, s.end - s.begin), s.begin, ids);
    }
  }
  if (add_special_tokens && parts_.post_processor) parts_.post_processor->add_special_tokens(ids, first);
}

void Tokenizer::encode_stretch(std::string_view text, size_t offset, std::vector<int32_t>& ids) const {
  if (!parts_.normalizer && !parts_.added->has_normalized()) {
    encode_normalized(text, offset == 0, ids);
    return;
  }
  std::string normalized(text);
  if (parts_.normalizer) parts_.normalizer->normalize(normalized);
  if (!parts_.added->has_normalized()) {
    encode_normalized(normalized, offset == 0, ids);
    return;
  }
  for (const Segment& s : parts_.added->split_normalized(normalized)) {
    if (s.id >= 0) {
      ids.push_back(s.id);
    } else {
      encode_normalized(std::string_view(normalized).substr(s.begin, s.end - s.begin), offset == 0 && s.begin == 0,
                        ids);
    }
  }
}

void Tokenizer::encode_normalized(std::string_view text, bool at_start, std::vector<int32_t>& ids) const {
  if (text.empty()) return;
  const TokenModel& model = *parts_.model;
  auto to_model = [&](std::string_view piece, bool) { model.tokenize(piece, ids); };
  if (parts_.pre_tokenizer) {
    parts_.pre_tokenizer->split(text, at_start, to_model);
  } else {
    to_model(text, at_start);
  }
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    const std::string* token = parts_.added->content_of(id);
    if (token == nullptr) token = parts_.model->id_to_token(id);
    if (token == nullptr) continue;
    if (skip_special_tokens && parts_.added->is_special(*token)) continue;
    tokens.push_back(*token);
  }
  // Without a decoder tokenizers joins the tokens with spaces.
  const char* separator = "";
  if (parts_.decoder) {
    parts_.decoder->decode_chain(tokens);
  } else {
    separator = " ";
  }
  std::string text;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i > 0) text += separator;
    text += tokens[i];
  }
  return text;
}

int64_t Tokenizer::vocab_size() const {
  return static_cast<int64_t>(std::max(parts_.model->max_id(), parts_.added->max_id())) + 1;
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  if (auto id = parts_.added->id_of(token)) return id;
  return parts_.model->token_to_id(token);
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  const std::string* token = parts_.added->content_of(id);
  if (token == nullptr) token = parts_.model->id_to_token(id);
  if (token == nullptr) return std::nullopt;
  return *token;
}

bool Tokenizer::is_special(int32_t id) const {
  auto token = id_to_token(id);
  return token && parts_.added->is_special(*token);
}

}  // namespace retain::tok
