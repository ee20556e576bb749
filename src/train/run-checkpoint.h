// run-checkpoint.h - everything a run needs to continue after being killed at any moment
// (docs/design.md §5): where it is in the stream, the model, the optimizer, the method's state and the
// results so far. Written as RUN/checkpoint/ (safetensors + state.json) through a temporary folder
// and renames, so a crash leaves the previous checkpoint or the new one.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "eval/run-result.h"
#include "io/safetensors.h"
#include "method/method.h"

namespace retain::train {

struct RunCheckpoint {
  int64_t stage = 0;        // the training stage (task) in progress; == number of stages when finished
  int64_t step = 0;         // optimizer steps done in that stage
  io::TensorMap model;      // model_state (HF names)
  io::TensorMap optimizer;  // AdamW::state()
  method::MethodState method;
  io::TensorMap head;       // PrototypeHead::state() of a prototype head (empty otherwise)
  eval::RunResult results;  // the rows of R so far, timings, memory (matrix.json's content)
};

void run_checkpoint_write(const std::string& run_dir, const RunCheckpoint& checkpoint);
// The newest complete checkpoint of `run_dir`, or nothing when the run has none.
std::optional<RunCheckpoint> run_checkpoint_read(const std::string& run_dir);
// Whether `run_dir` has a checkpoint folder (what run_checkpoint_read would read), without reading it.
bool run_checkpoint_exists(const std::string& run_dir);

}  // namespace retain::train
