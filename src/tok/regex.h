// regex.h - the pre-tokenizer regexes on PCRE2 (JIT-compiled), which, unlike RE2 and std::regex,
// has both \p{L} and the (?!\S) lookahead the GPT-2 / Llama-3 / Qwen patterns use.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "tok/json-node.h"

namespace retain::tok {

class Regex {
 public:
  // Whose \s the pattern means: Oniguruma's (Hugging Face tokenizers compiles tokenizer.json
  // patterns with it) or JavaScript's (gpt-3-encoder). Both differ from PCRE2's in a code point or
  // two, so \s is rewritten to the dialect's explicit set and PCRE2 matches what the authors'
  // engine matches.
  enum class Dialect { Oniguruma, JavaScript };

  // `context` names the file and field for the error thrown when the pattern does not compile.
  Regex(const std::string& pattern, Dialect dialect, const std::string& context);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Calls on_match(begin, end) for each match in `text`, left to right, as Oniguruma's find_iter
  // reports them: an empty match right where the previous match ended is skipped. `text` must be
  // valid UTF-8 (it is not checked again, for speed).
  template <typename OnMatch>
  void for_each_match(std::string_view text, OnMatch&& on_match) const {
    size_t start = 0;
    size_t last_end = std::string_view::npos;
    size_t begin, end;
    while (start <= text.size() && find(text, start, &begin, &end)) {
      if (begin == end && end == last_end) {
        start = next_char(text, start);
        continue;
      }
      on_match(begin, end);
      last_end = end;
      start = begin == end ? next_char(text, end) : end;
    }
  }

  // `text` with every match replaced by `content` (an empty text stays empty, as in tokenizers).
  std::string replace_all(std::string_view text, std::string_view content) const;

  // The pattern that matches `literal` and nothing else.
  static std::string escape(std::string_view literal);

 private:
  // The first match at or after `start`; false when there is none.
  bool find(std::string_view text, size_t start, size_t* begin, size_t* end) const;
  static size_t next_char(std::string_view text, size_t at);

  struct Code;  // pcre2_code, kept out of this header
  Code* code_;
  bool jit_;
  std::string context_;
};

// A "pattern" field of Split / Replace, {"String": literal} or {"Regex": pattern}, as a regex.
std::string pattern_from_json(const JsonNode& node);

}  // namespace retain::tok
