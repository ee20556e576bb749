// scorers.cpp - exact match and ROUGE-L on strings.
#include "eval/scorers.h"

#include <algorithm>
#include <string_view>
#include <vector>

#include "error.h"

namespace retain::eval {

namespace {

std::string_view strip(std::string_view text) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  const auto begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(kSpace) - begin + 1);
}

bool is_word_byte(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80; }

std::vector<std::string> rouge_tokens(const std::string& text) {
  std::vector<std::string> tokens;
  std::string current;
  for (char raw : text) {
    auto c = static_cast<unsigned char>(raw);
    if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c - 'A' + 'a');
    if (is_word_byte(c)) {
      current.push_back(static_cast<char>(c));
    } else if (!current.empty()) {
      tokens.push_back(std::move(current));
      current.clear();
    }
  }
  if (!current.empty()) tokens.push_back(std::move(current));
  return tokens;
}

size_t lcs_length(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<size_t> previous(b.size() + 1, 0), current(b.size() + 1, 0);
  for (const auto& token : a) {
    for (size_t j = 0; j < b.size(); ++j) {
      current[j + 1] = token == b[j] ? previous[j] + 1 : std::max(previous[j + 1], current[j]);
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

}  // namespace

double exact_match(const std::string& pred, const std::string& ref) { return strip(pred) == strip(ref) ? 1.0 : 0.0; }

double rouge_l(const std::string& pred, const std::string& ref) {
  const auto pred_tokens = rouge_tokens(pred);
  const auto ref_tokens = rouge_tokens(ref);
  if (pred_tokens.empty() && ref_tokens.empty()) return 1.0;
  const auto lcs = static_cast<double>(lcs_length(pred_tokens, ref_tokens));
  if (lcs == 0) return 0.0;
  const double precision = lcs / static_cast<double>(pred_tokens.size());
  const double recall = lcs / static_cast<double>(ref_tokens.size());
  return 2 * precision * recall / (precision + recall);
}

double score(const std::string& metric, const std::string& pred, const std::string& ref) {
  if (metric == "exact_match" || metric == "accuracy") return exact_match(pred, ref);
  if (metric == "rouge_l") return rouge_l(pred, ref);
  fail("eval", "unknown answer metric '", metric, "' (known: exact_match, accuracy, rouge_l)");
}

}  // namespace retain::eval
