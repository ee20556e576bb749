// added-tokens.h - tokenizer.json "added_tokens": strings (special tokens such as <|eot_id|>, and
// others) that are cut out of the text before anything else runs and each become their one id.
// Matching follows tokenizers' AddedVocabulary: leftmost-longest, tokens with normalized=false
// against the raw text, those with normalized=true against the normalized stretches in between;
// single_word rejects a match inside a word, lstrip/rstrip swallow the whitespace beside it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace retain::tok {

class Normalizer;

struct AddedToken {
  int32_t id;
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool special = false;
};

// [begin, end) of the text, and the added token found there or -1 for ordinary text.
struct Segment {
  size_t begin, end;
  int32_t id;
};

class AddedTokens {
 public:
  // `normalizer` (may be null) spells the normalized tokens as they appear in normalized text.
  AddedTokens(std::vector<AddedToken> tokens, const Normalizer* normalizer);

  // Cuts `text` into ordinary stretches and matches of the raw (normalized=false) or the normalized
  // tokens. Empty stretches are left out.
  std::vector<Segment> split_raw(std::string_view text) const { return raw_.split(text, tokens_); }
  std::vector<Segment> split_normalized(std::string_view text) const { return normalized_.split(text, tokens_); }
  bool has_normalized() const { return !normalized_.empty(); }

  const std::string* content_of(int32_t id) const;
  std::optional<int32_t> id_of(std::string_view content) const;
  bool is_special(std::string_view content) const { return special_.count(std::string(content)) > 0; }
  int32_t max_id() const;  // -1 when there are none

 private:
  // A byte trie over the token contents, for leftmost-longest search.
  class Matcher {
   public:
    void add(const std::string& pattern, size_t token);
    bool empty() const { return nodes_.size() <= 1; }
    std::vector<Segment> split(std::string_view text, const std::vector<AddedToken>& tokens) const;

   private:
    struct Node {
      std::vector<std::pair<unsigned char, int32_t>> children;
      int32_t token = -1;  // index into tokens_ of the token ending here
    };
    int32_t child(int32_t node, unsigned char byte) const;

    std::vector<Node> nodes_{1};
    bool first_byte_[256] = {};
  };

  std::vector<AddedToken> tokens_;
  Matcher raw_, normalized_;
  std::unordered_map<int32_t, size_t> by_id_;
  std::unordered_map<std::string, int32_t> by_content_;
  std::unordered_set<std::string> special_;
};

}  // namespace retain::tok
