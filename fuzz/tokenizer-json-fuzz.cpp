// tokenizer-json-fuzz.cpp - libFuzzer target for tokenizer.json: any bytes must load as a tokenizer
// or throw retain::Error. A tokenizer that loads must encode text (a fixed sentence, and the input
// itself when it is UTF-8) and decode its ids without another exception, a crash or an ASan/UBSan
// report.
#include <cstddef>
#include <cstdint>
#include <string>

#include "error.h"
#include "fuzz-file.h"
#include "tok/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto tokenizer = retain::tok::Tokenizer::load(retain::fuzz::fuzz_file(data, size, "tokenizer.json"));
    for (const std::string text : {std::string("Hello world, it's  2026!\n\tcafé 日本 <s></s>"),
                                   std::string(reinterpret_cast<const char*>(data), size < 256 ? size : 256)}) {
      for (bool special : {true, false}) {
        const auto ids = tokenizer->encode(text, special);
        tokenizer->decode(ids, special);
      }
    }
  } catch (const retain::Error&) {
  }
  return 0;
}
