// jsonl.h - JSON Lines task files: one object per line with required string fields. Every line is
// checked; the first bad one is "[data] FILE:LINE: ..." naming the field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace retain::data {

struct JsonlRecord {
  int64_t line = 0;                 // 1-based line number in the file
  std::vector<std::string> values;  // the requested fields, in the order asked for
};

// Reads `path`: blank lines are skipped, other fields of an object are ignored; a file with no
// records is an error.
std::vector<JsonlRecord> jsonl_read(const std::string& path, const std::vector<std::string>& fields);

}  // namespace retain::data
