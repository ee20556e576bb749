// unicode.h - the UTF-8 and Unicode-property helpers the tokenizer needs. Where Hugging Face
// tokenizers (Rust) defines a rule, these follow the Rust definition, so that the same text
// splits the same way: is_whitespace is char::is_whitespace, is_word_char is the regex crate's \w.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace retain::tok {

// Length of the UTF-8 sequence that `lead` starts (1 for a stray continuation byte, so that a
// scan always moves forward).
inline size_t utf8_length(unsigned char lead) {
  if (lead < 0xC0) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

// The code point at s[at], which must start a valid sequence; *length receives its byte count.
inline uint32_t utf8_decode(std::string_view s, size_t at, size_t* length) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(s[at + i])); };
  uint32_t c = b(0);
  if (c < 0x80) {
    *length = 1;
    return c;
  }
  if (c < 0xE0) {
    *length = 2;
    return ((c & 0x1F) << 6) | (b(1) & 0x3F);
  }
  if (c < 0xF0) {
    *length = 3;
    return ((c & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
  }
  *length = 4;
  return ((c & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
}

void utf8_append(uint32_t code_point, std::string& out);

// Byte offset of the first byte that does not belong to a well-formed UTF-8 sequence, or npos.
size_t utf8_invalid_at(std::string_view s);

// Rust's String::from_utf8_lossy: each maximal ill-formed subsequence becomes one U+FFFD.
std::string utf8_lossy(std::string_view bytes);

bool is_whitespace(uint32_t code_point);   // the Unicode White_Space property
bool is_word_char(uint32_t code_point);    // letters, marks, decimal digits, connectors, ZWJ/ZWNJ
bool is_numeric(uint32_t code_point);      // general categories Nd, Nl, No
bool is_punctuation(uint32_t code_point);  // ASCII punctuation (which includes $+<=>^`|~) or P*

// The end offsets of the extended grapheme clusters (Unicode UAX #29, as Rust's
// unicode-segmentation cuts them) of valid UTF-8 `text`, in order; the last is text.size().
std::vector<size_t> grapheme_ends(std::string_view text);

enum class NormalForm { NFC, NFD, NFKC, NFKD };
// `text` must be valid UTF-8.
std::string unicode_normalize(std::string_view text, NormalForm form);

}  // namespace retain::tok
