// unigram-model.h - the Unigram model of Hugging Face tokenizers (models/unigram), which
// SentencePiece-trained tokenizers use (T5, mT5, ALBERT, XLNet, Pegasus): every vocabulary entry
// has a score (a log probability), and a piece becomes the sequence of entries whose scores add up
// highest (Viterbi over the piece's bytes, ties kept by the first path found). A character no
// entry starts with is unknown: it scores the lowest entry's score minus 10 and becomes unk_id;
// consecutive unknowns fuse into one, and with byte_fallback an unknown stretch becomes its
// <0xNN> byte tokens when the vocabulary has them all.
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

class UnigramModel : public TokenModel {
 public:
  // `vocab` in id order; `file` names the source in errors.
  UnigramModel(std::vector<std::pair<std::string, double>> vocab, std::optional<int32_t> unk_id, bool byte_fallback,
               const std::string& file);

  void tokenize(std::string_view piece, std::vector<int32_t>& out) const override;
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  const std::string* id_to_token(int32_t id) const override;
  int32_t max_id() const override { return static_cast<int32_t>(vocab_.size()) - 1; }

 private:
  // The vocabulary's tokens as a byte trie: node 0 is the root; a node's token is the id of the
  // token that ends there (-1 for none).
  struct TrieNode {
    int32_t token = -1;
  };
  int32_t trie_child(int32_t node, unsigned char byte) const;

  void tokenize_uncached(std::string_view piece, std::vector<int32_t>& out) const;
  // The best segmentation of `piece`, as [begin, end) byte ranges, unknown stretches fused.
  std::vector<std::pair<size_t, size_t>> best_pieces(std::string_view piece) const;

  std::vector<std::pair<std::string, double>> vocab_;
  std::unordered_map<std::string, int32_t> token_ids_;  // a repeated token has its last id
  std::vector<TrieNode> trie_;
  std::unordered_map<uint64_t, int32_t> trie_edges_;  // (node << 8 | byte) -> child
  double unk_score_;
  std::optional<int32_t> unk_id_;
  bool byte_fallback_;
  int32_t byte_fallback_ids_[256];  // the ids of <0x00>..<0xFF>, -1 where missing
  std::string file_;
  WordCache cache_;
};

// `node` is the "model" object of a tokenizer.json whose type is Unigram.
std::unique_ptr<UnigramModel> unigram_model_from_json(const JsonNode& node);

}  // namespace retain::tok
