// gpt2.h - GPT2LMHeadModel: Conv1D projections stored [in, out], learned positions, gelu_new.
#pragma once

#include <torch/torch.h>

#include <memory>

#include "io/hf-config.h"
#include "model/model.h"

namespace retain::model {

std::shared_ptr<Model> gpt2_create(const io::HfConfig& config, const torch::TensorOptions& options);

}  // namespace retain::model
