// options.cpp - typed getters over a method's [method] keys: type errors name the key and the stream
// file, defaults are recorded so the resolved config shows them, unread keys are refused.
#include "config/options.h"

#include <cstdint>
#include <sstream>

#include "error.h"

namespace retain::config {

namespace {

// "integer 3", "string 'x'", ...: what a key holds, for "must be a <type>, got <what>".
std::string describe(const OptionValue& value) {
  std::ostringstream os;
  if (const auto* b = std::get_if<bool>(&value)) os << "boolean " << (*b ? "true" : "false");
  if (const auto* i = std::get_if<int64_t>(&value)) os << "integer " << *i;
  if (const auto* d = std::get_if<double>(&value)) os << "float " << *d;
  if (const auto* s = std::get_if<std::string>(&value)) os << "string '" << *s << "'";
  if (std::holds_alternative<std::vector<double>>(value)) os << "array";
  return os.str();
}

// Marks `key` read; when absent records `fallback` (so the resolved config shows it) and returns
// nullptr, when present returns its value.
const OptionValue* lookup(std::map<std::string, OptionValue>& values, std::set<std::string>& read,
                          const std::string& key, OptionValue fallback) {
  read.insert(key);
  auto it = values.find(key);
  if (it != values.end()) return &it->second;
  values.emplace(key, std::move(fallback));
  return nullptr;
}

}  // namespace

bool Options::get_bool(const std::string& key, bool fallback) {
  const OptionValue* value = lookup(values_, read_, key, fallback);
  if (value == nullptr) return fallback;
  if (const auto* b = std::get_if<bool>(value)) return *b;
  fail("config", source_, ": [", section_, "] key '", key, "' must be true or false, got ", describe(*value));
}

int64_t Options::get_int(const std::string& key, int64_t fallback) {
  const OptionValue* value = lookup(values_, read_, key, fallback);
  if (value == nullptr) return fallback;
  if (const auto* i = std::get_if<int64_t>(value)) return *i;
  fail("config", source_, ": [", section_, "] key '", key, "' must be an integer, got ", describe(*value));
}

double Options::get_double(const std::string& key, double fallback) {
  const OptionValue* value = lookup(values_, read_, key, fallback);
  if (value == nullptr) return fallback;
  if (const auto* d = std::get_if<double>(value)) return *d;
  if (const auto* i = std::get_if<int64_t>(value)) return static_cast<double>(*i);
  fail("config", source_, ": [", section_, "] key '", key, "' must be a number, got ", describe(*value));
}

std::string Options::get_string(const std::string& key, const std::string& fallback) {
  const OptionValue* value = lookup(values_, read_, key, fallback);
  if (value == nullptr) return fallback;
  if (const auto* s = std::get_if<std::string>(value)) return *s;
  fail("config", source_, ": [", section_, "] key '", key, "' must be a string, got ", describe(*value));
}

std::vector<double> Options::get_doubles(const std::string& key, const std::vector<double>& fallback) {
  const OptionValue* value = lookup(values_, read_, key, fallback);
  if (value == nullptr) return fallback;
  if (const auto* v = std::get_if<std::vector<double>>(value)) return *v;
  fail("config", source_, ": [", section_, "] key '", key, "' must be an array of numbers, got ", describe(*value));
}

std::vector<std::string> Options::get_names(const std::string& key, const std::string& fallback) {
  std::vector<std::string> names;
  std::stringstream in(get_string(key, fallback));
  for (std::string item; std::getline(in, item, ',');) {
    const auto begin = item.find_first_not_of(" \t"), end = item.find_last_not_of(" \t");
    if (begin != std::string::npos) names.push_back(item.substr(begin, end - begin + 1));
  }
  return names;
}

void Options::fail_word(const std::string& key, const std::string& word, const std::string& words) const {
  fail("config", source_, ": [", section_, "] key '", key, "' must be one of ", words, ", got '", word, "'");
}

void Options::reject_unused(const std::string& method_name) const {
  for (const auto& entry : values_) {
    if (read_.count(entry.first) != 0) continue;
    std::string reads;
    for (const auto& key : read_) reads += (reads.empty() ? "" : ", ") + key;
    fail("config", source_, ": [", section_, "] has no key '", entry.first, "' (method '", method_name,
         "' reads: ", reads.empty() ? "no keys" : reads, ")");
  }
}

}  // namespace retain::config
