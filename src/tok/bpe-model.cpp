// bpe-model.cpp - vocabulary and merge tables, the per-word merge loop, and the JSON reader.
#include "tok/bpe-model.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <queue>

#include "tok/byte-level.h"
#include "tok/unicode.h"

namespace retain::tok {

namespace {

// Ids index a table, so a corrupt file must not ask for billions of rows.
constexpr int64_t kMaxId = (int64_t{1} << 28) - 1;

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

}  // namespace

void BpeModel::MergeTable::reserve(size_t count) {
  int bits = 4;
  while ((size_t{1} << bits) < 2 * count) ++bits;  // at most half full: short probes
  slots_.assign(size_t{1} << bits, Slot{});
  shift_ = 64 - bits;
}

size_t BpeModel::MergeTable::slot_of(uint64_t key) const {
  return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);  // Fibonacci hashing
}

void BpeModel::MergeTable::set(int32_t left, int32_t right, Merge merge) {
  const uint64_t key = pair_key(left, right);
  const size_t mask = slots_.size() - 1;
  size_t i = slot_of(key);
  while (slots_[i].key != kEmpty && slots_[i].key != key) i = (i + 1) & mask;
  slots_[i] = Slot{key, merge};
}

const BpeModel::Merge* BpeModel::MergeTable::find(int32_t left, int32_t right) const {
  const uint64_t key = pair_key(left, right);
  const size_t mask = slots_.size() - 1;
  for (size_t i = slot_of(key);; i = (i + 1) & mask) {
    if (slots_[i].key == key) return &slots_[i].merge;
    if (slots_[i].key == kEmpty) return nullptr;
  }
}

BpeModel::BpeModel(BpeConfig config, const std::string& file)
    : file_(file),
      unk_token_(std::move(config.unk_token)),
      continuing_subword_prefix_(std::move(config.continuing_subword_prefix)),
      end_of_word_suffix_(std::move(config.end_of_word_suffix)),
      fuse_unk_(config.fuse_unk),
      byte_fallback_(config.byte_fallback),
      ignore_merges_(config.ignore_merges),
      byte_level_(config.byte_level) {
  int32_t max_id = -1;
  vocab_.reserve(config.vocab.size());
  for (auto& [token, id] : config.vocab) {
    if (id < 0 || id > kMaxId) {
      fail("tokenizer", file, ": token '", token, "' has id ", id, ", outside 0..", kMaxId);
    }
    max_id = std::max(max_id, id);
    vocab_[token] = id;
  }
  // The tables below are indexed by id: a vocabulary whose ids run far past its size (one token with
  // id 268435455 is 8 GB of table) is refused (found by fuzz/tokenizer-json-fuzz.cpp). Real files
  // number their tokens 0..N-1.
  if (int64_t{max_id} + 1 > 2 * static_cast<int64_t>(config.vocab.size()) + 1024) {
    fail("tokenizer", file, ": the vocabulary's ids run up to ", max_id, " for ", config.vocab.size(),
         " tokens; its tokens must be numbered 0..N-1 (with few gaps)");
  }
  id_to_token_.resize(static_cast<size_t>(max_id + 1));
  has_token_.assign(static_cast<size_t>(max_id + 1), false);
  // In the file's order, so that the error names the same two tokens every time.
  for (const auto& [token, id] : config.vocab) {
    if (vocab_.at(token) != id) continue;  // a key the file repeats: its last value counts
    if (has_token_[static_cast<size_t>(id)] && id_to_token_[static_cast<size_t>(id)] != token) {
      fail("tokenizer", file, ": tokens '", id_to_token_[static_cast<size_t>(id)], "' and '", token, "' both have id ",
           id);
    }
    id_to_token_[static_cast<size_t>(id)] = token;
    has_token_[static_cast<size_t>(id)] = true;
  }

  merges_.reserve(config.merges.size());
  for (size_t rank = 0; rank < config.merges.size(); ++rank) {
    // Not a structured binding: clang (the fuzz build) cannot capture one in a lambda before C++20.
    const std::string& left = config.merges[rank].first;
    const std::string& right = config.merges[rank].second;
    auto missing = [&](const std::string& token) {
      fail("tokenizer", file, ": merge ", rank, " ('", left, "' + '", right, "') needs '", token,
           "', which is not in the vocabulary");
    };
    auto left_it = vocab_.find(left);
    if (left_it == vocab_.end()) missing(left);
    auto right_it = vocab_.find(right);
    if (right_it == vocab_.end()) missing(right);
    // The right part's continuing_subword_prefix disappears inside the merged token.
    size_t skip = right.compare(0, continuing_subword_prefix_.size(), continuing_subword_prefix_) == 0
                      ? continuing_subword_prefix_.size()
                      : 0;
    std::string merged = left + right.substr(skip);
    auto merged_it = vocab_.find(merged);
    if (merged_it == vocab_.end()) missing(merged);
    // A pair listed twice keeps its later rank, as tokenizers' HashMap collect does.
    merges_.set(left_it->second, right_it->second, Merge{static_cast<int32_t>(rank), merged_it->second});
  }

  if (unk_token_) {
    auto it = vocab_.find(*unk_token_);
    if (it != vocab_.end()) unk_id_ = it->second;
  }

  byte_ids_complete_ = byte_level_ && continuing_subword_prefix_.empty() && end_of_word_suffix_.empty();
  for (int b = 0; b < 256; ++b) {
    const char byte = static_cast<char>(b);
    std::string spelled;
    byte_level_encode(std::string_view(&byte, 1), spelled);
    auto it = vocab_.find(spelled);
    byte_ids_[b] = it == vocab_.end() ? -1 : it->second;
    if (byte_ids_[b] < 0) byte_ids_complete_ = false;

    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    auto fallback = vocab_.find(name);
    byte_fallback_ids_[b] = fallback == vocab_.end() ? -1 : fallback->second;
  }
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(std::string(token));
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size() || !has_token_[static_cast<size_t>(id)]) {
    return nullptr;
  }
  return &id_to_token_[static_cast<size_t>(id)];
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>& out) const {
  if (cache_.find(word, out)) return;
  const size_t before = out.size();
  tokenize_uncached(word, out);
  cache_.insert(word, out.data() + before, out.size() - before);
}

