// gguf-vocab.h - tokenizers held in GGUF metadata (tokenizer.ggml.*), as the tokenizer.json of
// the same tokenizer, and back.
//
//   tokenizer.ggml.model = gpt2: byte-level BPE from tokens and merges; the pre-tokenizer is the one
//     llama.cpp chooses by tokenizer.ggml.pre (default / gpt-2, llama-bpe, qwen2, smollm, ...),
//     written as the Split / Digits / ByteLevel pipeline the model's own tokenizer.json has.
//   tokenizer.ggml.model = llama: SentencePiece-style BPE with byte fallback; the merges come from
//     the scores (a pair merges with the priority of the token it makes), as transformers derives
//     them; "▁" for spaces and a prefix space unless tokenizer.ggml.add_space_prefix is false.
// Control tokens (token_type 3) become special added tokens, user-defined ones (4) plain added
// tokens; add_bos_token / add_eos_token become the post-processor.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "io/gguf-writer.h"
#include "io/gguf.h"

namespace retain::tok {

// The tokenizer.json of the tokenizer in `file`'s metadata. Errors name the file and the key.
nlohmann::json gguf_tokenizer_json(const io::GgufFile& file);

// Sets tokenizer.ggml.* on `out` from a tokenizer.json (or a folder holding one). Tokenizers
// whose pipeline has no llama.cpp counterpart are refused, naming the part.
void gguf_tokenizer_metadata(const std::string& tokenizer_path, io::GgufWriter& out);

}  // namespace retain::tok
