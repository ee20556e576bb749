// bpe-model.h - the BPE model of Hugging Face tokenizers (models/bpe): a word is split into its
// characters, then adjacent pairs are merged, lowest merge rank first, until no listed merge
// applies. Covers both families:
//  - byte-level (GPT-2, Llama-3, Qwen): `byte_level` set, words arrive as raw bytes and each byte
//    is spelled with the bytes_to_unicode table (byte-level.h); `ignore_merges` (Llama-3) takes a
//    word that is itself in the vocabulary as one token;
//  - SentencePiece-style (Llama-2, Mistral): words are "▁"-joined text; a character missing from
//    the vocabulary becomes its <0xNN> byte tokens (`byte_fallback`) or `unk_token`, with
//    consecutive unknowns fused into one (`fuse_unk`).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tok/json-node.h"
#include "tok/token-model.h"
#include "tok/word-cache.h"

namespace retain::tok {

struct BpeConfig {
  std::vector<std::pair<std::string, int32_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  std::optional<std::string> unk_token;
  std::string continuing_subword_prefix;  // put before every character but the first
  std::string end_of_word_suffix;         // put after the last character
  bool fuse_unk = false;
  bool byte_fallback = false;
  bool ignore_merges = false;
  bool byte_level = false;
};

class BpeModel : public TokenModel {
 public:
  // `file` names the source in errors (a merge or unk_token missing from the vocabulary).
  BpeModel(BpeConfig config, const std::string& file);

  // Appends the ids of `word` (not empty) to `out`.
  void tokenize(std::string_view word, std::vector<int32_t>& out) const override;

  std::optional<int32_t> token_to_id(std::string_view token) const override;
  const std::string* id_to_token(int32_t id) const override;
  int32_t max_id() const override { return static_cast<int32_t>(id_to_token_.size()) - 1; }

 private:
  struct Merge {
    int32_t rank;
    int32_t merged_id;
  };

  // (left id, right id) -> merge with open addressing: the merge loop's hot lookup, without
  // std::unordered_map's node chasing.
  class MergeTable {
   public:
    void reserve(size_t count);
    void set(int32_t left, int32_t right, Merge merge);  // a pair set twice keeps the later merge
    const Merge* find(int32_t left, int32_t right) const;

   private:
    static constexpr uint64_t kEmpty = ~uint64_t{0};  // no pair of ids (both >= 0) has this key
    struct Slot {
      uint64_t key = kEmpty;
      Merge merge{};
    };
    size_t slot_of(uint64_t key) const;

    std::vector<Slot> slots_;
    int shift_ = 64;
  };

  void tokenize_uncached(std::string_view word, std::vector<int32_t>& out) const;
  // The word's characters as vocabulary ids, before any merge. An unknown character with neither
  // byte fallback nor unk_token is dropped, as tokenizers drops it.
  void initial_symbols(std::string_view word, std::vector<int32_t>& symbols) const;
  void merge_all(std::vector<int32_t>& symbols) const;
  const Merge* find_merge(int32_t left, int32_t right) const;

  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> has_token_;
  MergeTable merges_;
  std::string file_;
  std::optional<std::string> unk_token_;
  std::optional<int32_t> unk_id_;
  std::string continuing_subword_prefix_;
  std::string end_of_word_suffix_;
  bool fuse_unk_;
  bool byte_fallback_;
  bool ignore_merges_;
  bool byte_level_;
  // Byte-level words without prefix/suffix start as one symbol per byte: this is each byte's id
  // (-1 if the vocabulary lacks it, and then the general path runs).
  int32_t byte_ids_[256];
  bool byte_ids_complete_ = false;
  int32_t byte_fallback_ids_[256];  // the ids of <0x00>..<0xFF>, -1 where missing
  WordCache cache_;
};

// `node` is the "model" object of a tokenizer.json whose type is BPE.
std::unique_ptr<BpeModel> bpe_model_from_json(const JsonNode& node, bool byte_level);

}  // namespace retain::tok
