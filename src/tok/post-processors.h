// post-processors.h - tokenizer.json "post_processor": what encode(add_special_tokens = true)
// puts around the ids of one text (Llama-2's BOS). Implemented: TemplateProcessing, ByteLevel
// (which only trims offsets, so adds nothing), BertProcessing and RobertaProcessing (CLS ... SEP),
// Sequence; any other type is refused when the file is loaded. Only single texts are encoded, so
// the "pair" templates are not read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "tok/json-node.h"

namespace retain::tok {

class PostProcessor {
 public:
  PostProcessor(std::vector<int32_t> before, std::vector<int32_t> after)
      : before_(std::move(before)), after_(std::move(after)) {}

  // Wraps the ids from index `first` on (one text's) in the special tokens.
  void add_special_tokens(std::vector<int32_t>& ids, size_t first) const {
    ids.insert(ids.begin() + static_cast<std::ptrdiff_t>(first), before_.begin(), before_.end());
    ids.insert(ids.end(), after_.begin(), after_.end());
  }

 private:
  std::vector<int32_t> before_;  // ids put before the text's
  std::vector<int32_t> after_;   // and after
};

// `node` is the "post_processor" object (not null).
std::unique_ptr<PostProcessor> post_processor_from_json(const JsonNode& node);

}  // namespace retain::tok
