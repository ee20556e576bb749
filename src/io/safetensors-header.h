// safetensors-header.h - parse and validate the header of a .safetensors file, with no libtorch,
// so the fuzz target and the tools that only list tensors stay small.
//
// Layout: 8-byte little-endian u64 N, N bytes of UTF-8 JSON
//   {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}
// then the data buffer; offsets are relative to its start (byte 8 + N). The rules are the Rust
// `safetensors` crate's: N at most 100 MB, the tensors cover the data buffer exactly (no gaps, no
// overlaps, nothing after the last one), each spans shape x dtype size bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace retain::io {

// In the Rust crate's enum order: its writer puts tensors of later dtypes first.
enum class Dtype { BOOL, U8, I8, I16, F16, BF16, I32, F32, F64, I64 };

size_t dtype_size(Dtype dtype);
const char* dtype_name(Dtype dtype);  // "F32", "BF16", ...

struct TensorEntry {
  std::string name;
  Dtype dtype;
  std::vector<int64_t> shape;
  uint64_t begin;  // byte offsets into the data buffer, [begin, end)
  uint64_t end;
};

struct SafetensorsHeader {
  std::vector<TensorEntry> tensors;             // in data-offset order
  std::map<std::string, std::string> metadata;  // "__metadata__"
  uint64_t data_start = 0;                      // 8 + N: where the data buffer starts in the file
};

// Parses the header of a file of `size` bytes; `data` holds the whole file, or at least its
// first 8 + N bytes. Everything is checked against `size`; on any defect throws retain::Error
// naming `file` and, where there is one, the tensor:
//   [safetensors] model.safetensors: tensor 'lm_head.weight' ends at byte 9123 of the data, past its 8000 bytes
SafetensorsHeader safetensors_header_parse(const uint8_t* data, size_t size, const std::string& file);

// The header bytes (8-byte length + JSON padded with spaces to a multiple of 8) for `tensors`,
// whose begin/end must already be laid out; metadata first (left out when empty), then tensors
// in the given order, compact JSON exactly as the Rust `safetensors` writer produces it.
// Throws retain::Error for a name listed twice or named "__metadata__", or text that is not UTF-8.
std::string safetensors_header_build(const std::vector<TensorEntry>& tensors,
                                     const std::map<std::string, std::string>& metadata);

}  // namespace retain::io
