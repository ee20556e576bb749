// checkpoint.h - Hugging Face model folders in and out: config.json + safetensors (single or
// sharded), with every tensor checked against the architecture the config describes.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

#include "io/safetensors.h"
#include "model/model.h"

namespace retain::model {

struct LoadOptions {
  torch::ScalarType dtype = torch::kFloat;
  torch::Device device = torch::kCPU;
};

// Reads DIR/config.json, builds the architecture and loads the weights.
std::shared_ptr<Model> model_load(const std::string& dir, const LoadOptions& options = {});

// Checks that `tensors` (HF names) are the model's parameters: every one there with its exact shape,
// none the model does not have unless HF drops it too (tied copies, buffers). Reads no tensor data,
// so `model` may live on the meta device. `source` names the checkpoint in errors. Returns `tensors`
// under the model's own names (the base model's prefix added where the checkpoint lacks it).
io::TensorMap model_tensors_check(Model& model, const io::TensorMap& tensors, const std::string& source);

// Copies `tensors` into the model after model_tensors_check; a NaN or infinite value is an error.
void model_load_state(Model& model, const io::TensorMap& tensors, const std::string& source);

// The model's parameters under their HF names, as contiguous CPU tensors (tied weights once).
io::TensorMap model_state(Model& model);

// Writes a folder transformers' from_pretrained loads: config.json, the weights (sharded beyond
// 5 GB), and generation/tokenizer files copied from the folder the model came from.
void model_save(Model& model, const std::string& dir);

// Parameter count (tied weights counted once).
int64_t model_parameter_count(Model& model);

}  // namespace retain::model
