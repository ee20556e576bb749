// tokenizer-json.cpp - the top level of tokenizer.json: which parts there are and which are refused.
#include "tok/tokenizer-json.h"

#include <cstdint>
#include "tok/added-tokens.h"
#include "tok/bpe-model.h"
#include "tok/decoders.h"
#include "tok/json-node.h"
#include "tok/normalizers.h"
#include "tok/post-processors.h"
#include "tok/pre-tokenizers.h"
#include "tok/unigram-model.h"

namespace retain::tok {

namespace {

std::vector<AddedToken> added_tokens_from_json(const JsonNode& list) {
  std::vector<AddedToken> tokens;
  for (size_t i = 0; i < list.size(); ++i) {
    JsonNode node = list[i];
    AddedToken t;
    int64_t id = node["id"].integer();
    if (id < 0 || id > INT32_MAX) node["id"].fail("expected a token id, found ", id);
    // The id is the file's; tokenizers re-derives it from the vocabulary size and only warns
    // when the two differ, which they do not in any real file.
    t.id = static_cast<int32_t>(id);
    t.content = node["content"].str();
    // tokenizers' AddedToken defaults, for files that leave a flag out.
    t.single_word = node.bool_or("single_word", false);
    t.lstrip = node.bool_or("lstrip", false);
    t.rstrip = node.bool_or("rstrip", false);
    t.normalized = node.bool_or("normalized", true);
    t.special = node.bool_or("special", false);
    tokens.push_back(std::move(t));
  }
  return tokens;
}

}  // namespace

TokenizerParts tokenizer_json_parts(const std::string& path) {
  return tokenizer_json_parts(json_file_parse(path), path);
}

TokenizerParts tokenizer_json_parts(const nlohmann::json& json, const std::string& path) {
  const JsonNode root(json, path, "");
  if (!json.is_object()) root.fail("expected a tokenizer.json object, found another JSON value");

  // Truncation and padding change the ids; retain packs whole texts itself, so a file that asks
  // for either is refused rather than encoded differently from what it says.
  if (root.has("truncation")) root["truncation"].fail("truncation is not supported (set it to null)");
  if (root.has("padding")) root["padding"].fail("padding is not supported (set it to null)");

  JsonNode model = root["model"];
  // Files from before tokenizers 0.9 have no "type"; only BPE has merges.
  std::string type = model.has("type") ? model.type() : (model.has("merges") ? "BPE" : "without a type");
  if (type != "BPE" && type != "Unigram") {
    model.fail("model type '", type, "' is not supported (retain reads BPE and Unigram tokenizers; WordPiece and ",
               "WordLevel are refused)");
  }

  TokenizerParts parts;
  parts.path = path;
  if (root.has("normalizer")) parts.normalizer = normalizer_from_json(root["normalizer"]);
  bool byte_level = false;
  if (root.has("pre_tokenizer")) parts.pre_tokenizer = pre_tokenizer_from_json(root["pre_tokenizer"], &byte_level);
  if (type == "BPE") {
    parts.model = bpe_model_from_json(model, byte_level);
  } else {
    // A Unigram vocabulary holds text, never byte-level spellings.
    if (byte_level) root["pre_tokenizer"].fail("a ByteLevel pre-tokenizer needs a BPE model, not Unigram");
    parts.model = unigram_model_from_json(model);
  }
  std::vector<AddedToken> added;
  if (root.has("added_tokens")) added = added_tokens_from_json(root["added_tokens"]);
  parts.added = std::make_unique<AddedTokens>(std::move(added), parts.normalizer.get());
  if (root.has("post_processor")) parts.post_processor = post_processor_from_json(root["post_processor"]);
  if (root.has("decoder")) parts.decoder = decoder_from_json(root["decoder"]);
  return parts;
}

}  // namespace retain::tok
