// safetensors.h - load and save .safetensors files and Hugging Face checkpoint folders as libtorch
// tensors. Loading maps the file copy-on-write and returns zero-copy CPU views where the data is
// aligned to its element size (a copy otherwise); writing to a loaded tensor changes this
// process's pages, never the file. The mapping lives as long as any tensor viewing it.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>

namespace retain::io {

using TensorMap = std::map<std::string, torch::Tensor>;

struct SafetensorsFile {
  TensorMap tensors;
  std::map<std::string, std::string> metadata;
};

SafetensorsFile safetensors_load(const std::string& path);

// Writes atomically (path.tmp, fsync, rename); tensors may be non-contiguous or on a GPU. Tensor
// order in the file is the Rust `safetensors` writer's: larger dtypes first, then by name; so
// loading a file written by Hugging Face and saving it back with its metadata gives identical
// bytes. Empty metadata writes no "__metadata__" (as Python's save_file(metadata=None) does).
void safetensors_save(const std::string& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// A Hugging Face model folder: model.safetensors, or else the shards listed by
// model.safetensors.index.json ("weight_map": tensor -> shard file), each loaded once.
TensorMap checkpoint_load(const std::string& model_dir);

// Writes model.safetensors, or shards model-00001-of-0000N.safetensors of at most
// `max_shard_bytes` (a larger tensor gets a shard of its own) with model.safetensors.index.json,
// split as transformers' save_pretrained does. Removes the files of an earlier save that the new
// layout does not use, so a stale index or shard cannot shadow the new weights.
void checkpoint_save(const std::string& model_dir, const TensorMap& tensors,
                     uint64_t max_shard_bytes = 5'000'000'000);  // transformers' "5GB"

}  // namespace retain::io
