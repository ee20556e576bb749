// retain run STREAM.toml [--set key=value]... | retain run --resume RUN_DIR: a continual-learning run
// (src/train/trainer.h); when it finishes, one line on stdout with its metrics and where the report is.
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "config/stream-config.h"
#include "dist/comm.h"
#include "error.h"
#include "eval/metrics.h"
#include "eval/run-result.h"
#include "train/trainer.h"

namespace retain::cli {

namespace {

struct Options {
  std::string stream, resume;
  std::vector<std::string> overrides;
  bool force = false;
};

std::string number_or_dash(const std::optional<double>& value) {
  if (!value) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", *value);
  return text;
}

// "runs/x: 4 tasks, AA 41.20, BWT -3.10, FWT 0.50, forgetting 4.00; report runs/x/report.md".
std::string summary_line(const eval::RunResult& result, const std::string& dir) {
  const auto metrics = eval::metrics_compute(result);
  std::string line = dir + ": " + std::to_string(metrics.completed_tasks) + " tasks, AA " +
                     number_or_dash(metrics.average_accuracy) + ", BWT " + number_or_dash(metrics.bwt) + ", FWT " +
                     number_or_dash(metrics.fwt) + ", forgetting " + number_or_dash(metrics.forgetting);
  if (metrics.class_incremental) line += ", last accuracy " + number_or_dash(metrics.last_accuracy);
  if (metrics.perplexity_drift) line += ", general-text perplexity drift " + number_or_dash(metrics.perplexity_drift);
  return line + "; report " + (std::filesystem::path(dir) / "report.md").string();
}

}  // namespace

Command add_run(CLI::App& app) {
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("run", "train a stream of tasks with a method and score every task after each one");
  cmd->add_option("stream", options->stream, "stream file (TOML: [run] [model] [method] [train] [[task]] [eval])");
  cmd->add_option("--set", options->overrides, "override a key of the stream file, e.g. --set train.lr=3e-4")
      ->type_name("KEY=VALUE");
  cmd->add_option("--resume", options->resume, "continue the run in RUN_DIR from its last checkpoint")
      ->type_name("RUN_DIR");
  cmd->add_flag("--force", options->force, "start over in a run folder that already has files");
  return {cmd, [options]() {
            namespace fs = std::filesystem;
            train::RunOptions run;
            config::StreamConfig config;
            if (!options->resume.empty()) {
              if (!options->stream.empty()) fail("cli", "give either a stream file or --resume RUN_DIR, not both");
              const auto path = (fs::path(options->resume) / "config.toml").string();
              if (!fs::exists(path)) fail("run", options->resume, ": not a run folder (it has no config.toml)");
              config = config::stream_config_load(path, options->overrides);
              // The run folder is where it is now, whatever the config says it was.
              const auto dir = fs::absolute(options->resume).lexically_normal();
              config.run.out = dir.parent_path().string();
              config.run.name = dir.filename().string();
              run.resume = true;
            } else {
              if (options->stream.empty()) fail("cli", "run needs a stream file or --resume RUN_DIR");
              config = config::stream_config_load(options->stream, options->overrides);
              run.force = options->force;
            }
            const auto dir = train::run_stream(config, run);
            if (dist::launch_env().rank == 0) {  // data-parallel ranks: the line once
              const auto result = eval::run_result_read((fs::path(dir) / eval::kMatrixFile).string());
              std::printf("%s\n", summary_line(result, dir).c_str());
            }
            return 0;
          }};
}

}  // namespace retain::cli
