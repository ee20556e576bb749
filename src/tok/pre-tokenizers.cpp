// pre-tokenizers.cpp - the pre-tokenizer types, with tokenizers' span rules (split.rs, normalizer.rs).
#include "tok/pre-tokenizers.h"

#include <algorithm>
#include <vector>

#include "tok/regex.h"
#include "tok/unicode.h"

namespace retain::tok {

namespace {

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior behavior_from_json(const JsonNode& node) {
  const std::string name = node.str();
  if (name == "Removed") return Behavior::Removed;
  if (name == "Isolated") return Behavior::Isolated;
  if (name == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (name == "MergedWithNext") return Behavior::MergedWithNext;
  if (name == "Contiguous") return Behavior::Contiguous;
  node.fail("unknown split behavior '", name, "'");
}

// A stretch of the piece: a match of the delimiter pattern or the text between two matches.
struct Span {
  size_t begin, end;
  bool is_match;
};

// Emits the parts `behavior` makes of `spans` (which cover `text` in order), as tokenizers'
// NormalizedString::split does, leaving out empty ones.
void emit_spans(std::string_view text, std::vector<Span>& spans, Behavior behavior, bool at_start,
                PieceSink emit) {
  std::vector<Span> parts;
  parts.reserve(spans.size());
  bool previous_match = false;
  switch (behavior) {
    case Behavior::Isolated:
      parts = spans;
      break;
    case Behavior::Removed:
      for (const Span& s : spans) {
        if (!s.is_match) parts.push_back(s);
      }
      break;
    case Behavior::Contiguous:
      for (const Span& s : spans) {
        if (s.is_match == previous_match && !parts.empty()) {
          parts.back().end = s.end;
        } else {
          parts.push_back(s);
        }
        previous_match = s.is_match;
      }
      break;
    case Behavior::MergedWithPrevious:
      for (const Span& s : spans) {
        if (s.is_match && !previous_match && !parts.empty()) {
          parts.back().end = s.end;
        } else {
          parts.push_back(s);
        }
        previous_match = s.is_match;
      }
      break;
    case Behavior::MergedWithNext:
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->is_match && !previous_match && !parts.empty()) {
          parts.back().begin = it->begin;
        } else {
          parts.push_back(*it);
        }
        previous_match = it->is_match;
      }
      std::reverse(parts.begin(), parts.end());
      break;
  }
  for (const Span& p : parts) {
    if (p.begin < p.end) emit(text.substr(p.begin, p.end - p.begin), at_start && p.begin == 0);
  }
}

// The spans of `text` around the matches of `regex`, with `invert` swapping the roles.
std::vector<Span> regex_spans(const Regex& regex, std::string_view text, bool invert) {
  std::vector<Span> spans;
  size_t done = 0;
  regex.for_each_match(text, [&](size_t begin, size_t end) {
    if (done < begin) spans.push_back({done, begin, invert});
    spans.push_back({begin, end, !invert});
    done = end;
  });
  if (done < text.size()) spans.push_back({done, text.size(), invert});
  return spans;
}

// Isolated splitting without building spans: the hot path of every byte-level tokenizer.
void split_isolated(const Regex& regex, std::string_view text, bool at_start, PieceSink emit) {
  size_t done = 0;
  regex.for_each_match(text, [&](size_t begin, size_t end) {
    if (done < begin) emit(text.substr(done, begin - done), at_start && done == 0);
    if (begin < end) emit(text.substr(begin, end - begin), at_start && begin == 0);
    done = end;
  });
  if (done < text.size()) emit(text.substr(done), at_start && done == 0);
}

class Split : public PreTokenizer {
 public:
  Split(const std::string& pattern, Behavior behavior, bool invert, const std::string& context)
      : regex_(pattern, Regex::Dialect::Oniguruma, context), behavior_(behavior), invert_(invert) {}

  void split(std::string_view piece, bool at_start, PieceSink emit) const override {
    // Isolated keeps every span, so inverting changes nothing.
    if (behavior_ == Behavior::Isolated) {
      split_isolated(regex_, piece, at_start, emit);
      return;
    }
    std::vector<Span> spans = regex_spans(regex_, piece, invert_);
    emit_spans(piece, spans, behavior_, at_start, emit);
  }

 private:
  Regex regex_;
  Behavior behavior_;
  bool invert_;
};

class ByteLevel : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, bool use_regex, bool javascript) : add_prefix_space_(add_prefix_space) {
    if (use_regex) {
      regex_ = std::make_unique<Regex>(kGpt2Pattern,
                                       javascript ? Regex::Dialect::JavaScript : Regex::Dialect::Oniguruma,
                                       "the GPT-2 pattern");
    }
  }

  void split(std::string_view piece, bool at_start, PieceSink emit) const override {
    std::string prefixed;
    if (add_prefix_space_ && piece[0] != ' ') {
      prefixed = " ";
      prefixed += piece;
      piece = prefixed;
    }
    if (regex_) {
      split_isolated(*regex_, piece, at_start, emit);
    } else {
      emit(piece, at_start);
    }
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> regex_;
};

enum class PrependScheme { Always, First, Never };

// SentencePiece-style: spaces become `replacement` ("▁"), which then starts each piece.
class Metaspace : public PreTokenizer {
 public:
  Metaspace(std::string replacement, PrependScheme scheme, bool split)
      : replacement_(std::move(replacement)), scheme_(scheme), split_(split) {}

