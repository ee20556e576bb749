// json-node.h - reads tokenizer.json fields so that every complaint names the file and the field:
//   [tokenizer] llama3-tokenizer.json: pre_tokenizer.pretokenizers[0].behavior: expected a string, found a number
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "error.h"

namespace retain::tok {

// Reads and parses the JSON file at `path`; a missing file or bad JSON throws retain::Error
// naming the file (and, for bad JSON, where it goes wrong).
nlohmann::json json_file_parse(const std::string& path);

class JsonNode {
 public:
  JsonNode(const nlohmann::json& value, const std::string& file, std::string where)
      : value_(&value), file_(&file), where_(std::move(where)) {}

  const nlohmann::json& value() const { return *value_; }
  const std::string& file() const { return *file_; }
  const std::string& where() const { return where_; }  // "" at the root

  bool is_null() const { return value_->is_null(); }
  bool has(const char* key) const;             // an object with `key` set to something other than null
  JsonNode operator[](const char* key) const;  // a field that must be there
  JsonNode operator[](size_t index) const;     // an element of an array
  size_t size() const;                         // the length of an array

  std::string str() const;
  bool boolean() const;
  int64_t integer() const;
  std::string type() const { return (*this)["type"].str(); }  // the "type" of a component

  bool bool_or(const char* key, bool fallback) const { return has(key) ? (*this)[key].boolean() : fallback; }
  std::string str_or(const char* key, const std::string& fallback) const {
    return has(key) ? (*this)[key].str() : fallback;
  }

  // Throws "[tokenizer] <file>: <where>: <parts>".
  template <typename... Parts>
  [[noreturn]] void fail(const Parts&... parts) const {
    if (where_.empty()) retain::fail("tokenizer", *file_, ": ", parts...);
    retain::fail("tokenizer", *file_, ": ", where_, ": ", parts...);
  }

 private:
  void expect(bool ok, const char* what) const;

  const nlohmann::json* value_;
  const std::string* file_;
  std::string where_;
};

}  // namespace retain::tok
