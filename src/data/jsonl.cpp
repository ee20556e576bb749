// jsonl.cpp - the JSON Lines reader: parse each non-blank line as an object, then take its string fields.
#include "data/jsonl.h"

#include <cstdint>
#include <nlohmann/json.hpp>

#include "error.h"
#include "io/file-read.h"

namespace retain::data {

namespace {

// nlohmann's messages start with "[json.exception.parse_error.101] "; the rest says where and why.
std::string parse_reason(const nlohmann::json::exception& e) {
  std::string what = e.what();
  const size_t close = what.find("] ");
  return close == std::string::npos ? what : what.substr(close + 2);
}

}  // namespace

std::vector<JsonlObject> jsonl_objects(const std::string& path) {
  const std::string text = io::file_read(path, "data");
  std::vector<JsonlObject> objects;
  int64_t line_number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json object;
    try {
      object = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      fail("data", path, ":", line_number, ": not valid JSON (", parse_reason(e), ")");
    }
    if (!object.is_object()) {
      fail("data", path, ":", line_number, ": expected a JSON object, got ", object.type_name());
    }
    objects.push_back({line_number, std::move(object)});
  }
  if (objects.empty()) fail("data", path, ": no records (the file is empty)");
  return objects;
}

std::vector<JsonlRecord> jsonl_read(const std::string& path, const std::vector<std::string>& fields) {
  std::vector<JsonlRecord> records;
  for (const auto& [line_number, object] : jsonl_objects(path)) {
    JsonlRecord record;
    record.line = line_number;
    for (const auto& field : fields) {
      const auto it = object.find(field);
      if (it == object.end()) fail("data", path, ":", line_number, ": missing the field \"", field, "\"");
      if (!it->is_string()) {
        fail("data", path, ":", line_number, ": field \"", field, "\" must be a string, got ", it->type_name());
      }
      record.values.push_back(it->get<std::string>());
    }
    records.push_back(std::move(record));
  }
  return records;
}

}  // namespace retain::data
