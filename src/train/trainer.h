// trainer.h - one continual-learning run: every task of a stream trained in order with a method,
// every seen task scored after each one (the accuracy matrix R), checkpoints that make the run
// resumable after a kill at any moment, and the outputs of docs/design.md §6 in the run folder.
#pragma once

#include <string>

#include "config/stream-config.h"

namespace retain::train {

struct RunOptions {
  bool resume = false;  // continue RUN/checkpoint (the config is RUN/config.toml)
  bool force = false;   // start over in a run folder that already has files
};

// Runs the stream and returns the run folder. On resume, `config` must be the run's config.toml.
std::string run_stream(config::StreamConfig config, const RunOptions& options);

// The run folder a stream writes to: run.out/run.name.
std::string run_dir_of(const config::StreamConfig& config);

}  // namespace retain::train
