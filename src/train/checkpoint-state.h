// checkpoint-state.h - RUN/checkpoint/state.json: where a run is in its stream, the method's metadata
// and the results so far (the tensors sit beside it in safetensors files, run-checkpoint.h). Needs no
// libtorch, so the parser a user's (or a crash's) file reaches is fuzzed on its own (fuzz/).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "eval/run-result.h"

namespace retain::train {

struct CheckpointState {
  int64_t stage = 0;  // the training stage (task) in progress; == number of stages when finished
  int64_t step = 0;   // optimizer steps done in that stage
  nlohmann::json method = nlohmann::json::object();  // MethodState::meta
  eval::RunResult results;                           // the rows of R so far (matrix.json's content)
};

std::string checkpoint_state_to_json(const CheckpointState& state);
// Parses state.json's text; anything else than what checkpoint_state_to_json writes (another
// format, a missing or mistyped field) is a "[checkpoint] PATH: ..." error. Whether the stage and the
// step fit the run is the run's check (trainer.cpp).
CheckpointState checkpoint_state_parse(const std::string& text, const std::string& path);

}  // namespace retain::train
