// normalizers.h - tokenizer.json "normalizer": rewrites each stretch of text between added tokens
// before it is split. Implemented: NFC, NFD, NFKC, NFKD, Precompiled, Prepend, Replace, Strip,
// Sequence; any
// other type is refused when the file is loaded.
#pragma once

#include <memory>
#include <string>

#include "tok/json-node.h"

namespace retain::tok {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // `text` is valid UTF-8 and stays so.
  virtual void normalize(std::string& text) const = 0;
};

// `node` is the "normalizer" object (not null).
std::unique_ptr<Normalizer> normalizer_from_json(const JsonNode& node);

}  // namespace retain::tok
