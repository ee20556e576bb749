// vit.h - ViTForImageClassification: patch embedding, [CLS] token, pre-norm encoder, linear head.
#pragma once

#include <torch/torch.h>

#include <memory>

#include "io/hf-config.h"
#include "model/model.h"

namespace retain::model {

std::shared_ptr<Model> vit_create(const io::HfConfig& config, const torch::TensorOptions& options);

}  // namespace retain::model
