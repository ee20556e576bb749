// source-dictd.cpp - decodes the dictd index and slices entries out of the decompressed .dict.dz.
#include "data/source-dictd.h"

#include <cstdint>
#include <sstream>

#include "data/text-file.h"
#include "error.h"
#include "io/file-read.h"

namespace retain::data {

namespace {

// dictd numbers are base64 digits, most significant first.
bool decode_b64_number(const std::string& digits, uint64_t& value) {
  static const std::string kDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  value = 0;
  for (char c : digits) {
    const size_t d = kDigits.find(c);
    if (d == std::string::npos) return false;
    value = value * 64 + d;
  }
  return !digits.empty();
}

}  // namespace

std::vector<DictEntry> dictd_read(const std::string& base) {
  const std::string index_path = base + ".index", dict_path = base + ".dict.dz";
  const std::string dict = file_read_gunzip(dict_path);
  std::istringstream lines(io::file_read(index_path, "data"));
  std::vector<DictEntry> entries;
  std::string line;
  size_t line_number = 0;
  while (std::getline(lines, line)) {
    ++line_number;
    const size_t tab1 = line.find('\t'), tab2 = line.find('\t', tab1 + 1);
    uint64_t offset = 0, length = 0;
    if (tab1 == std::string::npos || tab2 == std::string::npos ||
        !decode_b64_number(line.substr(tab1 + 1, tab2 - tab1 - 1), offset) ||
        !decode_b64_number(line.substr(tab2 + 1), length)) {
      fail("data", index_path, ":", line_number, ": not a dictd index line (key TAB offset TAB length)");
    }
    if (offset + length > dict.size()) {
      fail("data", index_path, ":", line_number, ": entry ends at byte ", offset + length, ", past the ", dict.size(),
           " bytes of ", dict_path);
    }
    DictEntry entry{line.substr(0, tab1), dict.substr(offset, length)};
    if (entry.key.rfind("00database", 0) == 0 || entry.key.rfind("00-database", 0) == 0) continue;
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace retain::data