  void split(std::string_view piece, bool at_start, PieceSink emit) const override {
    std::string text;
    text.reserve(piece.size() + replacement_.size());
    for (char c : piece) {
      if (c == ' ') {
        text += replacement_;
      } else {
        text += c;
      }
    }
    bool starts_with_replacement = text.compare(0, replacement_.size(), replacement_) == 0;
    bool prepend = !starts_with_replacement &&
                   (scheme_ == PrependScheme::Always || (scheme_ == PrependScheme::First && at_start));
    if (prepend) text.insert(0, replacement_);
    if (!split_) {
      emit(text, at_start);
      return;
    }
    std::vector<Span> spans;
    size_t done = 0;
    for (size_t at = text.find(replacement_); at != std::string::npos; at = text.find(replacement_, done)) {
      if (done < at) spans.push_back({done, at, false});
      spans.push_back({at, at + replacement_.size(), true});
      done = at + replacement_.size();
    }
    if (done < text.size()) spans.push_back({done, text.size(), false});
    emit_spans(text, spans, Behavior::MergedWithNext, at_start, emit);
  }

 private:
  std::string replacement_;
  PrependScheme scheme_;
  bool split_;
};

// Every numeric character is its own match; `individual` keeps them apart, else runs stay together.
class Digits : public PreTokenizer {
 public:
  explicit Digits(bool individual) : individual_(individual) {}

  void split(std::string_view piece, bool at_start, PieceSink emit) const override {
    std::vector<Span> spans;
    size_t done = 0;
    for (size_t at = 0; at < piece.size();) {
      size_t length;
      bool numeric = is_numeric(utf8_decode(piece, at, &length));
      if (numeric) {
        if (done < at) spans.push_back({done, at, false});
        spans.push_back({at, at + length, true});
        done = at + length;
      }
      at += length;
    }
    if (done < piece.size()) spans.push_back({done, piece.size(), false});
    emit_spans(piece, spans, individual_ ? Behavior::Isolated : Behavior::Contiguous, at_start, emit);
  }

 private:
  bool individual_;
};

class Sequence : public PreTokenizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}

  void split(std::string_view piece, bool at_start, PieceSink emit) const override {
    run(0, piece, at_start, emit);
  }

 private:
  void run(size_t step, std::string_view piece, bool at_start, PieceSink emit) const {
    if (step == steps_.size()) {
      emit(piece, at_start);
      return;
    }
    auto next = [&](std::string_view part, bool part_at_start) { run(step + 1, part, part_at_start, emit); };
    steps_[step]->split(piece, at_start, next);
  }

  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

PrependScheme prepend_scheme_from_json(const JsonNode& node) {
  // Files written before tokenizers 0.15 say add_prefix_space instead.
  if (!node.has("prepend_scheme")) {
    return node.bool_or("add_prefix_space", true) ? PrependScheme::Always : PrependScheme::Never;
  }
  JsonNode scheme = node["prepend_scheme"];
  const std::string name = scheme.str();
  if (name == "always") return PrependScheme::Always;
  if (name == "first") return PrependScheme::First;
  if (name == "never") return PrependScheme::Never;
  scheme.fail("unknown prepend_scheme '", name, "'");
}

std::unique_ptr<PreTokenizer> parse(const JsonNode& node, bool* byte_level) {
  const std::string type = node.type();
  if (*byte_level) {
    node.fail("pre-tokenizer '", type, "' after ByteLevel is not supported (ByteLevel must come last)");
  }
  if (type == "Split") {
    return std::make_unique<Split>(pattern_from_json(node["pattern"]), behavior_from_json(node["behavior"]),
                                   node.bool_or("invert", false), node.file() + ": " + node.where() + ".pattern");
  }
  if (type == "ByteLevel") {
    *byte_level = true;
    return byte_level_pre_tokenizer(node.bool_or("add_prefix_space", true), node.bool_or("use_regex", true), false);
  }
  if (type == "Metaspace") {
    std::string replacement = node["replacement"].str();
    if (replacement.empty()) node["replacement"].fail("expected one character, found an empty string");
    return std::make_unique<Metaspace>(replacement, prepend_scheme_from_json(node), node.bool_or("split", true));
  }
  if (type == "Digits") return std::make_unique<Digits>(node.bool_or("individual_digits", false));
  if (type == "Sequence") {
    JsonNode list = node["pretokenizers"];
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (size_t i = 0; i < list.size(); ++i) steps.push_back(parse(list[i], byte_level));
    return std::make_unique<Sequence>(std::move(steps));
  }
  node.fail("pre-tokenizer type '", type, "' is not supported (supported: Split, ByteLevel, Metaspace, Digits, ",
            "Sequence)");
}

}  // namespace

std::unique_ptr<PreTokenizer> byte_level_pre_tokenizer(bool add_prefix_space, bool use_regex, bool javascript) {
  return std::make_unique<ByteLevel>(add_prefix_space, use_regex, javascript);
}

std::unique_ptr<PreTokenizer> pre_tokenizer_from_json(const JsonNode& node, bool* byte_level) {
  *byte_level = false;
  return parse(node, byte_level);
}

}  // namespace retain::tok
