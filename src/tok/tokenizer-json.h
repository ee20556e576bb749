// tokenizer-json.h - reads a Hugging Face tokenizer.json into tokenizer parts.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "tok/tokenizer.h"

namespace retain::tok {

// Throws retain::Error naming `path` and the field for anything malformed or not supported.
TokenizerParts tokenizer_json_parts(const std::string& path);
// The same from JSON already in memory (a tokenizer built from GGUF metadata); `path` names it in errors.
TokenizerParts tokenizer_json_parts(const nlohmann::json& json, const std::string& path);

}  // namespace retain::tok
