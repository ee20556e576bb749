// precompiled-charsmap.h - SentencePiece's normalization rules as tokenizer.json's "Precompiled"
// normalizer carries them: `precompiled_charsmap` (base64) is a little-endian u32 byte count, a
// Darts double-array trie of that many bytes mapping UTF-8 byte strings to offsets, then the
// replacement strings, each ended by a NUL. T5's file holds SentencePiece's nmt_nfkc rules
// (NFKC plus control characters removed and unusual spaces made plain).
//
// normalize() follows tokenizers (normalizers/precompiled.rs) exactly, quirks included: each
// extended grapheme cluster shorter than 6 bytes is looked up whole, else (or when that finds
// nothing) each of its characters is; a lookup takes the shortest rule that is a prefix of what is
// looked up and replaces all of it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace retain::tok {

class PrecompiledCharsmap {
 public:
  // `blob` is the decoded precompiled_charsmap; `context` ("FILE: normalizer.precompiled_charsmap")
  // names it in errors. Throws retain::Error for a blob that is cut short or whose replacement
  // strings are not UTF-8.
  PrecompiledCharsmap(std::string_view blob, std::string context);

  // `text` is valid UTF-8, and so is the result.
  std::string normalize(std::string_view text) const;

  // The replacement of the shortest rule that is a prefix of `chunk` (up to a NUL), if any.
  std::optional<std::string_view> transform(std::string_view chunk) const;

 private:
  uint32_t unit(uint64_t position) const;  // a trie unit, bounds-checked

  std::vector<uint32_t> trie_;
  std::string replacements_;
  std::string context_;
};

// Standard base64 with padding (RFC 4648 section 4), as Rust's BASE64_STANDARD decodes it.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace retain::tok
