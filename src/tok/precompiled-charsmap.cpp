// precompiled-charsmap.cpp - the double-array lookup of spm_precompiled (the crate tokenizers uses),
// bounds-checked so that a corrupt file is an error rather than a wild read.
#include "tok/precompiled-charsmap.h"

#include "error.h"
#include "tok/unicode.h"

namespace retain::tok {

namespace {

// Darts' unit layout: bit 8 says a leaf follows, bits 10.. hold the offset to the children
// (shifted 8 more when bit 9 is set), the low byte and bit 31 the label, bits 0..30 a leaf's value.
bool has_leaf(uint64_t unit) { return ((unit >> 8) & 1) == 1; }
uint64_t value(uint64_t unit) { return unit & ((uint64_t{1} << 31) - 1); }
uint64_t label(uint64_t unit) { return unit & ((uint64_t{1} << 31) | 0xFF); }
uint64_t offset(uint64_t unit) { return (unit >> 10) << ((unit & (uint64_t{1} << 9)) >> 6); }

}  // namespace

PrecompiledCharsmap::PrecompiledCharsmap(std::string_view blob, std::string context) : context_(std::move(context)) {
  auto u32_at = [&](size_t at) {
    return static_cast<uint32_t>(static_cast<unsigned char>(blob[at])) |
           static_cast<uint32_t>(static_cast<unsigned char>(blob[at + 1])) << 8 |
           static_cast<uint32_t>(static_cast<unsigned char>(blob[at + 2])) << 16 |
           static_cast<uint32_t>(static_cast<unsigned char>(blob[at + 3])) << 24;
  };
  if (blob.size() < 4) fail("tokenizer", context_, ": expected at least 4 bytes, found ", blob.size());
  const uint64_t units = u32_at(0) / 4;
  if (units == 0 || 4 + 4 * units > blob.size()) {
    fail("tokenizer", context_, ": its trie of ", units, " units does not fit in its ", blob.size(), " bytes");
  }
  trie_.reserve(units);
  for (uint64_t i = 0; i < units; ++i) trie_.push_back(u32_at(4 + 4 * i));
  replacements_ = std::string(blob.substr(4 + 4 * units));
  const size_t bad = utf8_invalid_at(replacements_);
  if (bad != std::string_view::npos) fail("tokenizer", context_, ": its replacement strings are not UTF-8");
}

uint32_t PrecompiledCharsmap::unit(uint64_t position) const {
  if (position >= trie_.size()) fail("tokenizer", context_, ": its trie points outside itself (unit ", position, ")");
  return trie_[position];
}

std::optional<std::string_view> PrecompiledCharsmap::transform(std::string_view chunk) const {
  uint64_t node = offset(unit(0));
  for (char byte : chunk) {
    const auto c = static_cast<unsigned char>(byte);
    if (c == 0) break;
    node ^= c;
    const uint32_t u = unit(node);
    if (label(u) != c) return std::nullopt;
    node ^= offset(u);
    if (!has_leaf(u)) continue;
    const uint64_t begin = value(unit(node));
    if (begin > replacements_.size() ||
        (begin < replacements_.size() && (static_cast<unsigned char>(replacements_[begin]) & 0xC0) == 0x80)) {
      fail("tokenizer", context_, ": a rule points to byte ", begin, " of its replacement strings, not to a character");
    }
    size_t end = replacements_.find('\0', begin);
    if (end == std::string::npos) end = replacements_.size();
    return std::string_view(replacements_).substr(begin, end - begin);
  }
  return std::nullopt;
}

std::string PrecompiledCharsmap::normalize(std::string_view text) const {
  std::string out;
  out.reserve(text.size());
  size_t begin = 0;
  for (size_t end : grapheme_ends(text)) {
    const std::string_view grapheme = text.substr(begin, end - begin);
    begin = end;
    if (grapheme.size() < 6) {
      if (auto replaced = transform(grapheme)) {
        out += *replaced;
        continue;
      }
    }
    for (size_t at = 0; at < grapheme.size();) {
      const size_t length = utf8_length(static_cast<unsigned char>(grapheme[at]));
      const std::string_view character = grapheme.substr(at, length);
      at += length;
      auto replaced = transform(character);
      out += replaced ? *replaced : character;
    }
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  auto sextet = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t at = 0; at < text.size(); at += 4) {
    const bool last = at + 4 == text.size();
    const int padding = last ? (text[at + 3] == '=') + (text[at + 2] == '=' && text[at + 3] == '=') : 0;
    uint32_t bits = 0;
    for (int i = 0; i < 4; ++i) {
      const int v = i >= 4 - padding ? 0 : sextet(text[at + static_cast<size_t>(i)]);
      if (v < 0) return std::nullopt;
      bits = bits << 6 | static_cast<uint32_t>(v);
    }
    // Bits the padding leaves over must be zero (a canonical encoding).
    if ((padding == 1 && (bits & 0xFF) != 0) || (padding == 2 && (bits & 0xFFFF) != 0)) return std::nullopt;
    out += static_cast<char>(bits >> 16);
    if (padding < 2) out += static_cast<char>((bits >> 8) & 0xFF);
    if (padding < 1) out += static_cast<char>(bits & 0xFF);
  }
  return out;
}

}  // namespace retain::tok
