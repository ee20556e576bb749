// byte-level.cpp - the byte <-> character table of byte-level BPE, built once.
#include "tok/byte-level.h"

#include <array>
#include <cstdint>

#include "tok/unicode.h"

namespace retain::tok {

namespace {

struct Table {
  std::array<uint32_t, 256> code_point{};  // byte -> character
  std::array<std::string, 256> spelling;   // byte -> its UTF-8 spelling
  std::array<int16_t, 512> byte{};         // character (all below U+0200) -> byte, or -1

  Table() {
    byte.fill(-1);
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      code_point[b] = printable ? b : next++;
      utf8_append(code_point[b], spelling[b]);
      byte[code_point[b]] = static_cast<int16_t>(b);
    }
  }
};

const Table& table() {
  static const Table t;
  return t;
}

}  // namespace

void byte_level_encode(std::string_view bytes, std::string& out) {
  const Table& t = table();
  for (char c : bytes) out += t.spelling[static_cast<unsigned char>(c)];
}

bool byte_level_decode(std::string_view token, std::string& out) {
  const Table& t = table();
  const size_t mark = out.size();
  size_t i = 0;
  while (i < token.size()) {
    // Tokens come from the vocabulary or the added tokens, which JSON parsing made valid UTF-8.
    size_t length;
    uint32_t c = utf8_decode(token, i, &length);
    if (c >= t.byte.size() || t.byte[c] < 0) {
      out.resize(mark);
      return false;
    }
    out += static_cast<char>(t.byte[c]);
    i += length;
  }
  return true;
}

}  // namespace retain::tok
