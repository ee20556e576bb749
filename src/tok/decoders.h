// decoders.h - tokenizer.json "decoder": turns the token strings of an id sequence back into
// text. Implemented: ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence; any other
// type is refused when the file is loaded. Each works on the whole list of token strings, as
// tokenizers' decode_chain does, and the results are concatenated.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tok/json-node.h"

namespace retain::tok {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

std::unique_ptr<Decoder> byte_level_decoder();

// `node` is the "decoder" object (not null).
std::unique_ptr<Decoder> decoder_from_json(const JsonNode& node);

}  // namespace retain::tok
