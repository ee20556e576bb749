// byte-level.h - GPT-2's bytes_to_unicode: byte-level BPE vocabularies spell every byte as one
// printable character (' ' is 'Ġ', '\n' is 'Ċ'), so that any byte string is a string of vocabulary
// characters. Bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF stand for themselves; the other 68 bytes map,
// in order, to U+0100 onwards.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace retain::tok {

// Appends the vocabulary spelling of `bytes`.
void byte_level_encode(std::string_view bytes, std::string& out);

// Appends the bytes `token` spells when every character of it is in the table and returns true;
// returns false and appends nothing otherwise (an added token such as "<|im_start|>" written with
// other characters).
bool byte_level_decode(std::string_view token, std::string& out);

}  // namespace retain::tok
