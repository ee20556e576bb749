// unigram-model.cpp - the vocabulary trie, the Viterbi search and the JSON reader, following
// tokenizers' models/unigram/model.rs (encode_optimized and tokenize) step for step, so that ties
// and unknown characters come out the same.
#include "tok/unigram-model.h"

#include <cstdio>
#include <limits>

#include "tok/unicode.h"

namespace retain::tok {

namespace {

constexpr double kUnknownPenalty = 10.0;  // tokenizers' K_UNK_PENALTY

}  // namespace

UnigramModel::UnigramModel(std::vector<std::pair<std::string, double>> vocab, std::optional<int32_t> unk_id,
                           bool byte_fallback, const std::string& file)
    : vocab_(std::move(vocab)), unk_id_(unk_id), byte_fallback_(byte_fallback), file_(file) {
  if (unk_id_ && (*unk_id_ < 0 || static_cast<size_t>(*unk_id_) >= vocab_.size())) {
    fail("tokenizer", file_, ": unk_id ", *unk_id_, " is not in the vocabulary of ", vocab_.size(), " tokens");
  }
  double min_score = std::numeric_limits<double>::infinity();
  trie_.emplace_back();
  token_ids_.reserve(vocab_.size());
  for (size_t i = 0; i < vocab_.size(); ++i) {
    const auto& [token, score] = vocab_[i];
    const auto id = static_cast<int32_t>(i);
    token_ids_[token] = id;
    int32_t node = 0;
    for (char c : token) {
      const uint64_t key = (static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(c);
      auto [it, added] = trie_edges_.try_emplace(key, static_cast<int32_t>(trie_.size()));
      if (added) trie_.emplace_back();
      node = it->second;
    }
    trie_[static_cast<size_t>(node)].token = id;  // a repeated token keeps its last id
    if (score < min_score) min_score = score;
  }
  unk_score_ = min_score - kUnknownPenalty;
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    auto it = token_ids_.find(name);
    byte_fallback_ids_[b] = it == token_ids_.end() ? -1 : it->second;
  }
}

int32_t UnigramModel::trie_child(int32_t node, unsigned char byte) const {
  auto it = trie_edges_.find((static_cast<uint64_t>(node) << 8) | byte);
  return it == trie_edges_.end() ? -1 : it->second;
}

std::optional<int32_t> UnigramModel::token_to_id(std::string_view token) const {
  auto it = token_ids_.find(std::string(token));
  if (it == token_ids_.end()) return std::nullopt;
  return it->second;
}

const std::string* UnigramModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= vocab_.size()) return nullptr;
  return &vocab_[static_cast<size_t>(id)].first;
}

void UnigramModel::tokenize(std::string_view piece, std::vector<int32_t>& out) const {
  if (cache_.find(piece, out)) return;
  const size_t before = out.size();
  tokenize_uncached(piece, out);
  cache_.insert(piece, out.data() + before, out.size() - before);
}

std::vector<std::pair<size_t, size_t>> UnigramModel::best_pieces(std::string_view piece) const {
  struct BestPath {
    double score = 0;        // of the best path ending here
    int64_t starts_at = -1;  // where its last token starts; -1 while no path ends here
    int32_t id = 0;          // its last token
  };
  const size_t size = piece.size();
  std::vector<BestPath> best(size + 1);
  auto offer = [&](size_t end, size_t start, double score, int32_t id) {
    BestPath& target = best[end];
    if (target.starts_at < 0 || score > target.score) target = BestPath{score, static_cast<int64_t>(start), id};
  };
  for (size_t start = 0; start < size;) {
    const double till_here = best[start].score;
    const size_t char_length = utf8_length(static_cast<unsigned char>(piece[start]));
    bool has_single_char = false;
    int32_t node = 0;
    for (size_t at = start; at < size; ++at) {
      node = trie_child(node, static_cast<unsigned char>(piece[at]));
      if (node < 0) break;
      const int32_t id = trie_[static_cast<size_t>(node)].token;
      if (id < 0) continue;
      offer(at + 1, start, vocab_[static_cast<size_t>(id)].second + till_here, id);
      if (at + 1 - start == char_length) has_single_char = true;
    }
    if (!has_single_char) {
      const size_t end = start + char_length;
      if (best[end].starts_at < 0 || unk_score_ + till_here > best[end].score) {
        if (!unk_id_) {
          fail("tokenizer", file_, ": the text has a character the vocabulary lacks ('",
               piece.substr(start, char_length), "') and the Unigram model has no unk_id");
        }
        offer(end, start, unk_score_ + till_here, *unk_id_);
      }
    }
    start += char_length;
  }
  // Back from the end; unknown tokens next to each other become one.
  std::vector<std::pair<size_t, size_t>> pieces;
  size_t unknown_begin = 0, unknown_end = 0;
  for (size_t end = size; end > 0;) {
    const BestPath& node = best[end];
    const auto start = static_cast<size_t>(node.starts_at);
    if (unk_id_ && node.id == *unk_id_) {
      if (unknown_end == 0) unknown_end = end;
      unknown_begin = start;
    } else {
      if (unknown_end != 0) pieces.emplace_back(unknown_begin, unknown_end);
      unknown_end = 0;
      pieces.emplace_back(start, end);
    }
    end = start;
  }
  if (unknown_end != 0) pieces.emplace_back(unknown_begin, unknown_end);
  return {pieces.rbegin(), pieces.rend()};
}

void UnigramModel::tokenize_uncached(std::string_view piece, std::vector<int32_t>& out) const {
  for (const auto& [begin, end] : best_pieces(piece)) {
    const std::string token(piece.substr(begin, end - begin));
    auto it = token_ids_.find(token);
    if (it != token_ids_.end()) {
      out.push_back(it->second);
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (char c : token) all = all && byte_fallback_ids_[static_cast<unsigned char>(c)] >= 0;
      if (all) {
        for (char c : token) out.push_back(byte_fallback_ids_[static_cast<unsigned char>(c)]);
        continue;
      }
    }
    if (!unk_id_) {
      fail("tokenizer", file_, ": the text has characters the vocabulary lacks ('", token,
           "') and the Unigram model has no unk_id");
    }
    out.push_back(*unk_id_);
  }
}

std::unique_ptr<UnigramModel> unigram_model_from_json(const JsonNode& node) {
  JsonNode vocab = node["vocab"];
  if (!vocab.value().is_array()) vocab.fail("expected an array of [token, score] pairs");
  std::vector<std::pair<std::string, double>> entries;
  entries.reserve(vocab.size());
  for (size_t i = 0; i < vocab.size(); ++i) {
    const nlohmann::json& entry = vocab.value()[i];
    if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() || !entry[1].is_number()) {
      vocab[i].fail("expected a [token, score] pair");
    }
    entries.emplace_back(entry[0].get<std::string>(), entry[1].get<double>());
  }
  std::optional<int32_t> unk_id;
  if (node.has("unk_id")) {
    const int64_t id = node["unk_id"].integer();
    if (id < 0 || static_cast<uint64_t>(id) >= entries.size()) {
      node["unk_id"].fail("expected the id of a token of the vocabulary (0..", entries.size(), " exclusive), found ",
                          id);
    }
    unk_id = static_cast<int32_t>(id);
  }
  return std::make_unique<UnigramModel>(std::move(entries), unk_id, node.bool_or("byte_fallback", false), node.file());
}

}  // namespace retain::tok
