// tokenizer.h - text <-> token ids, as Hugging Face tokenizers computes them, for BPE models:
// byte-level (GPT-2, Llama-3, Qwen) and SentencePiece-style with byte fallback (Llama-2, Mistral),
// and for SentencePiece's Unigram models (T5) with their precompiled normalization rules.
//
//   auto tok = retain::tok::Tokenizer::load("models/llama3");   // folder with tokenizer.json
//   std::vector<int32_t> ids = tok->encode("Hello world", true);
//   std::string text = tok->decode(ids, true);                 // without the special tokens
//
// encode runs the pipeline of tokenizer.json: added tokens are cut out first, each stretch in
// between is normalized, pre-tokenized into pieces and each piece encoded by the model (BPE or
// Unigram); the post-processor then adds the special tokens. Anything in a file that this reader
// does not implement (a model type such as WordPiece, a normalizer, pre-tokenizer, decoder or
// post-processor type)
// is refused at load time with an error naming the file and the component, never ignored.
// A loaded Tokenizer is immutable; encode and decode may run on many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace retain::tok {

class AddedTokens;
class Decoder;
class Normalizer;
class PostProcessor;
class PreTokenizer;
class TokenModel;

// What a tokenizer is made of; the file readers fill it in. Only `model` and `added` are required.
struct TokenizerParts {
  // Out of line, where the parts' types are complete.
  TokenizerParts();
  ~TokenizerParts();
  TokenizerParts(TokenizerParts&&) noexcept;
  TokenizerParts& operator=(TokenizerParts&&) noexcept;

  std::string path;  // named in errors
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<TokenModel> model;
  std::unique_ptr<AddedTokens> added;
  std::unique_ptr<PostProcessor> post_processor;
  std::unique_ptr<Decoder> decoder;
};

class Tokenizer {
 public:
  // `path` is a tokenizer.json, a folder holding one, a .gguf file (or a folder holding one and no
  // tokenizer.json: the tokenizer in its metadata, tok/gguf-vocab.h), or a GPT-2 encoder.json (any name ending in
  // "encoder.json") with its merges beside it under the same prefix and "vocab.bpe"
  // (encoder.json + vocab.bpe, gpt2-encoder.json + gpt2-vocab.bpe). Throws retain::Error.
  static std::unique_ptr<Tokenizer> load(const std::string& path);

  explicit Tokenizer(TokenizerParts parts);
  ~Tokenizer();

  // `text` must be valid UTF-8 (a retain::Error says where it is not). add_special_tokens runs the
  // post-processor, as tokenizers' encode(text, add_special_tokens) does; special tokens written
  // in the text are recognised either way.
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const;
  // Appends to `ids` instead; for loops that reuse one buffer.
  void encode_into(std::string_view text, bool add_special_tokens, std::vector<int32_t>& ids) const;

  // Ids that no token has (e.g. the padding rows of a model's embedding) decode to nothing, as in
  // tokenizers. Byte sequences that are not UTF-8 become U+FFFD.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const;

  // One more than the largest id of the vocabulary and the added tokens: the embedding rows the
  // tokenizer needs (models often pad theirs further).
  int64_t vocab_size() const;
  std::optional<int32_t> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(int32_t id) const;
  bool is_special(int32_t id) const;  // an added token marked special (skipped by decode)
  const std::string& path() const { return parts_.path; }

 private:
  // One stretch of text between raw added tokens, from byte `offset` of the input.
  void encode_stretch(std::string_view text, size_t offset, std::vector<int32_t>& ids) const;
  // Pre-tokenizer and model on a normalized stretch.
  void encode_normalized(std::string_view text, bool at_start, std::vector<int32_t>& ids) const;

  TokenizerParts parts_;
};

}  // namespace retain::tok
