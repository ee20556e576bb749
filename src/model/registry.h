// registry.h - architectures by config.json "model_type".
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "io/hf-config.h"
#include "model/model.h"

namespace retain::model {

// A model with every size taken from `config`, its parameters allocated with `options` (values
// are placeholders until a checkpoint is loaded). Unknown model types are refused by name.
std::shared_ptr<Model> model_create(const io::HfConfig& config, const torch::TensorOptions& options);

std::vector<std::string> supported_model_types();

}  // namespace retain::model
