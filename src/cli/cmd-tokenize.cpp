// retain tokenize TOKENIZER --text TEXT [--no-special]: prints the token ids of TEXT as a JSON array.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "tok/tokenizer.h"

namespace retain::cli {

Command add_tokenize(CLI::App& app) {
  struct Options {
    std::string tokenizer, text;
    bool no_special = false;
  };
  auto options = std::make_shared<Options>();
  auto* sub = app.add_subcommand("tokenize", "print the token ids of a text as a JSON array");
  sub->add_option("TOKENIZER", options->tokenizer,
                  "a tokenizer.json, a folder holding one, or a GPT-2 encoder.json with vocab.bpe beside it")
      ->required();
  sub->add_option("--text", options->text, "the text to encode")->required();
  sub->add_flag("--no-special", options->no_special,
                "leave out the special tokens the tokenizer's post-processor adds (e.g. Llama-2's <s>)");
  return {sub, [options] {
            auto tokenizer = tok::Tokenizer::load(options->tokenizer);
            std::string out = "[";
            for (int32_t id : tokenizer->encode(options->text, !options->no_special)) {
              if (out.size() > 1) out += ", ";
              out += std::to_string(id);
            }
            std::printf("%s]\n", out.c_str());
            return 0;
          }};
}

}  // namespace retain::cli
