// retain report RUN_DIR: re-reads RUN_DIR/matrix.json, recomputes the metrics, rewrites matrix.json,
// report.md and report.svg, and prints the Markdown report.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "eval/report.h"
#include "eval/run-result.h"

namespace retain::cli {

Command add_report(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  auto* sub = app.add_subcommand("report", "recompute a run's metrics and re-render report.md and report.svg");
  sub->add_option("RUN_DIR", *dir, "a run folder holding matrix.json")->required();
  return {sub, [dir] {
            auto result = eval::run_result_read((std::filesystem::path(*dir) / eval::kMatrixFile).string());
            eval::report_write(result, *dir);
            std::fputs(eval::report_markdown(result, eval::run_name(result, *dir)).c_str(), stdout);
            return 0;
          }};
}

}  // namespace retain::cli
