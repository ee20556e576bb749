// added-tokens.cpp - the trie search and tokenizers' find_matches rules (added_vocabulary.rs).
#include "tok/added-tokens.h"

#include <algorithm>
#include <cstdint>

#include "tok/normalizers.h"
#include "tok/unicode.h"

namespace retain::tok {

namespace {

// The code point that ends text[..end] (end > 0).
uint32_t last_char(std::string_view text, size_t end, size_t* start) {
  size_t at = end - 1;
  while (at > 0 && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) --at;
  size_t length;
  *start = at;
  return utf8_decode(text, at, &length);
}

// tokenizers tests these with the regex crate's \w$ / ^\w and \s*$ / ^\s*.
bool ends_with_word(std::string_view text, size_t end) {
  size_t start;
  return end > 0 && is_word_char(last_char(text, end, &start));
}

bool starts_with_word(std::string_view text, size_t begin) {
  size_t length;
  return begin < text.size() && is_word_char(utf8_decode(text, begin, &length));
}

size_t whitespace_run_before(std::string_view text, size_t end) {
  size_t start;
  while (end > 0 && is_whitespace(last_char(text, end, &start))) end = start;
  return end;
}

size_t whitespace_run_after(std::string_view text, size_t begin) {
  size_t length;
  while (begin < text.size() && is_whitespace(utf8_decode(text, begin, &length))) begin += length;
  return begin;
}

}  // namespace

AddedTokens::AddedTokens(std::vector<AddedToken> tokens, const Normalizer* normalizer) : tokens_(std::move(tokens)) {
  // tokenizers puts the special tokens first; the order only decides between identical contents.
  std::stable_partition(tokens_.begin(), tokens_.end(), [](const AddedToken& t) { return t.special; });
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& t = tokens_[i];
    if (t.content.empty()) continue;  // tokenizers ignores empty tokens
    by_id_[t.id] = i;
    by_content_[t.content] = t.id;
    if (t.special) special_.insert(t.content);
    if (t.normalized) {
      std::string spelled = t.content;
      if (normalizer != nullptr) normalizer->normalize(spelled);
      normalized_.add(spelled, i);
    } else {
      raw_.add(t.content, i);
    }
  }
}

const std::string* AddedTokens::content_of(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second].content;
}

std::optional<int32_t> AddedTokens::id_of(std::string_view content) const {
  auto it = by_content_.find(std::string(content));
  if (it == by_content_.end()) return std::nullopt;
  return it->second;
}

int32_t AddedTokens::max_id() const {
  int32_t max_id = -1;
  for (const auto& [id, index] : by_id_) max_id = std::max(max_id, id);
  return max_id;
}

void AddedTokens::Matcher::add(const std::string& pattern, size_t token) {
  if (pattern.empty()) return;
  first_byte_[static_cast<unsigned char>(pattern[0])] = true;
  int32_t node = 0;
  for (char c : pattern) {
    const unsigned char byte = static_cast<unsigned char>(c);
    int32_t next = child(node, byte);
    if (next < 0) {
      next = static_cast<int32_t>(nodes_.size());
      nodes_[node].children.emplace_back(byte, next);
      nodes_.emplace_back();
    }
    node = next;
  }
  if (nodes_[node].token < 0) nodes_[node].token = static_cast<int32_t>(token);
}

int32_t AddedTokens::Matcher::child(int32_t node, unsigned char byte) const {
  for (const auto& [b, next] : nodes_[node].children) {
    if (b == byte) return next;
  }
  return -1;
}

std::vector<Segment> AddedTokens::Matcher::split(std::string_view text, const std::vector<AddedToken>& tokens) const {
  std::vector<Segment> segments;
  const size_t n = text.size();
  size_t done = 0;  // tokenizers' start_offset: the end of the last accepted token
  size_t pos = 0;   // where the search for the next match starts
  while (!empty() && pos < n) {
    if (!first_byte_[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    // The longest token starting at pos.
    int32_t best = -1;
    size_t match_end = 0;
    int32_t node = 0;
    for (size_t i = pos; i < n; ++i) {
      node = child(node, static_cast<unsigned char>(text[i]));
      if (node < 0) break;
      if (nodes_[node].token >= 0) {
        best = nodes_[node].token;
        match_end = i + 1;
      }
    }
    if (best < 0) {
      ++pos;
      continue;
    }
    const AddedToken& token = tokens[static_cast<size_t>(best)];
    size_t start = pos, stop = match_end;
    pos = match_end;  // the search goes on after the match, whatever happens to it below
    if (token.single_word) {
      bool alone = (start == 0 || !ends_with_word(text, start)) && (stop == n || !starts_with_word(text, stop));
      if (!alone) continue;
    }
    // Whitespace an earlier token already swallowed stays with it.
    if (token.lstrip) start = std::max(whitespace_run_before(text, start), done);
    if (token.rstrip) stop = whitespace_run_after(text, stop);
    if (done < start) segments.push_back({done, start, -1});
    segments.push_back({start, stop, token.id});
    done = stop;
  }
  if (done < n) segments.push_back({done, n, -1});
  return segments;
}

}  // namespace retain::tok
