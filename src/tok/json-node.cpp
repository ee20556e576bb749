// json-node.cpp - typed field access with errors naming the file and the field.
#include "tok/json-node.h"

#include <cstdint>

#include "io/file-read.h"

namespace retain::tok {

namespace {

const char* kind(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float: return "a number";
    default: return "something else";
  }
}

}  // namespace

nlohmann::json json_file_parse(const std::string& path) {
  const std::string text = retain::io::file_read(path, "tokenizer");
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // e.what() reads "[json.exception.parse_error.101] parse error at line 3, column 7: ..."
    const std::string what = e.what();
    const size_t at = what.find("] ");
    retain::fail("tokenizer", path, ": not valid JSON: ", at == std::string::npos ? what : what.substr(at + 2));
  }
}

void JsonNode::expect(bool ok, const char* what) const {
  if (!ok) fail("expected ", what, ", found ", kind(*value_));
}

bool JsonNode::has(const char* key) const {
  if (!value_->is_object()) return false;
  auto it = value_->find(key);
  return it != value_->end() && !it->is_null();
}

JsonNode JsonNode::operator[](const char* key) const {
  expect(value_->is_object(), "an object");
  auto it = value_->find(key);
  if (it == value_->end()) fail("has no field '", key, "'");
  return JsonNode(*it, *file_, where_.empty() ? key : where_ + "." + key);
}

JsonNode JsonNode::operator[](size_t index) const {
  expect(value_->is_array(), "an array");
  if (index >= value_->size()) fail("has ", value_->size(), " elements, no element ", index);
  return JsonNode((*value_)[index], *file_, where_ + "[" + std::to_string(index) + "]");
}

size_t JsonNode::size() const {
  expect(value_->is_array(), "an array");
  return value_->size();
}

std::string JsonNode::str() const {
  expect(value_->is_string(), "a string");
  return value_->get<std::string>();
}

bool JsonNode::boolean() const {
  expect(value_->is_boolean(), "a boolean");
  return value_->get<bool>();
}

int64_t JsonNode::integer() const {
  expect(value_->is_number_integer(), "an integer");
  return value_->get<int64_t>();
}

}  // namespace retain::tok
