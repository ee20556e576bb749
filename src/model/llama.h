// llama.h - the Llama family: llama (default, linear and llama3 rope), mistral (sliding window),
// qwen2 (q/k/v biases), qwen3 (per-head q/k RMSNorm, explicit head_dim); GQA; tied or untied head.
#pragma once

#include <torch/torch.h>

#include <memory>

#include "io/hf-config.h"
#include "model/model.h"

namespace retain::model {

std::shared_ptr<Model> llama_create(const io::HfConfig& config, const torch::TensorOptions& options);

}  // namespace retain::model
