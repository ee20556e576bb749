// toml-writer.h - the one place TOML text is written by hand: basic strings (quotes, backslashes and
// control characters escaped) and keys (bare when they can be, else quoted). Used by the stream
// writer (stream-config.cpp) and the tasks.toml of `retain data prepare`.
#pragma once

#include <string>

namespace retain::config {

// `text` as a TOML basic string, quotes included: " and \ escaped, \n \t \r as themselves, other
// control characters and DEL as \uXXXX; every other byte (UTF-8 included) as it is.
std::string toml_string(const std::string& text);

// `key` bare when it is non-empty and only A-Z a-z 0-9 _ -, else as a TOML basic string.
std::string toml_key(const std::string& key);

}  // namespace retain::config
