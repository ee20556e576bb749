// options.h - a method's hyper-parameters: the keys of [method] other than `name`, checked by the
// method that reads them. A getter names the key and the stream file when the type is wrong, and
// records the default it returned, so the resolved config written to the run folder shows every
// value the method used. `reject_unused` names the first key nobody read, so a typo is an error
// rather than a silent default.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "config/words.h"

namespace retain::config {

using OptionValue = std::variant<bool, int64_t, double, std::string, std::vector<double>>;

class Options {
 public:
  Options() = default;
  Options(std::string source, std::string section) : source_(std::move(source)), section_(std::move(section)) {}

  void set(const std::string& key, OptionValue value) { values_[key] = std::move(value); }
  bool has(const std::string& key) const { return values_.count(key) != 0; }
  const std::map<std::string, OptionValue>& values() const { return values_; }

  // Typed getters with a default; an integer is accepted where a double is asked for.
  bool get_bool(const std::string& key, bool fallback);
  int64_t get_int(const std::string& key, int64_t fallback);
  double get_double(const std::string& key, double fallback);
  std::string get_string(const std::string& key, const std::string& fallback);
  std::vector<double> get_doubles(const std::string& key, const std::vector<double>& fallback);
  // A comma-separated string as its trimmed, non-empty items ("q_proj, v_proj" -> {q_proj, v_proj}).
  std::vector<std::string> get_names(const std::string& key, const std::string& fallback);
  // One of the words of E (config/words.h), as E.
  template <typename E>
  E get_word(const std::string& key, E fallback) {
    const std::string word = get_string(key, std::string(word_of(fallback)));
    if (const auto value = from_word<E>(word)) return *value;
    fail_word(key, word, words_joined<E>());
  }
  // Throws "[config] FILE: [method] has no key 'x' (method 'm' reads: a, b)" for the first unread key.
  void reject_unused(const std::string& method_name) const;

 private:
  [[noreturn]] void fail_word(const std::string& key, const std::string& word, const std::string& words) const;

  std::string source_, section_ = "method";
  std::map<std::string, OptionValue> values_;
  std::set<std::string> read_;
};

}  // namespace retain::config
