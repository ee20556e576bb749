// token-model.h - tokenizer.json "model": turns one pre-tokenized piece of normalized text into
// vocabulary ids. Implemented: BPE (bpe-model.h) and Unigram (unigram-model.h); WordPiece and
// WordLevel are refused when the file is loaded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace retain::tok {

class TokenModel {
 public:
  virtual ~TokenModel() = default;

  // Appends the ids of `piece` (valid UTF-8, not empty) to `out`.
  virtual void tokenize(std::string_view piece, std::vector<int32_t>& out) const = 0;

  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
  virtual const std::string* id_to_token(int32_t id) const = 0;  // nullptr when no token has this id
  virtual int32_t max_id() const = 0;                            // -1 for an empty vocabulary
};

}  // namespace retain::tok
