// pre-tokenizers.h - tokenizer.json "pre_tokenizer": cuts normalized text into the pieces ("words")
// the model encodes one by one. Implemented: Split, ByteLevel, Metaspace, WhitespaceSplit, Digits,
// Punctuation, Sequence; any other type is refused when the file is loaded.
//
// Pieces are handed on as they are cut, through a chain of callbacks, so the common case (one regex
// Split) copies no text. When ByteLevel is the last step, as in every GPT-2 / Llama-3 / Qwen file,
// its byte -> character spelling is left to the model (BpeModel with byte_level set), which keys
// its cache on the raw bytes and so skips the spelling on a hit. A ByteLevel with steps after it
// spells the text itself, since those steps see the spelled text in tokenizers.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "tok/json-node.h"

namespace retain::tok {

// A non-owning reference to a callable `void(std::string_view piece, bool at_start)`: passing it
// down a chain costs two pointers and no allocation, unlike std::function.
class PieceSink {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, PieceSink>>>
  PieceSink(F& callable)  // NOLINT: implicit on purpose, sinks are lambdas at the call site
      : object_(&callable), call_([](void* object, std::string_view piece, bool at_start) {
          (*static_cast<F*>(object))(piece, at_start);
        }) {}
  void operator()(std::string_view piece, bool at_start) const { call_(object_, piece, at_start); }

 private:
  void* object_;
  void (*call_)(void*, std::string_view, bool);
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Cuts `piece` (valid UTF-8, not empty) and passes each non-empty part, in order, to `emit`.
  // `at_start` says whether `piece` begins the whole input text; Metaspace's prepend_scheme
  // "first" needs it, and parts carry it on when they begin `piece`.
  virtual void split(std::string_view piece, bool at_start, PieceSink emit) const = 0;
};

// GPT-2's pre-tokenizer regex, which ByteLevel's use_regex applies.
inline constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// The pre-tokenizer tokenizers' ByteLevel(add_prefix_space, use_regex) builds, on its own, so with
// the spelling left to a byte_level model; `javascript` takes \s as gpt-3-encoder's JavaScript
// regex does rather than as Oniguruma does.
std::unique_ptr<PreTokenizer> byte_level_pre_tokenizer(bool add_prefix_space, bool use_regex, bool javascript);

// `node` is the "pre_tokenizer" object (not null). *byte_level is set when it ends with ByteLevel,
// i.e. when the model receives raw bytes to spell.
std::unique_ptr<PreTokenizer> pre_tokenizer_from_json(const JsonNode& node, bool* byte_level);

}  // namespace retain::tok
