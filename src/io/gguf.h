// gguf.h - read GGUF files (llama.cpp's model format), with no libtorch.
//
// Layout (little-endian; docs/gguf.md has the details):
//   "GGUF" u32 version (2 or 3) u64 tensor_count u64 metadata_count
//   metadata_count x { string key, u32 value_type, value }
//   tensor_count   x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset }
//   padding to general.alignment (default 32), then the tensor data; tensor i starts at
//   data_start + offset_i.
// A string is a u64 length and that many bytes. ne[0] is the fastest-moving dimension, so a
// PyTorch [rows, cols] weight has ne = [cols, rows].
//
// The file is mapped read-only; every count, length, offset and size is checked against the file
// before it is used, and a defect is a retain::Error naming the file and the thing:
//   [gguf] model.gguf: tensor 'blk.3.attn_q.weight' ends at byte 9123 of the data, past its 8000 bytes
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace retain::io {

// ggml's tensor types, with their numbers in the file.
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
};

struct GgmlTypeInfo {
  GgmlType type;
  const char* name;     // "Q4_K"
  uint32_t block_size;  // elements per block
  uint32_t type_size;   // bytes per block
};

// The layout of a known type id; nullptr for an id ggml does not define.
const GgmlTypeInfo* ggml_type_info(uint32_t id);
const GgmlTypeInfo& ggml_type_info(GgmlType type);
// "Q4_K"; or "type 99" for an unknown id.
std::string ggml_type_name(uint32_t id);
// A name as written by users ("q4_k", "Q4_K", "f32"); nullopt when it names no type.
std::optional<GgmlType> ggml_type_from_name(const std::string& name);

// Metadata value types, with their numbers in the file.
enum class GgufValueType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};
const char* gguf_value_type_name(GgufValueType type);

// One metadata value. Integers keep their type and are read back through as_int, which refuses
// values that do not fit; arrays hold their elements (which may be arrays themselves).
struct GgufValue {
  GgufValueType type = GgufValueType::U8;
  uint64_t u = 0;                                  // U8 U16 U32 U64 BOOL
  int64_t i = 0;                                   // I8 I16 I32 I64
  double f = 0;                                    // F32 F64
  std::string s;                                   // STRING
  GgufValueType element_type = GgufValueType::U8;  // ARRAY
  std::vector<GgufValue> array;                    // ARRAY

  bool is_integer() const;
  bool is_float() const { return type == GgufValueType::F32 || type == GgufValueType::F64; }
};

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> ne;  // ne[0] fastest-moving
  GgmlType type;
  uint64_t offset;  // from the start of the data section
  uint64_t bytes;   // what the shape and type take
  uint64_t elements() const;
  // The PyTorch shape: ne reversed.
  std::vector<int64_t> shape() const;
};

class GgufFile {
 public:
  // Maps and parses `path`; throws retain::Error naming the file for anything malformed.
  static std::shared_ptr<GgufFile> open(const std::string& path);
  // Parses a file held in memory (tests, the fuzz target); `bytes` must outlive the result.
  static std::shared_ptr<GgufFile> parse(const uint8_t* bytes, size_t size, const std::string& path);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  // Metadata in file order (keys are unique).
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }

  const GgufValue* find(const std::string& key) const;
  bool has(const std::string& key) const { return find(key) != nullptr; }
  // Typed reads: a missing key (for the forms without a fallback) or a value of another type is
  // an error naming the file and the key. Integers of any width are accepted where they fit.
  int64_t get_int(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_float(const std::string& key) const;  // F32, F64 (or an integer)
  double get_float(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  std::vector<std::string> get_string_array(const std::string& key) const;
  std::vector<int64_t> get_int_array(const std::string& key) const;
  std::vector<double> get_float_array(const std::string& key) const;

  const GgufTensorInfo* find_tensor(const std::string& name) const;
  // The tensor's bytes inside the mapping (valid as long as this file).
  const uint8_t* tensor_data(const GgufTensorInfo& tensor) const { return data_ + data_start_ + tensor.offset; }
  uint64_t data_start() const { return data_start_; }

  // Throws "[gguf] <path>: <parts>".
  template <typename... Parts>
  [[noreturn]] void fail(const Parts&... parts) const;

 private:
  GgufFile() = default;
  void parse_all();

  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  uint64_t data_start_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::map<std::string, size_t> metadata_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

// A path that names a GGUF model: a file ending in .gguf, or a folder with no config.json that
// holds exactly one .gguf file. Returns the file, or "" when `path` is not one.
std::string gguf_model_file(const std::string& path);

}  // namespace retain::io

#include "error.h"

template <typename... Parts>
[[noreturn]] void retain::io::GgufFile::fail(const Parts&... parts) const {
  retain::fail("gguf", path_, ": ", parts...);
}
