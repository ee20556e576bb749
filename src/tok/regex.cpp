// regex.cpp - PCRE2 behind tok::Regex: dialect translation, JIT compilation, per-thread match state.
#include "tok/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <cstdint>

#include "error.h"
#include "tok/unicode.h"

namespace retain::tok {

struct Regex::Code {
  pcre2_code* code;
};

namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  if (pcre2_get_error_message(code, buffer, sizeof(buffer)) < 0) return "error " + std::to_string(code);
  return reinterpret_cast<const char*>(buffer);
}

// Rewrites \s and \S (outside character classes) and \s (inside them) as the explicit set of
// the dialect. PCRE2's \s is Unicode White_Space plus U+180E; Oniguruma's is White_Space (tab..CR,
// NEL, the Z categories); JavaScript's lacks NEL and has U+FEFF. A \S inside a class keeps PCRE2's
// meaning: no pattern in the wild writes one.
std::string translate(const std::string& pattern, Regex::Dialect dialect) {
  const std::string set =
      dialect == Regex::Dialect::Oniguruma
          ? "\\t-\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
          : "\\t-\\r\\x{20}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}";
  std::string out;
  bool in_class = false;
  const size_t n = pattern.size();
  for (size_t i = 0; i < n; ++i) {
    char c = pattern[i];
    if (c == '\\' && i + 1 < n) {
      char escaped = pattern[++i];
      if (escaped == 's') {
        out += in_class ? set : "[" + set + "]";
      } else if (escaped == 'S' && !in_class) {
        out += "[^" + set + "]";
      } else {
        out += '\\';
        out += escaped;
      }
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      // A ']' straight after '[' or '[^' is a literal, not the end of the class.
      if (i + 1 < n && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < n && pattern[i + 1] == ']') out += pattern[++i];
      continue;
    }
    if (in_class && c == '[' && i + 1 < n && pattern[i + 1] == ':') {  // [:alpha:] inside a class
      size_t close = pattern.find(":]", i + 2);
      if (close != std::string::npos) {
        out.append(pattern, i, close + 2 - i);
        i = close + 1;
        continue;
      }
    }
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

// Match state is per thread, so one Regex serves many threads: one ovector pair (all we read) and
// a JIT stack that may grow past PCRE2's 32 KiB default on long runs of one character class.
struct MatchState {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 64 * 1024 * 1024, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  MatchState() { pcre2_jit_stack_assign(context, nullptr, stack); }
  ~MatchState() {
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(stack);
    pcre2_match_data_free(data);
  }
};

MatchState& match_state() {
  thread_local MatchState state;
  return state;
}

}  // namespace

Regex::Regex(const std::string& pattern, Dialect dialect, const std::string& context)
    : code_(new Code{nullptr}), jit_(false), context_(context) {
  std::string translated = translate(pattern, dialect);
  uint32_t options = PCRE2_UTF | PCRE2_UCP;
  // Oniguruma's default (Ruby) syntax makes ^ and $ line anchors.
  if (dialect == Dialect::Oniguruma) options |= PCRE2_MULTILINE;
  int error = 0;
  PCRE2_SIZE offset = 0;
  code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(), options, &error,
                              &offset, nullptr);
  if (code_->code == nullptr) {
    delete code_;
    fail("tokenizer", context, ": cannot compile the regex /", pattern, "/ (PCRE2: ", pcre2_message(error),
         " at offset ", offset, ")");
  }
  // JIT matching is several times faster; where the platform has no JIT, the interpreter is used.
  jit_ = pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() {
  pcre2_code_free(code_->code);
  delete code_;
}

bool Regex::find(std::string_view text, size_t start, size_t* begin, size_t* end) const {
  MatchState& state = match_state();
  auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  int rc = jit_ ? pcre2_jit_match(code_->code, subject, text.size(), start, 0, state.data, state.context)
                : pcre2_match(code_->code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, state.data, state.context);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  // rc == 0 only says the ovector holds fewer pairs than the pattern has groups; pair 0 is there.
  if (rc < 0) {
    fail("tokenizer", context_, ": regex match failed on a text of ", text.size(), " bytes (PCRE2: ", pcre2_message(rc),
         ")");
  }
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.data);
  *begin = ovector[0];
  *end = ovector[1];
  return true;
}

size_t Regex::next_char(std::string_view text, size_t at) {
  return at < text.size() ? at + utf8_length(static_cast<unsigned char>(text[at])) : at + 1;
}

std::string Regex::replace_all(std::string_view text, std::string_view content) const {
  std::string out;
  if (text.empty()) return out;
  out.reserve(text.size());
  size_t done = 0;
  for_each_match(text, [&](size_t begin, size_t end) {
    out.append(text.substr(done, begin - done));
    out.append(content);
    done = end;
  });
  out.append(text.substr(done));
  return out;
}

std::string Regex::escape(std::string_view literal) {
  std::string out;
  for (char c : literal) {
    unsigned char u = static_cast<unsigned char>(c);
    // A backslash before any ASCII non-alphanumeric character makes it literal in PCRE2.
    bool alnum = (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z');
    if (u < 0x80 && !alnum) out += '\\';
    out += c;
  }
  return out;
}

std::string pattern_from_json(const JsonNode& node) {
  if (node.has("String")) return Regex::escape(node["String"].str());
  if (node.has("Regex")) return node["Regex"].str();
  node.fail("expected {\"String\": ...} or {\"Regex\": ...}");
}

}  // namespace retain::tok
