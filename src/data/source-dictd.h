// source-dictd.h - dictd dictionaries (dict-vera, dict-freedict-*): NAME.index holds
// "key TAB offset TAB length" with base64-digit numbers into NAME.dict.dz, a gzip file.
#pragma once

#include <string>
#include <vector>

namespace retain::data {

struct DictEntry {
  std::string key;   // the index key (dictd folds it: lower case, punctuation dropped)
  std::string text;  // the entry: headword line, then the definition lines
};

// The entries of `base`.index / `base`.dict.dz in index order, without the 00-database-* entries.
std::vector<DictEntry> dictd_read(const std::string& base);

}  // namespace retain::data
