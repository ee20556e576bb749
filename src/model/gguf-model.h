// gguf-model.h - Llama-family models from GGUF files and back. A GGUF file is read as the
// Hugging Face folder it stands for: config.json from the metadata, Hugging Face parameter names,
// float32 weights (dequantized, so a Q4 file *is* the starting model), llama.cpp's row
// permutation of the Q and K weights undone for the `llama` architecture. Architectures:
// general.architecture llama (also Mistral files), qwen2, qwen3.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

#include "io/gguf.h"
#include "io/hf-config.h"
#include "io/safetensors.h"
#include "model/checkpoint.h"

namespace retain::model {

// The config.json a Hugging Face folder of this model would have.
io::HfConfig gguf_config(const io::GgufFile& file);

// Every tensor as float32 under its Hugging Face name, dequantized on all cores.
io::TensorMap gguf_tensors(const io::GgufFile& file, const io::HfConfig& config);

// Opens `path` (a .gguf file) and builds the model; its source() is the file.
std::shared_ptr<Model> gguf_model_load(const std::string& path, const LoadOptions& options = {});

struct GgufSaveOptions {
  io::GgmlType type = io::GgmlType::F32;  // matrices; 1-D tensors stay F32 as llama.cpp keeps them
  // Where the tokenizer and other metadata come from: a .gguf (its metadata is carried over) or a
  // folder / file with tokenizer.json. Empty: the model's source.
  std::string tokenizer_source;
};

// Writes `model` (llama, mistral, qwen2, qwen3) as a GGUF file llama.cpp loads.
void gguf_model_save(Model& model, const std::string& path, const GgufSaveOptions& options = {});

}  // namespace retain::model
