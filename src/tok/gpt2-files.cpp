// gpt2-files.cpp - builds a byte-level BPE tokenizer (ByteLevel pre-tokenizer with the GPT-2
// regex, ByteLevel decoder) from encoder.json + vocab.bpe.
#include "tok/gpt2-files.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>

#include "error.h"
#include "tok/added-tokens.h"
#include "tok/bpe-model.h"
#include "tok/decoders.h"
#include "tok/json-node.h"
#include "tok/pre-tokenizers.h"

namespace retain::tok {

TokenizerParts gpt2_files_parts(const std::string& encoder_path, const std::string& merges_path) {
  BpeConfig config;
  config.byte_level = true;

  const nlohmann::json encoder = json_file_parse(encoder_path);
  if (!encoder.is_object()) fail("tokenizer", encoder_path, ": expected an object of token: id");
  config.vocab.reserve(encoder.size());
  for (auto it = encoder.begin(); it != encoder.end(); ++it) {
    if (!it.value().is_number_integer()) {
      fail("tokenizer", encoder_path, ": token '", it.key(), "' has an id that is not an integer");
    }
    int64_t id = it.value().get<int64_t>();
    if (id < 0 || id > INT32_MAX) fail("tokenizer", encoder_path, ": token '", it.key(), "' has id ", id);
    config.vocab.emplace_back(it.key(), static_cast<int32_t>(id));
  }

  std::ifstream in(merges_path, std::ios::binary);
  if (!in) {
    fail("tokenizer", merges_path, ": cannot open (", std::strerror(errno), "); a GPT-2 ", encoder_path,
         " needs its merges there");
  }
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (number == 1 && line.rfind("#version", 0) == 0)) continue;
    size_t space = line.find(' ');
    if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
      fail("tokenizer", merges_path, ": line ", number, ": expected \"left right\", found \"", line, "\"");
    }
    config.merges.emplace_back(line.substr(0, space), line.substr(space + 1));
  }

  TokenizerParts parts;
  parts.path = encoder_path;
  parts.pre_tokenizer = byte_level_pre_tokenizer(/*add_prefix_space=*/false, /*use_regex=*/true, /*javascript=*/true);
  parts.model = std::make_unique<BpeModel>(std::move(config), merges_path);
  parts.added = std::make_unique<AddedTokens>(std::vector<AddedToken>{}, nullptr);
  parts.decoder = byte_level_decoder();
  return parts;
}

}  // namespace retain::tok
