// retain run STREAM.toml [--set key=value]... | retain run --resume RUN_DIR: a continual-learning run
// (src/train/trainer.h), and its report on stdout when it finishes.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "config/stream-config.h"
#include "dist/comm.h"
#include "error.h"
#include "train/trainer.h"

namespace retain::cli {

namespace {

struct Options {
  std::string stream, resume;
  std::vector<std::string> overrides;
  bool force = false;
};

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
            if (dist::launch_env().rank == 0) {  // data-parallel ranks: the report once
              std::ifstream report(fs::path(dir) / "report.md");
              std::cout << report.rdbuf();
            }
            return 0;
          }};
}

}  // namespace retain::cli
