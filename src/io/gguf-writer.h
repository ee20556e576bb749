// gguf-writer.h - write GGUF v3 files, with no libtorch. Metadata keeps the order it was set in;
// tensors are laid out in the order added, each at a multiple of the alignment, and their bytes
// are produced one tensor at a time while writing, so a model larger than memory twice over can
// be written. The file appears atomically (path.tmp, fsync, rename).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "io/gguf.h"

namespace retain::io {

GgufValue gguf_string(std::string value);
GgufValue gguf_u32(uint32_t value);
GgufValue gguf_i32(int32_t value);
GgufValue gguf_f32(float value);
GgufValue gguf_bool(bool value);
GgufValue gguf_string_array(const std::vector<std::string>& values);
GgufValue gguf_i32_array(const std::vector<int64_t>& values);
GgufValue gguf_f32_array(const std::vector<double>& values);

class GgufWriter {
 public:
  // Fills exactly the tensor's byte size at `dst`.
  using Fill = std::function<void(uint8_t* dst)>;

  explicit GgufWriter(uint32_t alignment = 32);

  // Sets (or replaces, keeping its place) a metadata value. general.alignment is written from
  // the constructor's value when it is not the default.
  void set(const std::string& key, GgufValue value);
  void remove(const std::string& key);
  bool has(const std::string& key) const;

  // `ne` fastest-moving first (a PyTorch [rows, cols] weight: {cols, rows}).
  void add_tensor(const std::string& name, std::vector<uint64_t> ne, GgmlType type, Fill fill);

  void write(const std::string& path) const;

 private:
  uint32_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  struct Tensor {
    GgufTensorInfo info;
    Fill fill;
  };
  std::vector<Tensor> tensors_;
};

}  // namespace retain::io
