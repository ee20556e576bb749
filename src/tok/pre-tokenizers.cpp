// pre-tokenizers.cpp - the pre-tokenizer types, with tokenizers' span rules (split.rs, normalizer.rs).
#include "tok/pre-tokenizers.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "tok/byte-level.h"
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
void emit_spans(std::string_view text, const std::vector<Span>& spans, Behavior behavior, bool at_start,
                PieceSink emit) {
  std::vector<Span> parts;
  parts.reserve(spans.size());
  bool previous_match = false;
  switch (behavior) {
    case Behavior::Isolated: parts = spans; break;
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

// Spans where each character `is_match` accepts is a match of its own (tokenizers' Pattern for a
// char predicate).
std::vector<Span> char_spans(std::string_view text, bool (*is_match)(uint32_t)) {
  std::vector<Span> spans;
  size_t done = 0;
  for (size_t at = 0; at < text.size();) {
    size_t length;
    if (is_match(utf8_decode(text, at, &length))) {
      if (done < at) spans.push_back({done, at, false});
      spans.push_back({at, at + length, true});
      done = at + length;
    }
    at += length;
  }
  if (done < text.size()) spans.push_back({done, text.size(), false});
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
      regex_ = std::make_unique<Regex>(
          kGpt2Pattern, javascript ? Regex::Dialect::JavaScript : Regex::Dialect::Oniguruma, "the GPT-2 pattern");
    }
  }

  // Hands pieces on unspelled, for a model that spells bytes itself (the last step of the chain).
  void leave_spelling_to_model() { spell_ = false; }

  void split(std::string_view piece, bool at_start, PieceSink emit) const override {
    std::string prefixed;
    if (add_prefix_space_ && piece[0] != ' ') {
      prefixed = " ";
      prefixed += piece;
      piece = prefixed;
    }
    if (!spell_) {
      if (regex_) {
        split_isolated(*regex_, piece, at_start, emit);
      } else {
        emit(piece, at_start);
      }
      return;
    }
    auto spell = [&](std::string_view part, bool part_at_start) {
      std::string spelled;
      byte_level_encode(part, spelled);
      emit(spelled, part_at_start);
    };
    if (regex_) {
      split_isolated(*regex_, piece, at_start, spell);
    } else {
      spell(piece, at_start);
    }
  }

 private:
  bool add_prefix_space_;
  bool spell_ = true;
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
    bool prepend =
        !starts_with_replacement && (scheme_ == PrependScheme::Always || (scheme_ == PrependScheme::First && at_start));
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

// Whitespace separates the parts and is dropped (T5's files put this before Metaspace).
class WhitespaceSplit : public PreTokenizer {
 public:
  void split(std::string_view piece, bool at_start, PieceSink emit) const override {
    emit_spans(piece, char_spans(piece, is_whitespace), Behavior::Removed, at_start, emit);
  }
};

// Every numeric character is its own match; `individual` keeps them apart, else runs stay together.
class Digits : public PreTokenizer {
 public:
  explicit Digits(bool individual) : individual_(individual) {}

  void split(std::string_view piece, bool at_start, PieceSink emit) const override {
    std::vector<Span> spans = char_spans(piece, is_numeric);
    emit_spans(piece, spans, individual_ ? Behavior::Isolated : Behavior::Contiguous, at_start, emit);
  }

 private:
  bool individual_;
};

// Each punctuation character (ASCII punctuation or Unicode P*) is a match, grouped by `behavior`.
class Punctuation : public PreTokenizer {
 public:
  explicit Punctuation(Behavior behavior) : behavior_(behavior) {}

  void split(std::string_view piece, bool at_start, PieceSink emit) const override {
    std::vector<Span> spans = char_spans(piece, is_punctuation);
    emit_spans(piece, spans, behavior_, at_start, emit);
  }

 private:
  Behavior behavior_;
};

class Sequence : public PreTokenizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}

  void split(std::string_view piece, bool at_start, PieceSink emit) const override { run(0, piece, at_start, emit); }

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

// While parsing: the ByteLevel step seen last, and whether another step came after it.
struct ChainEnd {
  ByteLevel* byte_level = nullptr;
  bool step_after = false;
};

std::unique_ptr<PreTokenizer> parse(const JsonNode& node, ChainEnd& end) {
  const std::string type = node.type();
  if (type == "Sequence") {
    JsonNode list = node["pretokenizers"];
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (size_t i = 0; i < list.size(); ++i) steps.push_back(parse(list[i], end));
    return std::make_unique<Sequence>(std::move(steps));
  }
  end.step_after = true;
  if (type == "Split") {
    return std::make_unique<Split>(pattern_from_json(node["pattern"]), behavior_from_json(node["behavior"]),
                                   node.bool_or("invert", false), node.file() + ": " + node.where() + ".pattern");
  }
  if (type == "ByteLevel") {
    auto step =
        std::make_unique<ByteLevel>(node.bool_or("add_prefix_space", true), node.bool_or("use_regex", true), false);
    end = ChainEnd{step.get(), false};
    return step;
  }
  if (type == "Metaspace") {
    std::string replacement = node["replacement"].str();
    if (replacement.empty()) node["replacement"].fail("expected one character, found an empty string");
    return std::make_unique<Metaspace>(replacement, prepend_scheme_from_json(node), node.bool_or("split", true));
  }
  if (type == "WhitespaceSplit") return std::make_unique<WhitespaceSplit>();
  if (type == "Digits") return std::make_unique<Digits>(node.bool_or("individual_digits", false));
  if (type == "Punctuation") {
    return std::make_unique<Punctuation>(node.has("behavior") ? behavior_from_json(node["behavior"])
                                                              : Behavior::Isolated);
  }
  node.fail("pre-tokenizer type '", type, "' is not supported (supported: Split, ByteLevel, Metaspace, ",
            "WhitespaceSplit, Digits, Punctuation, Sequence)");
}

}  // namespace

std::unique_ptr<PreTokenizer> byte_level_pre_tokenizer(bool add_prefix_space, bool use_regex, bool javascript) {
  auto step = std::make_unique<ByteLevel>(add_prefix_space, use_regex, javascript);
  step->leave_spelling_to_model();
  return step;
}

std::unique_ptr<PreTokenizer> pre_tokenizer_from_json(const JsonNode& node, bool* byte_level) {
  ChainEnd end;
  std::unique_ptr<PreTokenizer> chain = parse(node, end);
  // Steps after ByteLevel see spelled text, so only a final ByteLevel may leave spelling to the model.
  *byte_level = end.byte_level != nullptr && !end.step_after;
  if (*byte_level) end.byte_level->leave_spelling_to_model();
  return chain;
}

}  // namespace retain::tok
