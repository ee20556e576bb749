// retain compare RUN_DIR... [--by-seed] [--out FILE]: one Markdown table row per run (method, AA,
// BWT, FWT, forgetting, perplexity drift, time, memory), from each RUN_DIR/matrix.json; with
// --by-seed one row per group of runs named "<group>-seed<N>", as mean ± standard deviation.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "error.h"
#include "eval/report.h"
#include "eval/run-result.h"
#include "io/atomic-file.h"

namespace retain::cli {

Command add_compare(CLI::App& app) {
  struct Options {
    std::vector<std::string> dirs;
    std::string out;
    bool by_seed = false;
  };
  auto options = std::make_shared<Options>();
  auto* sub = app.add_subcommand("compare", "compare the metrics of several runs in one Markdown table");
  sub->add_option("RUN_DIR", options->dirs, "run folders holding matrix.json")->required();
  sub->add_option("--out", options->out, "also write the table to this file");
  sub->add_flag("--by-seed", options->by_seed,
                "one row per group of runs named <group>-seed<N>: mean ± sd over the seeds");
  return {sub, [options] {
            namespace fs = std::filesystem;
            // The table never replaces what it is made from.
            for (const auto& dir : options->dirs) {
              const auto input = fs::path(dir) / eval::kMatrixFile;
              if (!options->out.empty() && fs::weakly_canonical(options->out) == fs::weakly_canonical(input)) {
                fail("compare", options->out, ": --out names an input of the table (", input.string(),
                     "); write the table elsewhere");
              }
            }
            std::vector<std::pair<std::string, eval::RunResult>> runs;
            for (const auto& dir : options->dirs) {
              auto result = eval::run_result_read((std::filesystem::path(dir) / eval::kMatrixFile).string());
              runs.emplace_back(eval::run_name(result, dir), std::move(result));
            }
            const std::string table = options->by_seed ? eval::compare_table_by_seed(runs) : eval::compare_table(runs);
            std::fputs(table.c_str(), stdout);
            if (!options->out.empty()) io::write_file_atomic(options->out, table);
            return 0;
          }};
}

}  // namespace retain::cli
