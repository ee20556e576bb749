// run-outputs.h - [model] save: what a finished run leaves besides its report. "full": RUN/model/,
// a Hugging Face folder with any adapters folded in; "gguf": RUN/model.gguf, the same as one file
// llama.cpp loads; "adapters": RUN/adapters/<name>/, one PEFT folder per adapter; "none": nothing.
#pragma once

#include <string>

#include "config/stream-config.h"
#include "method/method.h"
#include "model/model.h"

namespace retain::train {

// Before anything is trained: fails when `config`'s save cannot be written for this model and method.
void run_outputs_check(const config::StreamConfig& config, model::Model& model, const method::Method& method);

// Writes the outputs into `run_dir`; a folder appears whole, replacing any earlier one in one step.
void run_outputs_write(const config::StreamConfig& config, model::Model& model, const std::string& run_dir);

}  // namespace retain::train