void BpeModel::tokenize_uncached(std::string_view word, std::vector<int32_t>& out) const {
  std::string spelled_bytes;
  std::string_view spelled = word;
  if (byte_level_) {
    byte_level_encode(word, spelled_bytes);
    spelled = spelled_bytes;
  }
  if (ignore_merges_) {
    auto it = vocab_.find(std::string(spelled));
    if (it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  std::vector<int32_t> symbols;
  if (byte_ids_complete_) {
    symbols.reserve(word.size());
    for (char c : word) symbols.push_back(byte_ids_[static_cast<unsigned char>(c)]);
  } else {
    initial_symbols(spelled, symbols);
  }
  merge_all(symbols);
  out.insert(out.end(), symbols.begin(), symbols.end());
}

void BpeModel::initial_symbols(std::string_view word, std::vector<int32_t>& symbols) const {
  bool unk_pending = false;  // an unknown character waiting to become unk_token (tokenizers' `unk`)
  std::string key;
  for (size_t at = 0; at < word.size();) {
    const size_t length = utf8_length(static_cast<unsigned char>(word[at]));
    const bool last = at + length >= word.size();
    key.clear();
    if (at > 0) key += continuing_subword_prefix_;
    key.append(word.data() + at, length);
    if (last) key += end_of_word_suffix_;
    at += length;

    auto it = vocab_.find(key);
    if (it != vocab_.end()) {
      if (unk_pending) symbols.push_back(*unk_id_);
      unk_pending = false;
      symbols.push_back(it->second);
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (char c : key) all = all && byte_fallback_ids_[static_cast<unsigned char>(c)] >= 0;
      if (all) {
        // Like tokenizers, this leaves a pending unk to be written after these bytes.
        for (char c : key) symbols.push_back(byte_fallback_ids_[static_cast<unsigned char>(c)]);
        continue;
      }
    }
    if (!unk_token_) continue;
    if (!unk_id_) fail("tokenizer", file_, ": unk_token '", *unk_token_, "' is not in the vocabulary");
    if (unk_pending && !fuse_unk_) symbols.push_back(*unk_id_);
    unk_pending = true;
  }
  if (unk_pending) symbols.push_back(*unk_id_);
}

const BpeModel::Merge* BpeModel::find_merge(int32_t left, int32_t right) const { return merges_.find(left, right); }

// tokenizers' Word::merge_all: a queue of candidate merges ordered by rank, then position; a
// candidate is dropped when its symbols changed since it was queued.
void BpeModel::merge_all(std::vector<int32_t>& symbols) const {
  const int32_t n = static_cast<int32_t>(symbols.size());
  if (n < 2) return;
  struct Candidate {
    int32_t rank, pos, merged_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::vector<int32_t> prev(n), next(n);
  std::vector<bool> alive(n, true);
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  for (int32_t i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
    if (i + 1 < n) {
      if (const Merge* m = find_merge(symbols[i], symbols[i + 1])) queue.push({m->rank, i, m->merged_id});
    }
  }
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    const int32_t pos = top.pos;
    if (!alive[pos] || next[pos] < 0) continue;
    const int32_t right = next[pos];
    const Merge* current = find_merge(symbols[pos], symbols[right]);
    if (current == nullptr || current->merged_id != top.merged_id) continue;

    symbols[pos] = top.merged_id;
    alive[right] = false;
    next[pos] = next[right];
    if (next[pos] >= 0) prev[next[pos]] = pos;

    if (prev[pos] >= 0) {
      if (const Merge* m = find_merge(symbols[prev[pos]], symbols[pos])) queue.push({m->rank, prev[pos], m->merged_id});
    }
    if (next[pos] >= 0) {
      if (const Merge* m = find_merge(symbols[pos], symbols[next[pos]])) queue.push({m->rank, pos, m->merged_id});
    }
  }
  size_t kept = 0;
  for (int32_t i = 0; i < n; ++i) {
    if (alive[i]) symbols[kept++] = symbols[i];
  }
  symbols.resize(kept);
}

std::unique_ptr<BpeModel> bpe_model_from_json(const JsonNode& node, bool byte_level) {
  BpeConfig config;
  config.byte_level = byte_level;

  JsonNode vocab = node["vocab"];
  if (!vocab.value().is_object()) vocab.fail("expected an object of token: id");
  config.vocab.reserve(vocab.value().size());
  for (auto it = vocab.value().begin(); it != vocab.value().end(); ++it) {
    if (!it.value().is_number_integer()) vocab.fail("token '", it.key(), "' has an id that is not an integer");
    config.vocab.emplace_back(it.key(),
                              static_cast<int32_t>(std::clamp<int64_t>(it.value().get<int64_t>(), -1, kMaxId + 1)));
  }

  // Merges are "left right" strings, or [left, right] pairs since tokenizers 0.20.
  JsonNode merges = node["merges"];
  config.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.value().size(); ++i) {
    const auto& m = merges.value()[i];
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      size_t space = s.find(' ');
      if (space == std::string::npos) merges[i].fail("expected \"left right\", found \"", s, "\"");
      config.merges.emplace_back(s.substr(0, space), s.substr(space + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      config.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      merges[i].fail("expected \"left right\" or [\"left\", \"right\"]");
    }
  }

  if (node.has("unk_token")) config.unk_token = node["unk_token"].str();
  config.continuing_subword_prefix = node.str_or("continuing_subword_prefix", "");
  config.end_of_word_suffix = node.str_or("end_of_word_suffix", "");
  config.fuse_unk = node.bool_or("fuse_unk", false);
  config.byte_fallback = node.bool_or("byte_fallback", false);
  config.ignore_merges = node.bool_or("ignore_merges", false);
  if (node.has("dropout")) {
    JsonNode dropout = node["dropout"];
    if (!dropout.value().is_number()) dropout.fail("expected a number or null");
    // Dropout makes encoding random; it is a training-time augmentation of the tokenizer itself.
    if (dropout.value().get<double>() > 0) dropout.fail("BPE dropout is not supported (set it to null)");
  }
  return std::make_unique<BpeModel>(std::move(config), node.file());
}

}  // namespace retain::tok
