// t5.h - T5ForConditionalGeneration: relative position buckets, RMS layer norms, relu (original T5)
// or gated-gelu (T5 v1.1) feed-forward, tied embeddings rescaled by d_model^-0.5.
#pragma once

#include <torch/torch.h>

#include <memory>

#include "io/hf-config.h"
#include "model/model.h"

namespace retain::model {

std::shared_ptr<Model> t5_create(const io::HfConfig& config, const torch::TensorOptions& options);

// HF's T5Attention._relative_position_bucket, for tests and for the bias.
torch::Tensor t5_relative_position_bucket(const torch::Tensor& relative_position, bool bidirectional,
                                          int64_t num_buckets, int64_t max_distance);

}  // namespace retain::model
