// retain bench tokenize TOKENIZER --file TEXT_FILE [--seconds N]: encoding speed on one thread,
// in MB/s and tokens/s. Each line of the file is encoded as one text (scripts/bench-text.sh writes
// a few MB of the King James Bible, a verse per line). The first pass runs with an empty word
// cache; later passes until N seconds show the steady state of a long run over similar text.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "error.h"
#include "tok/tokenizer.h"
#include "tok/unicode.h"

namespace retain::cli {

namespace {

struct Pass {
  double seconds = 0;
  size_t bytes = 0, tokens = 0;
};

Pass encode_all(const tok::Tokenizer& tokenizer, const std::vector<std::string>& lines) {
  using clock = std::chrono::steady_clock;
  Pass pass;
  std::vector<int32_t> ids;
  const auto start = clock::now();
  for (const std::string& line : lines) {
    ids.clear();
    tokenizer.encode_into(line, false, ids);
    pass.tokens += ids.size();
    pass.bytes += line.size();
  }
  pass.seconds = std::chrono::duration<double>(clock::now() - start).count();
  return pass;
}

void report(const char* label, const Pass& pass, const std::string& note) {
  std::printf("%-10s %7.1f MB/s  %6.2f M tokens/s  %s\n", label, pass.bytes / pass.seconds / 1e6,
              pass.tokens / pass.seconds / 1e6, note.c_str());
}

int bench_tokenize(const std::string& tokenizer_path, const std::string& file, double seconds) {
  using clock = std::chrono::steady_clock;
  const auto load_start = clock::now();
  auto tokenizer = tok::Tokenizer::load(tokenizer_path);
  const double load_seconds = std::chrono::duration<double>(clock::now() - load_start).count();

  std::ifstream in(file, std::ios::binary);
  if (!in) fail("bench", file, ": cannot open the text file");
  std::vector<std::string> lines;
  size_t bytes = 0;
  for (std::string line; std::getline(in, line);) {
    if (const auto bad = tok::utf8_invalid_at(line); bad != std::string::npos) {
      fail("bench", file, ":", lines.size() + 1, ": the text is not UTF-8 at byte ", bad, " of the line");
    }
    bytes += line.size();
    lines.push_back(std::move(line));
  }
  if (bytes == 0) fail("bench", file, ": the text file is empty");

  std::printf("tokenizer  %s (%lld ids, loaded in %.2f s)\n", tokenizer_path.c_str(),
              static_cast<long long>(tokenizer->vocab_size()), load_seconds);
  const Pass first = encode_all(*tokenizer, lines);
  std::printf("text       %s: %zu lines, %.2f MB, %zu tokens (%.2f bytes/token)\n", file.c_str(), lines.size(),
              bytes / 1e6, first.tokens, static_cast<double>(bytes) / first.tokens);
  report("first pass", first, "(empty word cache)");

  Pass steady;
  int passes = 0;
  while (steady.seconds < seconds) {
    const Pass pass = encode_all(*tokenizer, lines);
    steady.seconds += pass.seconds;
    steady.bytes += pass.bytes;
    steady.tokens += pass.tokens;
    ++passes;
  }
  report("steady", steady, "(" + std::to_string(passes) + " more passes, one thread)");
  return 0;
}

}  // namespace

Command add_bench(CLI::App& app) {
  struct Options {
    std::string tokenizer, file;
    double seconds = 3;
  };
  auto options = std::make_shared<Options>();
  auto* bench = app.add_subcommand("bench", "measure the speed of a part of retain");
  bench->require_subcommand(1);
  auto* tokenize = bench->add_subcommand("tokenize", "encoding speed of a tokenizer on one thread (MB/s, tokens/s)");
  tokenize
      ->add_option("TOKENIZER", options->tokenizer,
                   "a tokenizer.json, a folder holding one, or a GPT-2 encoder.json with vocab.bpe beside it")
      ->required();
  tokenize
      ->add_option("--file", options->file,
                   "UTF-8 text, one document per line (scripts/bench-text.sh FILE writes a few MB of it)")
      ->required();
  tokenize->add_option("--seconds", options->seconds, "how long to run after the first pass")
      ->check(number_at_least(0));
  std::function<int()> methods;
  add_bench_methods(*bench, methods);
  return {bench, [options, tokenize, methods] {
            if (tokenize->parsed()) return bench_tokenize(options->tokenizer, options->file, options->seconds);
            return methods();
          }};
}

}  // namespace retain::cli
