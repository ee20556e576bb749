// jsonl.h - JSON Lines task files: one object per line with required string fields. Every line is
// checked; the first bad one is "[data] FILE:LINE: ..." naming the field.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace retain::data {

struct JsonlObject {
  int64_t line = 0;  // 1-based line number in the file
  nlohmann::json object;
};

// Every non-blank line of `path` as a JSON object; a line that is not one, or a file with none, is
// an error naming the file and the line.
std::vector<JsonlObject> jsonl_objects(const std::string& path);

struct JsonlRecord {
  int64_t line = 0;                 // 1-based line number in the file
  std::vector<std::string> values;  // the requested fields, in the order asked for
};

// The string fields `fields` of every object of `path` (jsonl_objects); other fields are ignored.
std::vector<JsonlRecord> jsonl_read(const std::string& path, const std::vector<std::string>& fields);

}  // namespace retain::data
